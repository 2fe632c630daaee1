"""notebooks/bleu.ipynb runs top to bottom, and its BLEU (written out from the formula) agrees with sacrebleu, the
reference implementation, to 1e-6 on every example of the lab: each sentence and the corpus, without smoothing
and with add-one smoothing, BLEU, brevity penalty and the four precisions. sacrebleu is a test dependency only
(requirements-dev.txt); the check cell runs it in the lab's own kernel on the lab's own variables."""

import sacrebleu  # noqa: F401  (fails loudly here when requirements-dev.txt is not installed)

from tests.labs import lab_fixture, record_run

NAME = "bleu"

TOL = 1e-6

COMPARE = r'''
import sacrebleu as _sacrebleu
from sacrebleu.metrics import BLEU as _BLEU

_settings = {"none": (0, _BLEU(tokenize="none", smooth_method="none")),
             "add-one": (1, _BLEU(tokenize="none", smooth_method="add-k", smooth_value=1))}


def _theirs(score):
    return [score.score / 100, score.bp] + [p / 100 for p in score.precisions]


def _ours(result):
    return [result["bleu"], result["bp"]] + list(result["p"])


_out = {}
for _label, (_k, _metric) in _settings.items():
    for _key, (_cand, _refs) in examples.items():
        _out[f"{_label}/{_key}"] = {"ours": _ours(sentence_bleu(_cand, _refs, add_k=_k)),
                                   "theirs": _theirs(_metric.corpus_score([_cand], [[_r] for _r in _refs]))}
    _pairs = list(examples.values())
    _n_refs = max(len(_refs) for _, _refs in _pairs)
    _streams = [[_refs[j] if j < len(_refs) else None for _, _refs in _pairs] for j in range(_n_refs)]
    _out[f"{_label}/corpus"] = {"ours": _ours(corpus_bleu(_pairs, add_k=_k)),
                               "theirs": _theirs(_metric.corpus_score([_c for _c, _ in _pairs], _streams))}
report("comparisons", _out)
report("sacrebleu", _sacrebleu.__version__)

# the comparison has teeth: BLEU without clipped counts disagrees with sacrebleu on the repeated word
_cand, _refs = examples["repeat"]
_m, _t = zip(*(matches_and_total(_cand, _refs, n, clip=False) for n in range(1, N + 1)))
_c = len(_cand.split())
report("unclipped_repeat", [bleu_from(_m, _t, _c, closest_length(_c, _refs), add_k=1)["bleu"],
                            _settings["add-one"][1].corpus_score([_cand], [[_r] for _r in _refs]).score / 100])
'''


lab = lab_fixture(NAME, [COMPARE])


# One test reads the lab's reports (written before tests/labs.py shared one run between the xdist workers; kept:
# the checks are plain functions with their own messages).

def check_every_example_agrees_with_sacrebleu(reports):
    comparisons = reports["comparisons"]
    assert len(comparisons) == 2 * 6, sorted(comparisons)           # 5 sentences + the corpus, two smoothings
    bad = {key: pair for key, pair in comparisons.items()
           if len(pair["ours"]) != 6 or max(abs(a - b) for a, b in zip(pair["ours"], pair["theirs"])) > TOL}
    assert not bad, f"the lab and sacrebleu {reports['sacrebleu']} disagree (BLEU, BP, p1..p4): {bad}"


def check_the_comparison_is_not_trivial(reports):
    comparisons = reports["comparisons"]
    scores = {key: pair["theirs"][0] for key, pair in comparisons.items()}
    assert 0.1 < scores["none/good"] < 0.99 and 0.1 < scores["none/corpus"] < 0.99, scores
    assert scores["none/repeat"] == 0 < scores["add-one/repeat"], "smoothing should make the zero case comparable"
    assert scores["none/short"] < 0.2 and comparisons["none/short"]["theirs"][1] < 0.2, "the short candidate's BP"
    unclipped, theirs = reports["unclipped_repeat"]
    assert abs(unclipped - theirs) > 1e-3, "without clipping the lab would disagree with sacrebleu"


def test_lab_runs_and_agrees_with_sacrebleu(lab, record_property):
    reports = record_run(lab, record_property)
    print(f"sacrebleu {reports.get('sacrebleu')}")
    check_every_example_agrees_with_sacrebleu(reports)
    check_the_comparison_is_not_trivial(reports)

"""Hidden checks of assignment 4 (date_translation).

Every case draws fresh shapes, vocabularies and strings from the Generator it is given; the notebook's visible
cases are repeated (not hidden) so that the verdict agrees with what the student saw.

- preprocess_data: vocabularies whose <pad> and <unk> sit anywhere, strings shorter and longer than T_x, in
  upper case, with characters outside the vocabulary (and the empty string).
- one_step_attention: context, weights and the six-cache tuple on random shapes, with b2 drawn so that the relu
  is open for some energies and closed for others; one run on a time-permuted a, whose context must not change.
- one_step_attention_backward: values on reference caches (utils.nmt's attention step keeps the same six
  library caches), and centred differences against the student's own one_step_attention.
- model_forward builds on one_step_attention. Isolation rule (grading/checks.py): it passes when it matches the
  reference, or, when the student's one_step_attention is wrong on the same inputs, when every output step is
  consistent with it: the student's own one_step_attention, run on the student's a and previous s, followed by
  the library's LSTM step and output layer (recomputed here), gives the student's s, logits, Y_hat and alphas;
  the encoder's a must match the reference in any case.
- translate builds on model_forward: on the one-hot inputs its texts encode to (made here), its predictions must
  be the argmax of the student's own model_forward and its probabilities the product of the maxima.
  inv_machine_vocab travels as a list (plans carry dicts with string keys only): index -> character.
- exact_match: random date-like strings with exact matches, near misses and short predictions.

A dependent function whose building block raises (or is missing because its cell crashed) and that raises the
same error is charged to the block, except for the unanswered stub's NotImplementedError (a blank notebook
earns nothing).
"""
import numpy as np

from utils import activations, dates, nmt, recurrent, seq2seq, testing

from ..checks import Call, Ref, consistent_or_matching, gradient_compare, gradient_probe, randn, take
from ..spec import Case, mismatch

HUMAN_CHARS = "abcdefghijlmnoprstuvwy0123456789 ,./-"
FOREIGN = "é!#日q?"                      # never in the vocabularies below (q is left out of HUMAN_CHARS)
MACHINE_CHARS = "0123456789-"
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
ATTENTION_KEYS = ("W1", "b1", "W2", "b2")


def _error_text(value):
    """The exception of a call that raised ("f raised T: msg" -> "T: msg"), or None."""
    if isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], str):
        return value["error"].split(" raised ", 1)[1] if " raised " in value["error"] else value["error"]
    return None


def _charged_to_block(block_value, own_value, block_name):
    """[] when the block raised (not the stub's NotImplementedError) and the dependent function raised the same
    error or a NameError naming the missing block; else ["not comparable"]."""
    block_error, own_error = _error_text(block_value), _error_text(own_value)
    if block_error is None or own_error is None or "NotImplementedError" in block_error:
        return ["not comparable"]
    missing = "is not defined" in block_error and "NameError" in own_error and block_name in own_error
    return [] if missing or own_error == block_error else ["not comparable"]


# ------------------------------------------------------------------ preprocess_data

def _shuffled_vocab(rng, symbols):
    """dict symbol -> index with the indices in a random order."""
    return {s: int(i) for s, i in zip(symbols, rng.permutation(len(symbols)))}


def _random_text(rng, chars, length):
    pool = list(chars) + [c.upper() for c in chars if c.isalpha()] + list(FOREIGN)
    return "".join(pool[int(i)] for i in rng.integers(0, len(pool), size=length))


def _visible_preprocess():
    toy_human = {"<pad>": 0, " ": 1, "1": 2, "2": 3, "a": 4, "m": 5, "r": 6, "<unk>": 7}
    toy_machine = {"-": 0, "1": 1, "2": 2}
    return [("Mar 12", "2-1"), ("12 MAY!", "1-2"), ("aaaaaaaaa", "22-")], toy_human, toy_machine, 8, 3


OUT_PREPROCESS = {"X": (0,), "Y": (1,), "Xoh": (2,), "Yoh": (3,)}


def preprocess_data_values(rng):
    cases = [Case("toy vocabularies shown in the notebook",
                  [Call("preprocess_data", *_visible_preprocess(), out=OUT_PREPROCESS)], hidden=False)]
    for k in range(3):
        chars = "".join(sorted(rng.choice(list(HUMAN_CHARS), size=int(rng.integers(8, 20)), replace=False)))
        human = _shuffled_vocab(rng, list(chars) + ["<unk>", "<pad>"])
        machine_chars = [str(c) for c in rng.choice(list(MACHINE_CHARS), size=int(rng.integers(3, 12)), replace=False)]
        machine = _shuffled_vocab(rng, machine_chars)
        T_x, T_y, m = int(rng.integers(4, 13)), int(rng.integers(2, 7)), int(rng.integers(3, 7))
        lengths = [0, T_x + int(rng.integers(1, 5))] + [int(n) for n in rng.integers(1, T_x + 4, size=m - 2)]
        dataset = [(_random_text(rng, chars, n), "".join(rng.choice(machine_chars, size=T_y)))
                   for n in rng.permutation(lengths)]
        cases.append(Case(f"random vocabularies and strings #{k + 1}",
                          [Call("preprocess_data", dataset, human, machine, T_x, T_y, out=OUT_PREPROCESS)]))
    return cases


# ------------------------------------------------------------------ one_step_attention

def _visible_attention():
    """The notebook's seeded step (the backward's test draws dcontext after the same draws)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 2, 6))
    s = rng.standard_normal((3, 2))
    p = {"W1": rng.standard_normal((5, 7)), "b1": rng.standard_normal((5, 1)), "W2": rng.standard_normal((1, 5)),
         "b2": np.array([[0.5]])}
    return a, s, p, rng.standard_normal((4, 2))


def _attention_inputs(rng):
    n_a2, n_s, n_e = int(rng.integers(2, 7)), int(rng.integers(2, 6)), int(rng.integers(2, 6))
    m, T_x = int(rng.integers(1, 5)), int(rng.integers(3, 9))
    p = {"W1": randn(rng, n_e, n_s + n_a2), "b1": randn(rng, n_e, 1), "W2": randn(rng, 1, n_e),
         "b2": np.array([[rng.uniform(0.2, 1.2)]])}
    return randn(rng, n_a2, m, T_x), randn(rng, n_s, m), p


OUT_ATTENTION = {"context": (0,), "alphas": (1,), "cache": (2,)}


def _attention_compare(student, reference):
    """Every label must match; the feedback also says when the weights do not sum to 1 over time or when
    permuting the time steps of a changed the context."""
    failures = [m for m in (mismatch(k, student.get(k, {"error": "no result"}), reference[k]) for k in reference)
                if m]
    alphas = student.get("alphas")
    if isinstance(alphas, np.ndarray) and alphas.ndim == 3 and alphas.dtype.kind in "biuf" and \
            not testing.close(alphas.sum(axis=2), np.ones(alphas.shape[:2])):
        failures.append("alphas do not sum to 1 over time (axis 2): is the softmax over the time axis?")
    context, permuted = student.get("context"), student.get("context with the time steps of a permuted")
    if isinstance(context, np.ndarray) and isinstance(permuted, np.ndarray) and context.shape == permuted.shape \
            and context.dtype.kind in "biuf" and permuted.dtype.kind in "biuf" \
            and not testing.close(permuted, context):
        failures.append("permuting the time steps of a changed the context: each weight should follow its a<t'>")
    return failures


def one_step_attention_values(rng):
    a, s, p, _ = _visible_attention()
    cases = [Case("seeded step shown in the notebook", [Call("one_step_attention", a, s, p, out=OUT_ATTENTION)],
                  hidden=False)]
    for k in range(3):
        a, s, p = _attention_inputs(rng)
        cases.append(Case(f"random shapes #{k + 1}", [Call("one_step_attention", a, s, p, out=OUT_ATTENTION)],
                          compare=_attention_compare))
    a, s, p = _attention_inputs(rng)
    perm = rng.permutation(a.shape[2])
    cases.append(Case("the same step on a with its time steps permuted", [
        Call("one_step_attention", a, s, p, out={"context": (0,), "alphas": (1,)}),
        Call("one_step_attention", a[:, :, perm], s, p, out={"context with the time steps of a permuted": (0,)})],
        compare=_attention_compare))
    return cases


# ------------------------------------------------------------------ one_step_attention_backward

def _reference_cache(a, s, p):
    """The six library caches of the attention step, as one_step_attention must return them."""
    return nmt.attention_step_forward(a, s, p)[1]["parts"]


def one_step_attention_backward_values(rng):
    a, s, p, dcontext = _visible_attention()
    cases = [Case("seeded step shown in the notebook, on a reference cache", [
        Call("one_step_attention_backward", dcontext, _reference_cache(a, s, p), out={"gradients": ()})],
        hidden=False)]
    for k in range(2):
        a, s, p = _attention_inputs(rng)
        dcontext = randn(rng, a.shape[0], a.shape[1])
        cases.append(Case(f"values on a reference cache, random shapes #{k + 1}", [
            Call("one_step_attention_backward", dcontext, _reference_cache(a, s, p), out={"gradients": ()})]))
    for k in range(2):
        a, s, p = _attention_inputs(rng)
        G = randn(rng, a.shape[0], a.shape[1])
        arrays = {"a": a, "s_prev": s, **p}

        def build(arr):
            return arr["a"], arr["s_prev"], {name: arr[name] for name in ATTENTION_KEYS}

        def calls(G=G):
            return [Call("one_step_attention_backward", G, Ref("fw", 2), out={"grad": ()})]
        plan, picks = gradient_probe("one_step_attention", build, arrays, {"context": (0,)}, calls, rng)
        cases.append(Case(f"gradient check against your own one_step_attention, random shapes #{k + 1}", plan,
                          compare=gradient_compare(picks, {"context": G})))
    return cases


# ------------------------------------------------------------------ model_forward

def _scaled(params, factor):
    return {k: _scaled(v, factor) if isinstance(v, dict) else factor * v for k, v in params.items()}


def _visible_model():
    """The notebook's seeded model (same draws, same order)."""
    rng = np.random.default_rng(3)
    p = _scaled(seq2seq.initialize(5, rng, n_a=3, n_s=4, n_e=3, n_y=4), 2.0)
    p["attention"]["b2"][:] = 2.0
    X = np.eye(5)[rng.integers(0, 5, size=(2, 6))].transpose(2, 0, 1)
    return X, p, 3


def _random_model(rng):
    d = dict(n_h=int(rng.integers(4, 9)), n_a=int(rng.integers(2, 5)), n_s=int(rng.integers(3, 6)),
             n_e=int(rng.integers(2, 5)), n_y=int(rng.integers(3, 7)))
    p = _scaled(seq2seq.initialize(d["n_h"], rng, **{k: v for k, v in d.items() if k != "n_h"}),
                float(rng.uniform(1.5, 2.5)))
    # most energies above 0 (the relu open), so that the weights, and the steps, differ
    p["attention"]["b2"][:] = 0.5 + np.abs(p["attention"]["W2"]).sum() * rng.uniform(0.3, 0.8)
    return p, d


def _encoder_states(X, pre):
    """The bidirectional LSTM's states (2 n_a, m, T_x), forward states on top, step by step."""
    n_a, (_, m, T_x) = pre["fwd"]["Wf"].shape[0], X.shape
    out = np.zeros((2 * n_a, m, T_x))
    for k, (cell, steps) in enumerate(((pre["fwd"], range(T_x)), (pre["bwd"], range(T_x - 1, -1, -1)))):
        a = c = np.zeros((n_a, m))
        for t in steps:
            a, c, _ = recurrent.lstm_step_forward(X[:, :, t], a, c, cell)
            out[k * n_a:(k + 1) * n_a, :, t] = a
    return out


MODEL_LABELS = ["Y_hat", "alphas", 'cache["a"]', 'cache["s"]', 'cache["logits"]']


def _model_case(name, X, p, T_y, hidden=True):
    n_s, m, T_x = p["post"]["Wf"].shape[0], X.shape[1], X.shape[2]
    a_ref = _encoder_states(X, p["pre"])
    zeros = np.zeros((n_s, m))
    plan = [Call("model_forward", X, p, T_y=T_y, save="fw",
                 out={"Y_hat": (0,), "alphas": (1,), 'cache["a"]': (2, "a"), 'cache["s"]': (2, "s"),
                      'cache["logits"]': (2, "logits")}),
            Call("one_step_attention", a_ref, zeros, p["attention"],
                 out={"block context": (0,), "block alphas": (1,)})]
    for t in range(T_y):
        s_prev = zeros if t == 0 else Ref("fw", 2, "s", take(2, t - 1))
        plan.append(Call("one_step_attention", Ref("fw", 2, "a"), s_prev, p["attention"], student_only=True,
                         out={f"step {t} context": (0,), f"step {t} alphas": (1,)}))

    def rules(s):
        if _error_text(s.get("block context")) is not None:
            return _charged_to_block(s.get("block context"), s.get("Y_hat"), "one_step_attention")
        a, S, L, Y_hat, alphas = (np.asarray(s[k], dtype=np.float64) for k in
                                  ('cache["a"]', 'cache["s"]', 'cache["logits"]', "Y_hat", "alphas"))
        if not testing.close(a, a_ref):
            return ['cache["a"] is not the encoder\'s states']
        Wy, by = p["output"]["Wy"], p["output"]["by"]
        s_prev, c, bad = zeros, np.zeros_like(zeros), []
        for t in range(T_y):
            context = np.asarray(s[f"step {t} context"], dtype=np.float64)
            alpha = np.reshape(np.asarray(s[f"step {t} alphas"], dtype=np.float64), (m, T_x)).T
            s_t, c, _ = recurrent.lstm_step_forward(context, s_prev, c, p["post"])
            logits = Wy @ s_t + by
            for label, got, want in (("s", S[:, :, t], s_t), ("logits", L[:, :, t], logits),
                                     ("Y_hat", Y_hat[:, :, t], activations.softmax(logits, axis=0)),
                                     ("alphas", alphas[:, :, t], alpha)):
                if not testing.close(got, want):
                    bad.append(f"{label}[:, :, {t}]")
            s_prev = S[:, :, t]
        return bad

    steps = [[f"step {t} context", f"step {t} alphas"] for t in range(T_y)]
    return Case(name, plan, hidden=hidden,
                compare=consistent_or_matching(MODEL_LABELS, rules, ["block context", "block alphas"],
                                               block_groups=steps))


def model_forward_values(rng):
    cases = [_model_case("seeded model shown in the notebook", *_visible_model(), hidden=False)]
    for k in range(3):
        p, d = _random_model(rng)
        m, T_x, T_y = int(rng.integers(1, 4)), int(rng.integers(3, 8)), int(rng.integers(2, 5))
        X = np.eye(d["n_h"])[rng.integers(0, d["n_h"], size=(m, T_x))].transpose(2, 0, 1)
        cases.append(_model_case(f"random model and inputs #{k + 1}", X, p, T_y))
    return cases


# ------------------------------------------------------------------ translate

def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _date_text(rng):
    """A date written as people do (fresh for every grading), or something that is not a date."""
    y, mo, d = int(rng.integers(1900, 2100)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    name = MONTHS[mo - 1]
    forms = [f"{d} {name} {y}", f"{name[:3]} {d}, {y}", f"{mo}/{d}/{y}", f"{y}-{mo:02d}-{d:02d}",
             f"the {_ordinal(d)} of {name}, {y}", f"{name.upper()} {d} {y}", f"{d}-{name[:3]}-{y}",
             f"{y}/{mo}/{d}", "", "not a date at all", "9" * int(rng.integers(31, 60)), "日本 " + str(y)]
    return forms[int(rng.integers(0, len(forms)))]


def _encode(texts, human_vocab, T_x, dtype):
    X = np.full((len(texts), T_x), human_vocab["<pad>"], dtype=int)
    for i, text in enumerate(texts):
        for t, ch in enumerate(text.lower()[:T_x]):
            X[i, t] = human_vocab.get(ch, human_vocab["<unk>"])
    return np.eye(len(human_vocab), dtype=dtype)[X].transpose(2, 0, 1)


def _translate_case(name, texts, p, human_vocab, inv_list, T_x, T_y, hidden=True, explicit=True):
    dtype = p["output"]["Wy"].dtype
    lengths = {"T_x": T_x, "T_y": T_y} if explicit else {}
    plan = [Call("translate", texts, p, human_vocab, inv_list, **lengths,
                 out={"predictions": (0,), "probabilities": (1,)}),
            Call("model_forward", _encode(texts, human_vocab, T_x, dtype), p, T_y=T_y, out={"block Y_hat": (0,)})]

    def rules(s):
        block = s.get("block Y_hat")
        if _error_text(block) is not None:
            return _charged_to_block(block, s.get("predictions"), "model_forward")
        Y_hat = np.asarray(block, dtype=np.float64)
        want = ["".join(inv_list[int(k)] for k in row) for row in Y_hat.argmax(axis=0)]
        bad = [] if s.get("predictions") == want else ["predictions differ from your model_forward's argmax"]
        probs = s.get("probabilities")
        if not (isinstance(probs, np.ndarray) and testing.close(probs, Y_hat.max(axis=0).prod(axis=1))):
            bad.append("probabilities are not the products of your model_forward's largest probabilities")
        return bad
    return Case(name, plan, hidden=hidden,
                compare=consistent_or_matching(["predictions", "probabilities"], rules, ["block Y_hat"]))


def translate_values(rng):
    trained, human_vocab, inv = dates.load_model()
    inv_list = [inv[i] for i in range(len(inv))]
    visible = ["3rd of March 2001", "tue 12 jun 2001", "12.09.87", "SATURDAY, MAY 9, 2018", "9 May 2018 (a Saturday)"]
    cases = [_translate_case("the pretrained model on the notebook's examples", visible, trained, human_vocab,
                             inv_list, 30, 10, hidden=False, explicit=False)]
    trained64 = seq2seq.cast(trained, np.float64)
    texts = [_date_text(rng) for _ in range(int(rng.integers(5, 9)))]
    cases.append(_translate_case("the pretrained model on fresh dates and non-dates", texts, trained64, human_vocab,
                                 inv_list, 30, 10))
    for k in range(2):
        p, d = _random_model(rng)
        chars = [str(c) for c in rng.choice(list(HUMAN_CHARS), size=d["n_h"] - 2, replace=False)]
        vocab = _shuffled_vocab(rng, chars + ["<unk>", "<pad>"])
        inv_small = [str(c) for c in rng.choice(list(MACHINE_CHARS), size=d["n_y"], replace=False)]
        T_x, T_y = int(rng.integers(4, 10)), int(rng.integers(2, 5))
        texts = [_random_text(rng, "".join(chars), int(n)) for n in rng.integers(0, T_x + 4, size=int(rng.integers(2, 5)))]
        cases.append(_translate_case(f"a random model, vocabulary and lengths #{k + 1}", texts, p, vocab, inv_small,
                                     T_x, T_y))
    return cases


# ------------------------------------------------------------------ exact_match

def exact_match_values(rng):
    visible = (["2001-03-03", "2001-06-12", "1987-12-09", "2018-05-08"],
               ["2001-03-03", "2001-06-21", "1987-12-09", "2018-05-09"])
    out = {"overall": (0,), "per_position": (1,)}
    cases = [Case("the strings shown in the notebook", [Call("exact_match", *visible, out=out),
                                                          Call("exact_match", ["2001-03-0", "abc"],
                                                               ["2001-03-04", "2001-03-04"],
                                                               out={"overall (short predictions)": (0,),
                                                                    "per_position (short predictions)": (1,)})],
                  hidden=False)]
    for k in range(3):
        m, T_y = int(rng.integers(4, 10)), int(rng.integers(3, 11))
        targets = ["".join(rng.choice(list(MACHINE_CHARS), size=T_y)) for _ in range(m)]
        kinds = rng.permutation(["exact", "miss"] + list(rng.choice(["exact", "miss", "short"], size=m - 2)))
        predictions = []
        for target, kind in zip(targets, kinds):
            chars = list(target)
            if kind == "miss":
                for t in rng.choice(T_y, size=int(rng.integers(1, 3)), replace=False):
                    chars[t] = "x"
            elif kind == "short":
                chars = chars[:int(rng.integers(0, T_y))]
            predictions.append("".join(chars))
        cases.append(Case(f"random strings #{k + 1}", [Call("exact_match", predictions, targets, out=out)]))
    return cases


CHECKS = {
    "preprocess_data_values": preprocess_data_values,
    "one_step_attention_values": one_step_attention_values,
    "one_step_attention_backward_values": one_step_attention_backward_values,
    "model_forward_values": model_forward_values,
    "translate_values": translate_values,
    "exact_match_values": exact_match_values,
}

"""The date-translation data (data/dates/) and a command line that translates dates with the pretrained model.

    pairs = load_pairs("train")     # [(human, iso, family)], e.g. ("3rd of March 2001", "2001-03-03", "ordinal")
    human_vocab, machine_vocab, inv_machine_vocab = load_vocab()

    python -m utils.dates "3rd of March 2001" "tue 12 jun 2001"     # prints one YYYY-MM-DD per input

The files are written by data/dates/make_dates.py (see data/README.md for the formats and conventions:
numbers-only dates are month first, 3/4/01 = 2001-03-04; two-digit years 69-99 are 19xx, 00-68 are 20xx).
The vocabularies are dicts: human_vocab character -> index (the sorted lower-cased characters of the data,
then "<unk>" and "<pad>"), machine_vocab character -> index ("-" and the digits), inv_machine_vocab
index -> character. The command line needs utils/nmt.py (the model, which the assignment's release does not ship) and
data/dates/weights.npz; load_model needs only utils/seq2seq.py.
"""
import datetime
import json
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "dates"
WEIGHTS = DATA_DIR / "weights.npz"
MAX_INPUT = 30                      # the model reads at most T_x = 30 characters


def load_pairs(name="train", data_dir=DATA_DIR):
    """The examples of data/dates/<name>.tsv ("train" or "test", or a path to a .tsv file).

    Returns a list of (human, iso, family) string triples, in file order.
    """
    path = Path(name) if str(name).endswith(".tsv") else Path(data_dir) / f"{name}.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"no date file at '{path}' (make it with data/dates/make_dates.py)")
    rows = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise ValueError(f"{path}, line {number}: expected human<TAB>iso<TAB>family, got {line!r}")
            rows.append(tuple(parts))
    return rows


def load_vocab(data_dir=DATA_DIR):
    """(human_vocab, machine_vocab, inv_machine_vocab) from data/dates/vocab.json (module docstring)."""
    path = Path(data_dir) / "vocab.json"
    with open(path, encoding="utf-8") as f:
        vocab = json.load(f)
    human = {ch: i for i, ch in enumerate(vocab["human"])}
    machine = {ch: i for i, ch in enumerate(vocab["machine"])}
    return human, machine, {i: ch for ch, i in machine.items()}


def load_model(path=WEIGHTS, data_dir=DATA_DIR):
    """The pretrained parameters (float32, the layout of utils.nmt) and the vocabularies.

    Returns (params, human_vocab, inv_machine_vocab).
    """
    from utils import io, seq2seq
    human, _, inv_machine = load_vocab(data_dir)
    params = io.load_params(str(path))
    n_h = seq2seq.sizes(params)["n_h"]
    if n_h != len(human):
        raise ValueError(f"'{path}' was trained for {n_h} input symbols, vocab.json has {len(human)}")
    return params, human, inv_machine


def _check_text(text):
    """A note on an input the model cannot read well ('' when it is fine)."""
    if not text.strip():
        return "empty input"
    if len(text) > MAX_INPUT:
        return f"only the first {MAX_INPUT} of {len(text)} characters were read"
    return ""


def main(argv=None):
    """Translate each argument; print one line per input: the date, then a note in brackets when the input
    was empty, cut, or had characters outside the vocabulary (they were read as <unk>)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print('usage: python -m utils.dates "3rd of March 2001" "tue 12 jun 2001" ...\n'
              "prints the date the pretrained model reads in each input, as YYYY-MM-DD, one line per input")
        return 0 if argv else 2
    try:
        from utils import nmt
        params, human, inv_machine = load_model()
    except (ImportError, OSError, KeyError, ValueError) as err:
        print(f"error: cannot load the pretrained date model: {err}", file=sys.stderr)
        return 1
    texts = [str(t) for t in argv]
    predictions = nmt.translate_texts(texts, params, human, inv_machine)
    for text, iso in zip(texts, predictions):
        notes = [n for n in (_check_text(text),) if n]
        try:
            datetime.date.fromisoformat(iso)
        except ValueError:
            notes.append("not a valid date: the input does not read as one")
        unknown = sorted({ch for ch in text.lower() if ch not in human})
        if unknown:
            shown = (ch if ch.isascii() and ch.isprintable() else f"U+{ord(ch):04X}" for ch in unknown)
            notes.append("characters outside the vocabulary, read as <unk>: " + " ".join(shown))
        print(iso + (f"    ({'; '.join(notes)})" if notes else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

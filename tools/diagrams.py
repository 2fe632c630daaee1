"""Render the course's diagrams into the teacher notebooks, as PNG attachments of markdown cells.

    python -m tools.diagrams            # re-render the diagrams whose stamp is stale (or whose image is missing)
    python -m tools.diagrams --force    # re-render every diagram
    python -m tools.diagrams --check    # list the stale diagrams, exit 1 if there are any (nothing is written)

A diagram is a markdown cell of a notebook under source/ whose metadata holds

    "course_diagram": {"call": "unrolled_rnn(4)", "stamp": "<sha256>"}

and whose source shows one attachment, ``![what the drawing shows](attachment:unrolled_rnn.png)``. The call is a
function of utils/diagrams.py with literal arguments; the PNG it draws is stored in the cell's ``attachments``.
An attachment is part of the notebook itself, not an output: nbgrader keeps it in the release, Jupyter shows it
before anything has run, and nbconvert (so the grader's feedback HTML) embeds it as a data URI.

The stamp is the sha256 of utils/diagrams.py, the call and the rendering settings below: when any of them
changes the image is stale (tests/test_diagrams.py fails and says to run this command). The PNG bytes are not
compared, since they depend on the matplotlib version and the fonts of the machine that rendered them.

To add a diagram, add such a markdown cell (any stamp, e.g. "", and no attachment yet; a locked nbgrader cell
like its neighbours), with alt text that says what the drawing shows, and run this command. After any change,
regenerate the release (`python -m tools.course release <id>`), which carries the attachments over.
"""
import argparse
import ast
import base64
import hashlib
import io
import os
import re
import sys

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "utils", "diagrams.py")
KEY = "course_diagram"
DPI = 88                       # about 600-900 pixels wide: readable, 20-50 KB per drawing
REFERENCE = re.compile(r"!\[([^\]]*)\]\(attachment:([^)\s]+)\)")
COMMAND = "python -m tools.diagrams"


def notebooks():
    """The teacher notebooks, source/<id>/<id>.ipynb (the only notebooks with diagram cells for now)."""
    folder = os.path.join(ROOT, "source")
    return sorted(os.path.join(folder, a, a + ".ipynb") for a in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, a, a + ".ipynb")))


def parse_call(call):
    """(function name, args, kwargs) of a call such as 'unrolled_rnn(4, cell="LSTM")'; only literal arguments
    and public functions of utils.diagrams are accepted (ValueError otherwise)."""
    from utils import diagrams
    try:
        node = ast.parse(call, mode="eval").body
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise ValueError
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except (SyntaxError, ValueError, TypeError):
        raise ValueError(f"not a call of a diagrams function with literal arguments: {call!r}") from None
    name = node.func.id
    if name.startswith("_") or not callable(getattr(diagrams, name, None)) or None in kwargs:
        raise ValueError(f"utils/diagrams.py has no drawing function {name!r} (call {call!r})")
    return name, args, kwargs


def stamp(call):
    """sha256 of utils/diagrams.py, the call and the rendering settings: what the image was drawn from."""
    with open(SOURCE, "rb") as f:
        code = f.read()
    return hashlib.sha256(code + b"\0" + call.encode() + b"\0" + f"dpi={DPI}".encode()).hexdigest()


def render(call):
    """PNG bytes of the drawing ``call`` makes (no metadata, so the same machine gives the same bytes)."""
    import matplotlib
    matplotlib.use("Agg")
    from utils import diagrams
    name, args, kwargs = parse_call(call)
    fig = getattr(diagrams, name)(*args, **kwargs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def diagram_cells(nb):
    """[(index, cell)] of the notebook's diagram cells."""
    return [(i, c) for i, c in enumerate(nb.cells) if KEY in c.get("metadata", {})]


def problems(cell):
    """What is wrong with one diagram cell (empty when it is up to date)."""
    meta = cell.metadata[KEY]
    call = meta.get("call", "")
    out = []
    if cell.cell_type != "markdown":
        out.append("is not a markdown cell")
    refs = REFERENCE.findall(cell.source)
    if len(refs) != 1:
        out.append(f"shows {len(refs)} attachments, not one `![alt text](attachment:name.png)`")
    elif not refs[0][0].strip():
        out.append("has no alt text")
    attachments = cell.get("attachments", {})
    if refs and set(attachments) != {refs[0][1]}:
        out.append(f"attaches {sorted(attachments)}, its text shows {refs[0][1]!r}")
    if meta.get("stamp") != stamp(call):
        out.append("is stale (utils/diagrams.py, the call or the rendering settings changed)")
    return out


def update(nb, force=False):
    """Re-render the notebook's stale diagrams in place; returns the calls re-rendered."""
    done = []
    for _, cell in diagram_cells(nb):
        if not force and not problems(cell):
            continue
        refs = REFERENCE.findall(cell.source)
        if cell.cell_type != "markdown" or len(refs) != 1:
            raise ValueError(f"diagram cell {cell.metadata[KEY].get('call')!r}: {'; '.join(problems(cell))} "
                             "(fix its text by hand)")
        call = cell.metadata[KEY]["call"]
        png = render(call)
        cell["attachments"] = {refs[0][1]: {"image/png": base64.b64encode(png).decode("ascii")}}
        cell.metadata[KEY] = {"call": call, "stamp": stamp(call)}
        done.append(call)
    return done


def stale(paths=None):
    """['notebook cell i call: problem', ...] for every diagram that is not up to date."""
    out = []
    for path in paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        for i, cell in diagram_cells(nb):
            out += [f"{os.path.relpath(path, ROOT)} cell {i} {cell.metadata[KEY].get('call')}: {p}"
                    for p in problems(cell)]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale diagrams and exit 1 if any")
    parser.add_argument("--force", action="store_true", help="re-render every diagram")
    opts = parser.parse_args(argv)
    if opts.check:
        found = stale()
        for line in found:
            print(line)
        if found:
            print(f"{len(found)} diagram problem(s): run `{COMMAND}`")
            return 1
        print("diagrams up to date")
        return 0
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        done = update(nb, force=opts.force)
        if done:
            nbformat.write(nb, path)
        for call in done:
            print(f"{os.path.relpath(path, ROOT)}: rendered {call}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

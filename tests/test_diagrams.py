"""Each drawing in utils.diagrams builds a Figure under the Agg backend without error."""
import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import diagrams  # noqa: E402

DRAWINGS = {
    "rnn_cell": lambda: diagrams.rnn_cell(),
    "lstm_cell": lambda: diagrams.lstm_cell(),
    "gru_cell": lambda: diagrams.gru_cell(),
    "unrolled_rnn": lambda: diagrams.unrolled_rnn(),
    "unrolled_lstm_gradients": lambda: diagrams.unrolled_rnn(3, cell="LSTM", show_gradients=True),
    "unrolled_one_step": lambda: diagrams.unrolled_rnn(1),
    "char_model_training": lambda: diagrams.char_model("mei"),
    "char_model_sampling": lambda: diagrams.char_model("rex", sampling=True),
}


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_drawing_returns_a_figure_that_renders(name):
    fig = DRAWINGS[name]()
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize("kwargs", [{"T_x": 0}, {"T_x": 9}, {"cell": "GRU"}])
def test_unrolled_rnn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        diagrams.unrolled_rnn(**kwargs)


@pytest.mark.parametrize("name", ["", "tyrannos", "t-rex", 7])
def test_char_model_rejects_bad_names(name):
    with pytest.raises(ValueError):
        diagrams.char_model(name)


# The drawings the notebooks show are rendered ahead of time (tools/diagrams.py) into markdown cells as PNG
# attachments; below, the checks that those images exist, are valid and are up to date with utils/diagrams.py.
import base64  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402

import nbformat  # noqa: E402

from tools import diagrams as tool  # noqa: E402

NOTEBOOKS = tool.notebooks()
MAX_PNG_BYTES = 60_000
ATTACHMENT_REF = re.compile(r"attachment:([^)\s\"']+)")


def _cells(path):
    return tool.diagram_cells(nbformat.read(path, as_version=4))


def _png_size(data):
    """(width, height) from a PNG's header; AssertionError if the bytes are not a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _rel(path):
    return os.path.relpath(path, tool.ROOT)


def test_the_notebooks_that_used_to_draw_at_run_time_have_their_diagrams():
    counts = {os.path.basename(p): len(_cells(p)) for p in NOTEBOOKS}
    assert counts["rnn_step_by_step.ipynb"] == 6 and counts["dinosaur_island.ipynb"] == 2, counts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_no_code_cell_draws_a_diagram(path):
    """A drawing made by a code cell is missing until the cell runs (a blank release stops at its first failing
    test, and the feedback HTML shows '<Figure size ...>'): the notebooks show the rendered attachments instead."""
    nb = nbformat.read(path, as_version=4)
    drawing = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "diagrams." in c.source]
    assert not drawing, (f"{_rel(path)}: code cells {drawing} call utils.diagrams; make each a diagram cell "
                         f"(see tools/diagrams.py) and run `{tool.COMMAND}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_diagram_attachments_are_up_to_date_with_utils_diagrams(path):
    stale = []
    for i, cell in _cells(path):
        call = cell.metadata[tool.KEY].get("call", "")
        if cell.metadata[tool.KEY].get("stamp") != tool.stamp(call):
            stale.append(f"cell {i} {call}")
    assert not stale, (f"{_rel(path)}: diagrams drawn from an older utils/diagrams.py (or another call): "
                       f"{stale}; run `{tool.COMMAND}` and commit the notebook")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_attachments_are_small_pngs_shown_by_their_cell(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        attached = cell.get("attachments", {})
        shown = set(ATTACHMENT_REF.findall(cell.source))
        assert set(attached) == shown, f"{_rel(path)} cell {i}: attachments {sorted(attached)}, shown {sorted(shown)}"
        for name, bundle in attached.items():
            assert set(bundle) == {"image/png"}, f"{_rel(path)} cell {i} {name}: {sorted(bundle)}"
            data = base64.b64decode(bundle["image/png"], validate=True)
            width, height = _png_size(data)
            assert 200 <= width <= 1200 and 100 <= height <= 900, f"{name}: {width} x {height} pixels"
            assert len(data) < MAX_PNG_BYTES, f"{_rel(path)} {name}: {len(data)} bytes, keep it under {MAX_PNG_BYTES}"
        if tool.KEY in cell.metadata:
            assert cell.cell_type == "markdown" and len(attached) == 1, f"{_rel(path)} cell {i}"
            alt = tool.REFERENCE.findall(cell.source)
            assert len(alt) == 1 and len(alt[0][0].split()) >= 8, f"{_rel(path)} cell {i}: describe the drawing"


@pytest.mark.parametrize("call", sorted({c.metadata[tool.KEY]["call"] for p in NOTEBOOKS for _, c in _cells(p)}))
def test_each_diagram_call_still_renders(call):
    width, height = _png_size(tool.render(call))
    assert width > 0 and height > 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_the_release_keeps_the_attachments(path):
    """nbgrader's generate_assignment copies markdown cells with their attachments (what students open)."""
    name = os.path.basename(path)
    release = os.path.join(tool.ROOT, "release", name[: -len(".ipynb")], name)
    if not os.path.exists(release):
        pytest.skip(f"no release of {name}")
    ours = {c.id: c.get("attachments") for _, c in _cells(path)}
    theirs = {c.id: c.get("attachments") for c in nbformat.read(release, as_version=4).cells if c.id in ours}
    assert theirs == ours, f"{_rel(release)} has other diagrams: run `python -m tools.course release`"


def test_the_stamp_follows_the_drawing_code_and_the_call(tmp_path, monkeypatch):
    call = "rnn_cell()"
    before = tool.stamp(call)
    assert tool.stamp("unrolled_rnn(3)") != before
    copy = tmp_path / "diagrams.py"
    shutil.copy(tool.SOURCE, copy)
    monkeypatch.setattr(tool, "SOURCE", str(copy))
    assert tool.stamp(call) == before
    copy.write_text(copy.read_text().replace('INK = "#222222"', 'INK = "#000000"'))
    assert tool.stamp(call) != before


def test_check_reports_a_stale_diagram_and_the_command(tmp_path, capsys):
    path = tmp_path / "dinosaur_island.ipynb"
    shutil.copy(os.path.join(tool.ROOT, "source", "dinosaur_island", "dinosaur_island.ipynb"), path)
    assert tool.stale([str(path)]) == []
    nb = nbformat.read(path, as_version=4)
    (_, cell), = [ic for ic in tool.diagram_cells(nb) if ic[1].metadata[tool.KEY]["call"] == 'char_model("mei")']
    cell.metadata[tool.KEY]["call"] = 'char_model("rex")'
    nbformat.write(nb, path)
    found = tool.stale([str(path)])
    assert len(found) == 1 and "stale" in found[0] and 'char_model("rex")' in found[0]
    assert tool.update(nb) == ['char_model("rex")']
    nbformat.write(nb, path)
    assert tool.stale([str(path)]) == []


@pytest.mark.parametrize("call", ['__import__("os")', "_canvas(1, 1)", "rnn_cell(x)", "diagrams.rnn_cell()",
                                  "no_such_drawing()", "rnn_cell", "unrolled_rnn(**{'T_x': 3})"])
def test_only_literal_calls_of_drawing_functions_are_rendered(call):
    with pytest.raises(ValueError):
        tool.parse_call(call)

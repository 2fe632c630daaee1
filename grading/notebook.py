"""What the course's notebooks are made of: the one place that says what a test or solution cell is.

Used by the grader (grading/core.py), the nbgrader plugin, the course tool (tools/course.py), the
tests and the benchmarks. Only nbformat and the standard library.
"""
import copy

import nbformat

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"


def nbgrader_meta(cell):
    """The nbgrader metadata of a cell ({} when missing or damaged)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell):
    m = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_solution_cell(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def strip_hidden(source):
    """Remove every ### BEGIN/END HIDDEN TESTS region (markers included)."""
    out, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def read_notebook(path):
    """(notebook, None) or (None, why it cannot be read)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return None, f"cannot open the file: {exc.strerror}"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    except Exception as exc:  # nbformat raises several kinds
        return None, f"not a valid notebook: {str(exc).splitlines()[0][:200]}"
    if not isinstance(nb.get("cells"), list) or \
            not all(isinstance(c, dict) and isinstance(c.get("source", ""), str) for c in nb.cells):
        return None, "not a valid notebook: its cells are malformed"
    return nb, None


def canonical_notebook(student_nb, release_nb):
    """The release notebook with the student's answers in it.

    Locked cells come from the release (a student cannot change instructions, setup or tests);
    each solution cell gets the student's code, matched by grade_id, else by position between
    unchanged neighbours; the student's own extra code cells are kept after the cell they
    followed. Duplicated and deleted test cells, changed ids and renamed grade_ids all end up in
    the same canonical form. Returns a new notebook.
    """
    release_cells = release_nb.cells
    scells = student_nb.cells if student_nb is not None else []
    test_sources = {strip_hidden(c.source).strip() for c in release_cells if is_test_cell(c)}
    locked_sources = {c.source.strip() for c in release_cells if not is_solution_cell(c)}

    used = set()
    pos = {}  # release index -> student index
    by_id = {}
    for j, c in enumerate(scells):
        gid = nbgrader_meta(c).get("grade_id")
        if gid and gid not in by_id:
            by_id[gid] = j
    for i, rc in enumerate(release_cells):
        gid = nbgrader_meta(rc).get("grade_id")
        j = by_id.get(gid)
        if j is not None and scells[j].get("cell_type") == rc.cell_type and j not in used:
            pos[i] = j
            used.add(j)
    # unchanged locked cells anchor by identical source
    for i, rc in enumerate(release_cells):
        if i in pos or is_solution_cell(rc):
            continue
        for j, c in enumerate(scells):
            if j not in used and c.get("source", "").strip() == rc.source.strip():
                pos[i], _ = j, used.add(j)
                break
    # unmatched solution cells: the first free code cell between the neighbouring anchors
    for i, rc in enumerate(release_cells):
        if i in pos or not is_solution_cell(rc):
            continue
        lo = max([pos[k] for k in pos if k < i], default=-1)
        hi = min([pos[k] for k in pos if k > i], default=len(scells))
        for j in range(lo + 1, hi):
            c = scells[j]
            if j not in used and c.get("cell_type") == rc.cell_type and \
                    strip_hidden(c.get("source", "")).strip() not in test_sources:
                pos[i], _ = j, used.add(j)
                break

    out = copy.deepcopy(release_nb)
    out.cells = []
    student_at = {j: i for i, j in pos.items()}
    extras_after = {}  # release index -> [student extra cells]
    last = -1
    for j, c in enumerate(scells):
        if j in student_at:
            last = student_at[j]
            continue
        src = c.get("source", "")
        if c.get("cell_type") != "code" or is_test_cell(c) or not src.strip() or \
                strip_hidden(src).strip() in test_sources or src.strip() in locked_sources:
            continue
        extras_after.setdefault(last, []).append(nbformat.v4.new_code_cell(src))
    for cell in extras_after.get(-1, []):
        out.cells.append(cell)
    for i, rc in enumerate(release_cells):
        cell = copy.deepcopy(rc)
        if is_solution_cell(rc) and i in pos:
            cell.source = scells[pos[i]].get("source", "")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        out.cells.append(cell)
        out.cells.extend(extras_after.get(i, []))
    return out


# A provided cell that only shows something (a training run, a figure, audio, dev-set scores) carries this tag
# in the teacher notebook; nbgrader keeps it in the release. The grader does not run such cells: the hidden
# checks call the student's functions on their own inputs and need none of their results, and they are most
# of a notebook's run time. A tagged cell may not define anything (tests/test_notebooks.py checks it). The tag
# is read from the release's cells only (the canonical notebook), so a student cannot skip a cell.
SKIP_TAG = "skip-when-grading"


def skipped_when_grading(cell):
    """True for a provided demonstration cell the grader does not run (tagged SKIP_TAG)."""
    return cell.cell_type == "code" and SKIP_TAG in (cell.get("metadata", {}).get("tags") or [])


def exec_cells(canonical):
    """The code cells to run in the sandbox: every code cell but the test cells and the demonstrations."""
    return [{"index": i, "source": c.source} for i, c in enumerate(canonical.cells)
            if c.cell_type == "code" and not is_test_cell(c) and not skipped_when_grading(c)]


def grade_id(cell):
    return nbgrader_meta(cell).get("grade_id")


def solution_source(src):
    """A teacher solution cell as a student would write it: the solution markers removed."""
    return "\n".join(line for line in src.splitlines() if SOLUTION_BEGIN not in line and SOLUTION_END not in line)


def solutions(nb):
    """{solution grade_id: code as a student would write it} in notebook order."""
    return {grade_id(c): solution_source(c.source) for c in nb.cells if is_solution_cell(c)}


def test_cell_ids(nb):
    """grade_ids of the graded test cells, in notebook order."""
    return [grade_id(c) for c in nb.cells if is_test_cell(c)]


def graded_functions(nb):
    """{solution grade_id: {test cell grade_id: points}}: each test cell belongs to the solution before it."""
    out, current = {}, None
    for c in nb.cells:
        if is_solution_cell(c):
            current = grade_id(c)
            out[current] = {}
        elif is_test_cell(c) and current:
            out[current][grade_id(c)] = float(nbgrader_meta(c).get("points", 0))
    return out


def with_answers(nb, answers):
    """A copy of ``nb`` whose solution cells hold ``answers`` ({grade_id: code}) where given."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if is_solution_cell(cell) and grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return out

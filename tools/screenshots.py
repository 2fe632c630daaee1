"""Screenshots of the course as its users see it, for the docs (PNG, 1280x900, under docs/screenshots/).

    python -m tools.screenshots                  # all four; a page that is not built yet is skipped, saying so
    python -m tools.screenshots --only notebook failing-test
    python -m tools.screenshots --feedback feedback/partial/rnn_step_by_step/rnn_step_by_step.html

  notebook      rnn_step_by_step as a student first opens it (JupyterLab with the student configuration of
                `make student`, on a scratch copy of release/rnn_step_by_step/)
  failing-test  the same notebook after a wrong rnn_cell_forward (sigmoid where tanh belongs) ran into its
                visible test: the test's short message
  feedback      a feedback page of the demo class (made by `make course` under feedback/): its top, and its
                first figure (feedback-figure.png)
  report        the class report of an assignment (reports/<assignment>.html, `python -m tools.course report`)

Needs Debian's chromium at /usr/bin/chromium (`apt-get install chromium`) and playwright (requirements-dev.txt).
The helpers here also drive tests/test_browser.py.
"""
import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time

from tools import course, student

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
ASSIGNMENT = "rnn_step_by_step"
FUNCTION = "rnn_cell_forward"
NOTEBOOK_CELLS = ".jp-NotebookPanel:visible .jp-Notebook .jp-Cell"


@contextlib.contextmanager
def chromium_page(viewport=VIEWPORT):
    """A page of headless Debian Chromium driven by Playwright (never Playwright's own downloaded browsers)."""
    from playwright.sync_api import sync_playwright
    with contextlib.ExitStack() as stack:
        playwright = sync_playwright().start()
        stack.callback(playwright.stop)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_page(viewport=viewport)
        page.set_default_timeout(60_000)
        yield page


def notebook_path(assignment, root=ROOT, kind="release"):
    return os.path.join(root, kind, assignment, assignment + ".ipynb")


def solution_of(function, assignment=ASSIGNMENT):
    """The teacher's answer: the solution cell of `function` in the teacher notebook, as a student would write it."""
    answers = course.teacher_answers(assignment)
    if function not in answers:
        raise LookupError(f"no solution cell of {function} in the teacher notebook of {assignment}")
    return answers[function]


def cell_indices(function, assignment=ASSIGNMENT):
    """(setup, answer, test): indices in the release notebook of the first code cell, of the answer cell of
    `function` and of the graded test cell that follows it."""
    with open(notebook_path(assignment), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    setup = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    answer = next(i for i, c in enumerate(cells)
                  if c["cell_type"] == "code" and f"def {function}(" in "".join(c["source"]))
    test = next(i for i in range(answer + 1, len(cells))
                if cells[i].get("metadata", {}).get("nbgrader", {}).get("grade"))
    return setup, answer, test


def open_notebook(page, url, token, path):
    """Open a notebook in JupyterLab (a fresh layout) and wait until its kernel is idle."""
    page.goto(f"{url}/lab/tree/{path}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for()   # the kernel has started and answered


def notebook_tab(page, name):
    return page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)


def write_cell(page, index, text):
    """Replace the code of cell `index` of the open notebook by `text`, as a student pasting it in."""
    cell = page.locator(NOTEBOOK_CELLS).nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    return cell


def run_cells(page, first, last):
    """Run cells first..last of the open notebook, one Shift+Enter each, as a student does."""
    page.keyboard.press("Escape")
    page.locator(NOTEBOOK_CELLS).nth(first).locator(".jp-InputPrompt").first.click()
    for _ in range(last - first + 1):
        page.keyboard.press("Shift+Enter")


def wait_for_output(page, index, timeout=90):
    """The output text of cell `index` once it says "All tests passed" or shows an error (or at the timeout)."""
    output = page.locator(NOTEBOOK_CELLS).nth(index).locator(".jp-OutputArea")
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        text = output.inner_text() if output.count() else ""
        if "All tests passed" in text or re.search(r"Error|Traceback", text):
            break
        time.sleep(0.2)
    return text


def shoot(page, name, out):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, name + ".png")
    page.screenshot(path=path)
    size = os.path.getsize(path) // 1024
    print(f"{os.path.relpath(path, ROOT)}: {size} KB" + (" (over 300 KB: too big to commit)" if size > 300 else ""))
    return path


def notebook_shots(page, out, wanted):
    """(a) the release notebook as first opened, (b) a wrong answer failing its visible test."""
    with tempfile.TemporaryDirectory(prefix="course-screenshots-") as scratch:
        workspace = os.path.join(scratch, "workspace")
        student.prepare_workspace(workspace, ids=[ASSIGNMENT])
        with student.background_lab(workspace, scratch) as (url, token):
            open_notebook(page, url, token, f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
            page.locator(".jp-NotebookPanel").first.click(position={"x": 5, "y": 5})   # no hover effects
            if "notebook" in wanted:
                shoot(page, "notebook", out)
            if "failing-test" in wanted:
                setup, answer, test = cell_indices(FUNCTION)
                right = solution_of(FUNCTION)
                wrong = right.replace("activations.tanh(", "activations.sigmoid(")
                assert wrong != right, "the teacher's rnn_cell_forward no longer calls activations.tanh"
                write_cell(page, answer, wrong)
                run_cells(page, setup, test)
                text = wait_for_output(page, test)
                if "All tests passed" in text:
                    raise RuntimeError("the wrong answer passed its visible test")
                cell = page.locator(NOTEBOOK_CELLS).nth(test)
                # the end of the test cell's code and its message in view
                cell.locator(".jp-OutputArea").scroll_into_view_if_needed()
                page.mouse.wheel(0, 250)
                time.sleep(0.5)
                shoot(page, "failing-test", out)


FIGURE = "img, svg"


def page_shot(page, path, name, out, what, command, figure=False):
    """A screenshot of the top of a local HTML page, and with `figure` one more (<name>-figure.png) with its
    first figure (an image at least 200 px wide) in view; a message saying how to make the page when it is
    missing."""
    if not path or not os.path.isfile(path):
        print(f"{name}: skipped, {what} {path or '(none found)'} does not exist yet: run `{command}` first")
        return None
    page.goto("file://" + os.path.abspath(path))
    page.wait_for_load_state("load")
    shot = shoot(page, name, out)
    if figure:
        figures = [f for f in page.locator(FIGURE).all() if (f.bounding_box() or {}).get("width", 0) >= 200]
        if figures:
            figures[0].evaluate("f => f.scrollIntoView({block: 'center'})")   # with what is above and below it
            time.sleep(0.3)
            shoot(page, name + "-figure", out)
        else:
            print(f"{name}-figure: skipped, {path} shows no figure")
    return shot


def first_existing(pattern_paths):
    return next((p for p in pattern_paths if os.path.isfile(p)), None)


def main(argv=None):
    kinds = ["notebook", "failing-test", "feedback", "report"]
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=kinds, default=kinds, help="which screenshots")
    parser.add_argument("--feedback", help="a feedback page (default: a demo student's, under feedback/)")
    parser.add_argument("--report", help=f"a class report (default: reports/{ASSIGNMENT}.html)")
    parser.add_argument("--out", default=OUT, help="where the PNGs go (default: docs/screenshots/)")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install --no-install-recommends "
                 "chromium`); Playwright's own browser downloads are not used")
    feedback = args.feedback or first_existing(
        [os.path.join(ROOT, "feedback", who, ASSIGNMENT, ASSIGNMENT + ".html") for who in
         ("partial", f"mutant_{FUNCTION}", "perfect")])
    report = args.report or os.path.join(ROOT, "reports", ASSIGNMENT + ".html")
    with chromium_page() as page:
        if {"notebook", "failing-test"} & set(args.only):
            notebook_shots(page, args.out, args.only)
        if "feedback" in args.only:
            page_shot(page, feedback, "feedback", args.out, "the feedback page", "make course", figure=True)
        if "report" in args.only:
            page_shot(page, report, "report", args.out, "the class report",
                      f"python -m tools.course report {ASSIGNMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

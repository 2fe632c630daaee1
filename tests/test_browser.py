"""A student's first minutes, in a real browser: JupyterLab with the student configuration (tools/student.py,
student-config/) on a copy of release/rnn_step_by_step/, driven by headless Chromium through Playwright.

The student opens the notebook, writes rnn_cell_forward into its cell, runs the cells from the top down to its test
cell and reads "All tests passed"; the instructor's nbgrader panels are absent and the Assignment List works.

Needs Debian's chromium (/usr/bin/chromium): installed here with apt-get when missing (CI runs as root with apt);
the tests are skipped, saying why, only where apt-get cannot run. Playwright comes from requirements-dev.txt and
drives that Chromium: `playwright install` (a download from a CDN) is never used. Screenshots go to
test-artifacts/browser/ (git-ignored). The browser helpers are tools/screenshots.py's.
"""
import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tools import screenshots as shots
from tools import student

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSIGNMENT, FUNCTION = shots.ASSIGNMENT, shots.FUNCTION
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "browser")
CREATE_ASSIGNMENT = "#nbgrader-create_assignemnt, [data-id='nbgrader-create_assignemnt']"  # nbgrader's spelling


def ensure_chromium():
    """Install Debian's chromium when /usr/bin/chromium is missing; skip only where apt-get cannot run."""
    if os.access(shots.CHROMIUM, os.X_OK):
        return
    if shutil.which("apt-get") is None:
        pytest.skip(f"{shots.CHROMIUM} is missing and this system has no apt-get to install Debian's chromium")
    if os.geteuid() != 0:
        pytest.skip(f"{shots.CHROMIUM} is missing and installing it with apt-get needs root "
                    "(`apt-get install --no-install-recommends chromium` once as root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    install = ["apt-get", *lock, "install", "-y", "--no-install-recommends", "chromium"]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:   # empty or stale package lists (a fresh container): update them once and retry
        subprocess.run(["apt-get", *lock, "update", "-q"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not os.access(shots.CHROMIUM, os.X_OK):
        pytest.fail(f"apt-get could not install chromium:\n{(done.stdout + done.stderr)[-3000:]}")


class Lab:
    """The running JupyterLab, the browser page and what was seen when the notebook opened."""

    def __init__(self, url, token, page):
        self.url, self.token, self.page = url, token, page
        self.seen = {}

    def get(self, path):
        """(status, body) of a GET on the server, with the token."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    def shot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"))

    def notebook_tab(self):
        return shots.notebook_tab(self.page, ASSIGNMENT + ".ipynb")


@contextlib.contextmanager
def student_lab(scratch):
    """JupyterLab with the student configuration on a copy of the release, and a Chromium page on it."""
    ensure_chromium()
    try:
        import playwright.sync_api  # noqa: F401 - fail here, saying what to install
    except ImportError:
        pytest.fail("playwright is missing: .venv/bin/pip install -r requirements-dev.txt")
    workspace = scratch / "workspace"
    student.prepare_workspace(workspace, ids=[ASSIGNMENT])
    with student.background_lab(workspace, scratch) as (url, token), shots.chromium_page() as page:
        yield Lab(url, token, page)


def open_as_student(lab):
    """Open the notebook; note whether its tab is marked modified and whether Create Assignment is there."""
    page = lab.page
    shots.open_notebook(page, lab.url, lab.token, f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    # JupyterLab marks the tab as soon as the kernel's answer changes the notebook: give it a moment
    with contextlib.suppress(Exception):
        page.wait_for_selector(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty", timeout=1500)
    assert lab.notebook_tab().count() == 1
    lab.seen["dirty"] = lab.notebook_tab().evaluate("tab => tab.classList.contains('jp-mod-dirty')")
    lab.seen["create_assignment"] = page.locator(CREATE_ASSIGNMENT).count()
    lab.shot("01-opened")


def check_no_instructor_tools(lab):
    page = lab.page
    assert lab.seen["create_assignment"] == 0, "nbgrader's Create Assignment panel is present"
    # the student keeps nbgrader's Validate button
    assert page.locator(".jp-NotebookPanel-toolbar", has_text="Validate").count() == 1
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = [t.strip() for t in page.locator(".lm-Menu-content .lm-Menu-item:visible").all_inner_texts()]
    page.keyboard.press("Escape")
    assert [t for t in items if t] == ["Assignment List"], f"the Nbgrader menu: {items}"
    assert lab.get("/formgrader")[0] == 404, "the formgrader answers"
    status, body = lab.get("/assignments?course_id=sequence-models")
    assert status == 200 and json.loads(body)["success"], body
    # the Assignment List opens without "Error fetching courses!" and lists the assignment as downloaded
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item:visible", has_text="Assignment List").click()
    listing = page.locator("#nbgrader-assignment-list")
    listing.get_by_text(ASSIGNMENT).first.wait_for()
    text = listing.inner_text()
    lab.shot("02-assignment-list")
    assert "Error" not in text and "does not exist" not in text, f"the Assignment List: {text}"
    lab.notebook_tab().click()


def check_answer_passes(lab):
    page = lab.page
    setup, answer, test = shots.cell_indices(FUNCTION)
    cells = page.locator(shots.NOTEBOOK_CELLS)
    assert f"def {FUNCTION}(" in cells.nth(answer).text_content()
    cell = shots.write_cell(page, answer, shots.solution_of(FUNCTION))
    assert "NotImplementedError" not in cell.locator(".cm-content").text_content()
    shots.run_cells(page, setup, test)
    text = shots.wait_for_output(page, test)
    cells.nth(test).scroll_into_view_if_needed()
    lab.shot("03-test-passed")
    assert "All tests passed" in text, f"output of the {FUNCTION} test cell:\n{text}"


def test_student_session(tmp_path):
    """One JupyterLab and one Chromium for the whole session (pytest-xdist here spreads a module's tests over
    workers whatever their group, so the steps are one test): open, no instructor tools, answer, pass."""
    with student_lab(tmp_path) as lab:
        try:
            open_as_student(lab)
            check_no_instructor_tools(lab)
            check_answer_passes(lab)
        except BaseException:
            with contextlib.suppress(Exception):
                lab.shot("failure")
            raise
    assert not lab.seen["dirty"], "the notebook tab is marked modified right after opening"


def test_workspace_is_topped_up_never_overwritten(tmp_path, monkeypatch):
    """make student: a second run adds what is missing and leaves the student's own work alone; the student
    nbgrader configuration points the Assignment List at the workspace's exchange, which lists the release."""
    from traitlets.config.loader import PyFileConfigLoader
    workspace = tmp_path / "ws"
    first = student.prepare_workspace(workspace, ids=[ASSIGNMENT])
    nb = workspace / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    helper = next((workspace / ASSIGNMENT / "utils").glob("*.py"))
    copied, release = json.loads(nb.read_text()), json.load(open(shots.notebook_path(ASSIGNMENT)))
    # the copy carries this kernel's language_info (so JupyterLab does not mark it modified on opening), nothing else
    assert first[ASSIGNMENT] > 1 and copied["metadata"]["language_info"] == student.kernel_language_info()
    assert copied["cells"] == release["cells"] and release["metadata"]["language_info"] != copied["metadata"]["language_info"]
    nb.write_text("my work")
    helper.unlink()
    again = student.prepare_workspace(workspace, ids=[ASSIGNMENT])
    assert again == {ASSIGNMENT: 1} and helper.exists() and nb.read_text() == "my work"
    monkeypatch.setenv("COURSE_STUDENT_WORKSPACE", str(workspace))
    config = PyFileConfigLoader("nbgrader_config.py", path=student.CONFIG_DIR).load_config()
    outbound = os.path.join(config.Exchange.root, config.CourseDirectory.course_id, "outbound", ASSIGNMENT)
    assert os.path.isfile(os.path.join(outbound, f"{ASSIGNMENT}.ipynb"))
    assert os.path.isdir(os.path.join(config.Exchange.root, config.CourseDirectory.course_id, "inbound"))

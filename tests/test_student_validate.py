"""nbgrader's Validate as a student meets it (student-config/): one short block per failing test cell."""
import os
import shutil
import subprocess
import sys

from tools import course

ROOT = course.ROOT


def test_validate_names_each_failing_test_and_its_message_only(tmp_path):
    folder = tmp_path / "rnn_step_by_step"
    shutil.copytree(os.path.join(ROOT, "release", "rnn_step_by_step"), folder)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=os.path.join(ROOT, "student-config"),
               COURSE_STUDENT_WORKSPACE=str(tmp_path))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    p = subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"), "validate",
                        "rnn_step_by_step.ipynb"], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    tests = course.graded_functions("rnn_step_by_step")
    assert out.count("Failed: ") == len(tests), out[-2000:]
    assert out.count("not answered yet") == len(tests)
    assert "Traceback" not in out and "The following cell failed" not in out
    assert len(out.splitlines()) < 8 + 4 * len(tests), f"{len(out.splitlines())} lines:\n{out[-2000:]}"
    for func in tests:
        assert f"Failed: {func} " in out, f"no block names {func}"

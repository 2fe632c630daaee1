"""Grade the same class serially (1 worker) and in parallel (all cores); print the speedup.

    .venv/bin/python benchmarks/bench_grading.py [assignment] [copies]

The class: the demo class (tools/course.demo_class: perfect, blank, partial, hostile, unreadable,
one mutant per graded function), repeated ``copies`` times (different student ids, so nothing is
cached). Each run is a fresh course copy graded with plain
`nbgrader autograde`; the time is the wall-clock time of that command.
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests import autograde_class as ac  # noqa: E402
from tools import course  # noqa: E402


def build(root, assignment, copies):
    ac.make_course(root, assignment)
    demo = course.demo_class(assignment, root)
    for k in range(copies):
        for student, (nb, _, _) in demo.items():
            course.write_submission(f"{student}{k}", assignment, nb, root)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    nbg = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    keep = os.path.join(root, "release.keep")
    shutil.copytree(os.path.join(root, "release"), keep)
    subprocess.run([nbg, "generate_assignment", assignment, "--force"], cwd=root, env=env, check=True, capture_output=True)
    shutil.rmtree(os.path.join(root, "release"))
    shutil.move(keep, os.path.join(root, "release"))
    return env, nbg


def grade(root, assignment, env, nbg, workers):
    env = dict(env, COURSE_GRADING_WORKERS=str(workers))
    shutil.rmtree(os.path.join(root, "autograded"), ignore_errors=True)
    reports = os.path.join(root, "grading_reports", assignment)
    if os.path.isdir(reports):
        for name in os.listdir(reports):
            if not name.startswith("_reference"):
                os.remove(os.path.join(reports, name))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([nbg, "autograde", assignment, "--force"], cwd=root, env=env, check=False, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    assignment = sys.argv[1] if len(sys.argv) > 1 else "rnn_step_by_step"
    copies = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    root = tempfile.mkdtemp(prefix="bench-grading-")
    env, nbg = build(root, assignment, copies)
    n = len(os.listdir(os.path.join(root, "submitted")))
    grade(root, assignment, env, nbg, 1)  # warm-up: builds the cached teacher reference
    cores = os.cpu_count() or 1
    (serial, serial_cpu), (parallel, parallel_cpu) = grade(root, assignment, env, nbg, 1), \
        grade(root, assignment, env, nbg, cores)
    print(f"{assignment}: {n} submissions (CPU time: all processes, a figure a busy machine changes little)")
    print(f"  serial   (1 worker):  {serial:7.1f} s  ({serial / n:.2f} s per submission, CPU {serial_cpu / n:.2f} s)")
    print(f"  parallel ({cores} workers): {parallel:7.1f} s  ({parallel / n:.2f} s per submission, "
          f"CPU {parallel_cpu / n:.2f} s)")
    print(f"  speedup: {serial / parallel:.2f}x on {cores} cores")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Throughput of the three ways to grade a class, the overhead a Dask task adds, and a paper estimate for a big course.

    .venv/bin/python benchmarks/bench_grading_cluster.py [assignment] [copies]     (rnn_step_by_step, 2)

Needs requirements-dask.txt. The class: the demo class of ``assignment`` (tools/course.demo_class) repeated ``copies``
times (new student ids, nothing cached), graded by plain `nbgrader autograde` in a fresh course copy:

1. serial: the local pool with 1 worker;  2. local pool: 2 workers;  3. a LocalCluster of 2 worker processes of one
   thread each (nbgrader_config's dask_scheduler). Times are the wall-clock time of `nbgrader autograde`.
4. the instructor's own share: `nbgrader autograde` again with every report already made (the grader reuses a report
   whose submission and verdict files are unchanged), i.e. nbgrader's per-notebook pipeline, which runs one notebook
   at a time in the instructor's process whatever executes the sandboxed runs.
5. the teacher's reference answering one submission's hidden checks (a fresh seed each: seed_scope="submission").
6. a Dask task round trip: an empty task with an empty job, and one carrying a real job's data (cells and encoded
   plans: they travel inside the task, held by the scheduler, so a worker's death loses nothing), one at a time, and
   many at once (tasks per second through the scheduler).

Then the estimate for 25,000 runs on 10 machines of 8 cores (80 worker processes, one thread each).
"""
import os
import pickle
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_grading  # noqa: E402
import nbformat  # noqa: E402

from grading import core, distributed as gd  # noqa: E402
from grading import notebook as nbk  # noqa: E402
from grading import plan as plan_lang  # noqa: E402
from tests import autograde_class as ac  # noqa: E402
from tools import course  # noqa: E402


def real_job(root, assignment):
    """The plain data a task carries for the perfect submission of ``assignment``."""
    release = nbformat.read(os.path.join(root, "release", assignment, assignment + ".ipynb"), as_version=4)
    perfect = course.student_notebook(assignment, course.teacher_answers(assignment, root), root)
    cells = nbk.exec_cells(nbk.canonical_notebook(perfect, release))
    cases = core.build_cases(assignment, 1)
    return {"cells": cells, "plans": {cid: plan_lang.encode_plan(c.plan) for cid, c in cases.items()},
            "settings": dict(vars(core.Settings())), "sandboxed": True, "allow_unsandboxed": False, "release": "x"}


def round_trips(client, job, n=40, burst=200):
    """(median seconds of one task's round trip, tasks per second when ``burst`` are in flight)."""
    client.submit(gd.empty_task, job, pure=False).result()      # warm: the function reaches the workers
    one = []
    for _ in range(n):
        t = time.perf_counter()
        client.submit(gd.empty_task, job, pure=False).result()
        one.append(time.perf_counter() - t)
    t = time.perf_counter()
    futs = [client.submit(gd.empty_task, job, pure=False) for _ in range(burst)]
    client.gather(futs)
    return statistics.median(one), burst / (time.perf_counter() - t)


def reference_seconds(root, assignment, n=5):
    settings = core.Settings()
    core.REFERENCES.results(root, assignment, assignment, settings, core.build_cases(assignment, 0))  # start it
    times = []
    for seed in range(1, n + 1):
        cases = core.build_cases(assignment, seed)
        t = time.perf_counter()
        core.REFERENCES.results(root, assignment, assignment, settings, cases)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    from distributed import Client

    assignment = sys.argv[1] if len(sys.argv) > 1 else "rnn_step_by_step"
    copies = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    root = tempfile.mkdtemp(prefix="bench-cluster-")
    env, nbg = bench_grading.build(root, assignment, copies)
    n = len(os.listdir(os.path.join(root, "submitted")))
    load = os.getloadavg()[0]
    bench_grading.grade(root, assignment, env, nbg, 1)            # warm-up (file caches, imports)
    serial, _ = bench_grading.grade(root, assignment, env, nbg, 1)
    pool, _ = bench_grading.grade(root, assignment, env, nbg, 2)
    with ac.local_cluster() as cluster:
        denv = dict(env, COURSE_GRADING_DASK_SCHEDULER=cluster.scheduler_address)
        bench_grading.grade(root, assignment, denv, nbg, 2)        # warm-up: workers import grading, unpack the release
        dask_wall, _ = bench_grading.grade(root, assignment, denv, nbg, 2)
        t = time.perf_counter()
        import subprocess
        subprocess.run([nbg, "autograde", assignment, "--force"], cwd=root, env=denv, capture_output=True)
        cached = time.perf_counter() - t
        job = real_job(root, assignment)
        with Client(cluster, set_as_default=False) as client:
            empty_trip, empty_rate = round_trips(client, dict(job, cells=[], plans={}))
            trip, rate = round_trips(client, job)
    ref = reference_seconds(root, assignment)
    load_after = os.getloadavg()[0]
    per = {"serial (1 worker)": serial, "local pool (2 workers)": pool, "LocalCluster (2 worker processes)": dask_wall}
    print(f"{assignment}: {n} submissions; {os.cpu_count()} cores; load average {load:.1f} before, "
          f"{load_after:.1f} after (a shared machine: other jobs were running)")
    for name, wall in per.items():
        print(f"  {name:36s} {wall:6.1f} s  {60 * n / wall:6.1f} submissions/min")
    print(f"  instructor's share (all reports made) {cached:6.1f} s  {cached / n:.2f} s per submission "
          "(nbgrader's own pipeline, one notebook at a time)")
    print(f"  teacher's reference, one submission's checks: {ref:.3f} s (seed_scope='submission'; "
          "once per run with seed_scope='run')")
    size = len(pickle.dumps(job))
    print(f"  Dask task round trip, empty job: {1000 * empty_trip:.1f} ms; {empty_rate:.0f} tasks/s with 200 in flight "
          "(scheduler in this process, as LocalCluster runs it)")
    print(f"  Dask task round trip, empty task with a real job's data ({size / 1024:.0f} KiB): {1000 * trip:.1f} ms; "
          f"{rate:.0f} tasks/s with 200 in flight")
    print(f"  cluster overhead per submission vs its run: {1000 * trip:.1f} ms of {1000 * serial / n:.0f} ms")
    # paper estimate: 25,000 runs on 10 machines x 8 cores
    runs, slots = 25_000, 80
    job_s = serial / n                              # one submission on one core, everything included (an upper bound)
    workers_h = runs * (job_s + trip) / slots / 3600
    instr_h = runs * cached / n / 3600
    ref_h = runs * ref / 3600
    print(f"\nPaper estimate, {runs:,} runs on 10 machines x 8 cores ({slots} worker processes):")
    print(f"  workers: {runs:,} x ({job_s:.2f} s + {trip * 1000:.0f} ms) / {slots} = {workers_h:.2f} h")
    print(f"  instructor, nbgrader's pipeline (serial): {runs:,} x {cached / n:.2f} s = {instr_h:.2f} h")
    print(f"  instructor, teacher's reference (seed_scope='submission', one reference process per assignment): "
          f"{runs:,} x {ref:.3f} s = {ref_h:.2f} h (seed_scope='run': negligible)")
    print(f"  => about {max(workers_h, instr_h + ref_h):.1f} h with seed_scope='submission', "
          f"{max(workers_h, instr_h):.1f} h with seed_scope='run' (workers and instructor overlap; the larger bounds it); "
          f"one laptop of 2 cores: {runs * job_s / 2 / 3600:.1f} h")
    import shutil
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Grading on a Dask cluster (grading/distributed.py; nbgrader_config's dask_scheduler).

- The class of tests/autograde_class.ON_DASK (its demo class and the hostile class's return-value part) is graded
  through a LocalCluster of two worker processes in the suite's shared gradings: it gets exactly the scores and
  outcomes build_class expects, the same expectations the local pool meets on every other assignment.
- A small batch on its own LocalCluster: a worker process is killed (SIGKILL) in the middle of one submission's run,
  and another submission kills every worker that runs it. The first is rerun elsewhere and graded; the second ends
  "crashed" after a bounded number of worker deaths; every submission has exactly one gradebook row and one report.
- The same submission and seed give the same report whether its job runs here or on a worker.
- A worker host that cannot sandbox refuses the task: recorded as "grader error" with its reason, unless the
  instructor allowed unsandboxed grading; a worker with other grading code refuses too.
"""
import csv
import os
import signal
import threading

import nbformat
import pytest

from grading import core
from tests import autograde_class as ac
from tools import course

distributed = pytest.importorskip("distributed")  # requirements-dev.txt installs it (requirements-dask.txt)

BATCH_ON = "jazz_improvisation"        # the assignment whose submissions run fastest (tests/autograde_class.py)
SLOW_SECONDS = 4                       # the slow submission's last cell; the kill lands 2 s into its run


def test_the_cluster_class_gets_the_expected_scores(tmp_path_factory):
    graded = ac.shared_class(ac.ON_DASK, tmp_path_factory)
    assert f"grading {ac.ON_DASK} (on tcp://" in graded["log"], "the class was not graded on the cluster"
    n = len(graded["students"])
    assert f"{n}/{n}" in graded["log"], "the progress bar did not reach every submission"
    problems = []
    for student, (kind, outcome) in graded["students"].items():
        row = graded["rows"].get(student)
        want = course.expected_score(ac.ON_DASK, kind)
        if row is None or abs(float(row["score"]) - want) > 1e-9 or row["outcome"] != outcome:
            problems.append(f"{student}: {row and (row['score'], row['outcome'], row['cause'])}, expected "
                            f"{want} {outcome!r}")
    assert not problems, "\n".join(problems) + "\n" + graded["log"][-3000:]
    assert graded["connections"] == 0


def killer_plugin(folder):
    """A worker plugin (test only) that SIGKILLs its worker process: 2 s into the first run of the slow
    submission, and 0.5 s into every run of the doomed one. Each kill is logged in ``folder``/kills."""
    from distributed import WorkerPlugin

    class Killer(WorkerPlugin):
        name = "test-killer"

        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or not isinstance(key, str):
                return
            if "-doomed-" in key:
                delay = 0.5
            elif "-slow-" in key:
                try:
                    os.close(os.open(os.path.join(folder, "slow-killed"), os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return                      # killed once already: this run may finish
                delay = 2.0
            else:
                return
            with open(os.path.join(folder, "kills"), "a") as f:
                f.write(f"{key} {os.getpid()}\n")
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
    return Killer()


@pytest.fixture(scope="module")
def site(tmp_path_factory, gradebook_template):
    """A throwaway course of BATCH_ON with its gradebook, and a LocalCluster of two worker processes that dies as
    killer_plugin says (allowed-failures 1: a task is tried on two workers at most); one test uses it."""
    root = str(tmp_path_factory.mktemp("dask-batch"))
    ac.make_course(root, BATCH_ON)
    gradebook_template(root)
    kills = tmp_path_factory.mktemp("kills")
    with ac.local_cluster(**{"distributed.scheduler.allowed-failures": 1}) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.register_plugin(killer_plugin(str(kills)))
            yield dict(root=root, kills=kills, cluster=cluster, client=client)


def killed_workers_lose_no_submission_and_a_worker_killer_ends_crashed(site):
    """Submissions graded by nbgrader on the cluster, in two batches: first four, among them the slow one, whose
    worker is killed mid-run (it is rerun elsewhere and graded); then the doomed one, which kills each worker it runs
    on (crashed after two tries). (In one batch, a death caused by one of them could take a try from the other when
    the scheduler had just handed it to the dying worker, so the counts below would not be exact.) Every submission
    has exactly one gradebook row, one report, and its expected score."""
    root = site["root"]
    answers = course.teacher_answers(BATCH_ON, root)
    first = next(iter(course.graded_functions(BATCH_ON, root)))
    nb = lambda a: course.student_notebook(BATCH_ON, a, root)  # noqa: E731
    slow = nb(answers)
    slow.cells.append(nbformat.v4.new_code_cell(f"import time\ntime.sleep({SLOW_SECONDS})\nprint('woke up')"))
    students = {"perfect": (nb(answers), "full", "graded"), "blank": (nb({}), "zero", "graded"),
                f"mutant_{first}": (nb(course.mutant_answers(BATCH_ON, first, root)), ("lose", [first]), "graded"),
                "slow": (slow, "full", "graded"), "doomed": (nb(answers), "zero", "crashed")}
    env = dict(ac.GRADING_ENV, COURSE_GRADING_DASK_SCHEDULER=site["cluster"].scheduler_address)
    log_file = site["kills"] / "kills"
    logs = []
    for batch in ([s for s in students if s != "doomed"], ["doomed"]):
        for name in batch:
            course.write_submission(name, BATCH_ON, students[name][0], root)
        rows, reports, log = ac.autograde(root, BATCH_ON, env=env, feedback_for=set())
        logs.append(log)
        if batch[0] != "doomed":
            kills = log_file.read_text().split()[::2] if log_file.exists() else []
            # a worker killed mid-run loses nothing
            assert kills == [k for k in kills if "-slow-" in k] and len(kills) == 1, kills  # killed once, mid-run
            assert f"{len(batch)}/{len(batch)}" in log, "no progress bar"
    kills = log_file.read_text().split()[::2]
    with open(os.path.join(root, "grades.csv")) as f:
        listed = [r["student_id"] for r in csv.DictReader(f) if r["assignment"] == BATCH_ON]
    assert sorted(listed) == sorted(students), "each submission exactly once in the gradebook"
    folder = os.path.join(root, "grading_reports", BATCH_ON)
    written = sorted(n for n in os.listdir(folder) if not n.startswith("_") and n.endswith(".json"))
    assert written == sorted(f"{s}.{BATCH_ON}.json" for s in students), written
    problems = []
    for student, (_, kind, outcome) in students.items():
        row, want = rows[student], course.expected_score(BATCH_ON, kind)
        if abs(float(row["score"]) - want) > 1e-9 or row["outcome"] != outcome:
            problems.append(f"{student}: {row['score']} {row['outcome']} ({row['cause']}), expected {want} {outcome}")
    assert not problems, "\n".join(problems) + "\n" + "\n".join(logs)[-3000:]
    woke = [c["output"] for c in reports["slow"]["cells"].values() if "woke up" in c["output"]]
    assert woke, "the slow submission's rerun did not run to its end"

    # a submission that kills every worker it touches: crashed after a bounded number of tries
    doomed = [k for k in kills if "-doomed-" in k]
    assert len(doomed) == 2, doomed     # allowed-failures 1: two worker deaths, then no more tries
    assert "killed the grading worker" in reports["doomed"]["cause"], reports["doomed"]["cause"]
    assert "2 workers died" in reports["doomed"]["cause"]


def _submit(root, student):
    """Write the perfect submission of BATCH_ON as ``student``'s."""
    course.write_submission(student, BATCH_ON, course.student_notebook(
        BATCH_ON, course.teacher_answers(BATCH_ON, root), root), root)


def a_cluster_run_reports_exactly_what_a_local_run_does(site):
    """The same submission and seed, its job run here and on a worker: the same verdicts, messages and cells."""
    from grading import distributed as gd

    root = site["root"]
    funcs = course.graded_functions(BATCH_ON, root)
    first = next(iter(funcs))
    settings = core.Settings(cell_timeout=15, case_timeout=60, memory_mb=2048, seed=11, workers=2)
    for student in ("same_local", "same_cluster"):
        course.write_submission(student, BATCH_ON, course.student_notebook(
            BATCH_ON, course.mutant_answers(BATCH_ON, first, root), root), root)
    here = core.grade_submission(root, BATCH_ON, "same_local", BATCH_ON, settings, sandboxed=True)
    cluster = gd.Cluster(site["cluster"].scheduler_address)
    try:
        there = core.grade_submission(root, BATCH_ON, "same_cluster", BATCH_ON, settings, sandboxed=True,
                                      job=cluster.job(BATCH_ON, "same_cluster", BATCH_ON))
    finally:
        cluster.close()
    assert {g for g, c in here["checks"].items() if not c["passed"]} == set(funcs[first])   # a real mutant
    for field in ("outcome", "cause", "issues", "checks", "cells", "seed"):
        assert here[field] == there[field], field


def a_worker_host_without_sandbox_refuses(site):
    """The worker's sandbox check is made to fail (as on a host without user namespaces): the task is refused and
    the submission recorded as a grader error naming the host's reason; with allow_unsandboxed it runs."""
    from grading import distributed as gd

    client = site["client"]

    def no_sandbox():
        gd._sandbox["status"] = (False, "test: no user namespaces")
    client.run(no_sandbox)
    try:
        root = site["root"]
        for student in ("refused", "allowed"):
            _submit(root, student)
        settings = core.Settings(cell_timeout=15, case_timeout=60, memory_mb=2048, seed=7)
        refusing = gd.Cluster(site["cluster"].scheduler_address)
        allowing = gd.Cluster(site["cluster"].scheduler_address, allow_unsandboxed=True)
        try:
            refused = core.grade_submission(root, BATCH_ON, "refused", BATCH_ON, settings,
                                            job=refusing.job(BATCH_ON, "refused", BATCH_ON))
            allowed = core.grade_submission(root, BATCH_ON, "allowed", BATCH_ON, settings,
                                            job=allowing.job(BATCH_ON, "allowed", BATCH_ON))
        finally:
            refusing.close()
            allowing.close()
    finally:
        client.run(lambda: gd._sandbox.update(status=None))
    assert refused["outcome"] == "grader error", refused["cause"]
    assert "refused the task: the sandbox is unavailable there (test: no user namespaces)" in refused["cause"]
    assert allowed["outcome"] == "graded" and all(c["passed"] for c in allowed["checks"].values()), allowed["cause"]
    assert any(i["kind"] == "note" and "without the sandbox" in i["detail"] for i in allowed["issues"])


def test_on_one_cluster_deaths_lose_nothing_verdicts_match_and_a_host_without_sandbox_refuses(site):
    """The three checks that need a cluster, on one cluster: as separate tests, xdist spread them over workers
    that each started a cluster of their own (two worker processes each, and their restarts)."""
    killed_workers_lose_no_submission_and_a_worker_killer_ends_crashed(site)
    a_cluster_run_reports_exactly_what_a_local_run_does(site)
    a_worker_host_without_sandbox_refuses(site)


def test_a_worker_with_other_grading_code_refuses():
    """A worker whose grading files differ from the instructor's (another course version) refuses the task before
    running anything (no cluster needed: the task is called as a worker calls it)."""
    from grading import distributed as gd
    out = gd.run_task({"code": "0" * 64, "cells": [], "plans": {}, "settings": {}, "sandboxed": True,
                       "release": "x"})
    assert "differs from the instructor's" in out["refused"]
    assert gd.run_code_digest() != "0" * 64 and len(gd.run_code_digest()) == 64


def test_an_unreachable_scheduler_stops_grading_with_a_clear_message():
    import socket

    from grading import distributed as gd
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(RuntimeError, match="Refusing to grade: the Dask scheduler at .* did not answer"):
        gd.Cluster(address, timeout=1)

"""The instructor's class report of one graded assignment: one self-contained HTML file.

    python -m tools.course report ASSIGNMENT [--out PATH]      # default reports/<assignment>.html

Read after `nbgrader autograde` (nothing is graded here): scores per cell from the gradebook
(gradebook.db), outcomes, verdicts per check and the canonical notebooks from our grading reports
(grading_reports/<assignment>/<student>.<notebook>.json). The page has: the score histogram; the pass
rate of every graded function with its failures by kind (grading/export.failure_kind) and one example
message per kind (hidden checks' messages never contain expected values); outcomes and causes; integrity
flags (grading/integrity.py: a static scan of each student's own code; flags never change a score); a
table of students. Plots are embedded PNGs (matplotlib, Agg); the page loads nothing from elsewhere.
"""
import base64
import collections
import datetime
import html
import io
import os
import statistics
import sys

import nbformat

from grading import export, integrity
from grading import notebook as nbk
from grading.nbgrader_plugin import load_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KIND_COLORS = {"passed": "#3a9a5b", "not answered": "#b8bec7", "not run": "#7d8a99", "raised": "#d9822b",
               "type": "#8e6cc0", "shape": "#3f7fc4", "values": "#d64545", "other": "#c9a227",
               "no submission": "#e3e6ea", "not autograded": "#e3e6ea"}
CATEGORY_ORDER = ["patch", "files", "process", "introspection", "unparsable"]
CATEGORY_LABELS = {"patch": "patching", "files": "files", "process": "process", "introspection": "frames / gc",
                   "unparsable": "unparsable"}
CATEGORY_COLORS = {"patch": "#d64545", "files": "#d9822b", "process": "#8e6cc0", "introspection": "#3f7fc4",
                   "unparsable": "#8a96a3"}


class ReportError(Exception):
    """Why no report can be made (an unknown assignment, nothing graded yet): shown to the instructor."""


# ------------------------------------------------------------------ data

def kind_family(kind):
    """"raised ValueError" -> "raised" (the colour and legend group of a kind)."""
    return "raised" if kind.startswith("raised") else kind


def _known_assignments(root):
    names = set()
    for folder in ("source", "release"):
        path = os.path.join(root, folder)
        if os.path.isdir(path):
            names.update(n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n)) and not n.startswith("."))
    return names


def _release_notebook(root, assignment, notebook):
    try:
        return nbformat.read(os.path.join(root, "release", assignment, notebook + ".ipynb"), as_version=4)
    except (OSError, ValueError):
        return None


def _flags_of(root, assignment, student, notebook, report):
    """Integrity flags of one submission: from its report's canonical notebook, else (no report yet) from the
    submitted notebook rebuilt into the same canonical form."""
    if report is not None:
        return integrity.scan_report(report)
    path = os.path.join(root, "submitted", student, assignment, notebook + ".ipynb")
    if os.path.islink(path) or not os.path.isfile(path):
        return []
    nb, _ = nbk.read_notebook(path)
    release = _release_notebook(root, assignment, notebook)
    if nb is None or release is None:
        return []
    try:
        canonical = nbk.canonical_notebook(nb, release)
    except Exception:  # noqa: BLE001 - a notebook whose structure cannot be read has nothing to scan
        return []
    return integrity.scan_notebook(canonical, student)


def collect(root, assignment):
    """Everything the report shows, as plain data (the tests read it too)."""
    from nbgrader.api import Gradebook, MissingEntry
    known = _known_assignments(root)
    db = os.path.join(root, "gradebook.db")
    if not os.path.exists(db):
        if assignment not in known:
            raise ReportError(f"unknown assignment {assignment!r}; known: {', '.join(sorted(known)) or 'none'}")
        raise ReportError(f"nothing graded yet for {assignment}: there is no gradebook.db; "
                          f"run `nbgrader autograde {assignment}` first")
    gb = Gradebook("sqlite:///" + db)
    try:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            if assignment not in known:
                names = sorted(known | {x.name for x in gb.assignments})
                raise ReportError(f"unknown assignment {assignment!r}; known: {', '.join(names) or 'none'}") from None
            raise ReportError(f"nothing graded yet for {assignment}: it is not in the gradebook; "
                              f"run `nbgrader autograde {assignment}` first") from None
        submitted = {s.student.id: s for s in a.submissions}
        reports_dir = os.path.join(root, "grading_reports", assignment)
        if not submitted or not os.path.isdir(reports_dir) or not any(
                n.endswith(".json") for n in os.listdir(reports_dir)):
            raise ReportError(f"nothing graded yet for {assignment}: no submission has a grading report; "
                              f"run `nbgrader autograde {assignment}` first")
        notebooks = sorted(n.name for n in a.notebooks)
        max_score = float(a.max_score or 0)
        rows = export.function_rows(gb, root, {assignment})
        student_ids = [s.id for s in gb.students]
        scores = {}
        for sid, sub in submitted.items():
            scores[sid] = (float(sub.score or 0), float(sub.late_submission_penalty or 0), str(sub.timestamp or ""))
        duedate = str(a.duedate or "")
    finally:
        gb.close()

    points = {}      # grade id -> max score (the same for every student)
    for r in rows:
        points.setdefault(r["grade_id"], float(r["max_score"] or 0))
    functions = []   # [(function, [grade ids], points)] in notebook order
    for notebook in notebooks:
        for func, gids in export.graded_functions(root, assignment, notebook).items():
            functions.append((func, gids, sum(points.get(g, 0.0) for g in gids)))
    if not functions:  # no release notebook: each graded cell stands for its function
        functions = [(gid, [gid], pts) for gid, pts in points.items()]
    func_of = {gid: func for func, gids, _ in functions for gid in gids}

    students = []
    for sid in student_ids:
        reports = {r.get("notebook"): r for r in load_report(root, assignment, sid)} if sid in submitted else {}
        if sid not in submitted:
            outcome, cause = "no submission", ""
        elif not reports:
            outcome, cause = "not autograded", "no grading report (run nbgrader autograde)"
        else:
            worst = min(reports.values(), key=lambda r: export.SEVERITY.index(r["outcome"])
                        if r.get("outcome") in export.SEVERITY else -1)
            outcome, cause = worst.get("outcome", "?"), worst.get("cause", "")
        raw, penalty, stamp = scores.get(sid, (0.0, 0.0, ""))
        per_function = collections.OrderedDict((f, {"passed": True, "score": 0.0, "max": 0.0, "kinds": [],
                                                    "examples": []}) for f, _, _ in functions)
        for r in rows:
            if r["student_id"] != sid:
                continue
            f = per_function.setdefault(func_of.get(r["grade_id"], r["function"]),
                                        {"passed": True, "score": 0.0, "max": 0.0, "kinds": [], "examples": []})
            f["score"] += float(r["score"] or 0)
            f["max"] += float(r["max_score"] or 0)
            if r["passed"] is not True:
                f["passed"] = False
            check = (reports.get(r["notebook"]) or {}).get("checks", {}).get(r["grade_id"])
            if check is not None:
                for kind, message in export.check_failures(check):
                    f["kinds"].append(kind)
                    f["examples"].append((kind, message))
            elif r["failure_kinds"]:
                f["kinds"].append(r["failure_kinds"])
        flags = []
        seconds = 0.0
        for notebook in notebooks:
            rep = reports.get(notebook)
            if rep is not None:
                seconds += float(rep.get("seconds") or 0)
            if sid in submitted:
                flags += _flags_of(root, assignment, sid, notebook, rep)
        students.append({"id": sid, "submitted": sid in submitted, "score": max(0.0, raw - penalty), "raw": raw,
                         "penalty": penalty, "timestamp": stamp, "outcome": outcome, "cause": cause,
                         "functions": per_function, "flags": flags, "seconds": seconds})
    return {"assignment": assignment, "max_score": max_score, "duedate": duedate, "functions": functions,
            "students": students, "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def main_kind(kinds):
    """The kind that stands for a failed function: its most frequent kind, the most telling on a tie."""
    if not kinds:
        return "other"
    counts = collections.Counter(kinds)
    order = {k: i for i, k in enumerate(export.FAILURE_KINDS)}
    return min(counts, key=lambda k: (-counts[k], order.get(kind_family(k), 99), k))


def summarize(data):
    """Per-function pass rates and failure tables, outcome groups and grouped integrity flags."""
    graded = [s for s in data["students"] if s["submitted"]]
    funcs = []
    for func, gids, pts in data["functions"]:
        passed = sum(1 for s in graded if s["functions"].get(func, {}).get("passed"))
        main = collections.Counter()
        kinds = {}   # kind -> {"students": set, "cases": n, "example": message}
        for s in graded:
            f = s["functions"].get(func)
            if not f or f["passed"]:
                continue
            main[kind_family(main_kind(f["kinds"]))] += 1
            for kind, message in f["examples"] or [(k, "") for k in f["kinds"]]:
                entry = kinds.setdefault(kind, {"students": set(), "cases": 0, "example": message, "who": ""})
                entry["students"].add(s["id"])
                entry["cases"] += 1
                if not entry["example"] and message:
                    entry["example"] = message
        table = sorted(kinds.items(), key=lambda kv: (-len(kv[1]["students"]), -kv[1]["cases"], kv[0]))
        funcs.append({"function": func, "grade_ids": gids, "points": pts, "passed": passed, "n": len(graded),
                      "main": main, "kinds": table})
    outcomes = collections.OrderedDict()
    for s in sorted(data["students"], key=lambda s: s["id"]):
        outcomes.setdefault(s["outcome"], []).append(s)
    order = ["graded"] + [o for o in export.SEVERITY if o != "graded"] + ["not autograded", "no submission"]
    outcomes = collections.OrderedDict(sorted(outcomes.items(), key=lambda kv: order.index(kv[0])
                                              if kv[0] in order else len(order)))
    flags = collections.OrderedDict()
    for s in sorted(data["students"], key=lambda s: s["id"]):
        for f in s["flags"]:
            key = (s["id"], f.category, f.what)
            entry = flags.setdefault(key, {"student": s["id"], "category": f.category, "what": f.what,
                                           "where": [], "line": f.line, "code": f.code, "cell": f.cell})
            where = f"{f.where} {f.cell}" if f.where == "extra cell" else f.where
            if where not in entry["where"]:
                entry["where"].append(where)
    flagged = sorted({k[0] for k in flags})
    abnormal = [s for s in sorted(data["students"], key=lambda s: s["id"])
                if s["outcome"] in integrity.NOT_GRADED_NORMALLY]
    return {"functions": funcs, "outcomes": outcomes, "flags": list(flags.values()), "flagged": flagged,
            "abnormal": abnormal, "graded": graded}


# ------------------------------------------------------------------ plots

def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _style(ax):
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#9aa4b1")
    ax.spines["bottom"].set_color("#9aa4b1")
    ax.tick_params(colors="#3d4753", labelsize=9)


def histogram_png(scores, max_score):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    top = max(max_score, max(scores, default=0), 1)
    step = 1.0 if top <= 30 else top / 20
    edges = [i * step for i in range(int(top / step) + 2)]
    ax.hist(scores, bins=[e - step / 2 for e in edges], color="#3f7fc4", edgecolor="white", rwidth=0.9)
    if scores:
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#d64545", lw=1.5, ls="--")
        ax.text(mean, ax.get_ylim()[1] * 0.95, f" mean {mean:.1f}", color="#d64545", fontsize=9, va="top")
    ax.set_xlim(-step, top + step)
    ax.set_xlabel(f"score (of {max_score:g})", fontsize=9, color="#3d4753")
    ax.set_ylabel("students", fontsize=9, color="#3d4753")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _style(ax)
    return _png(fig)


def functions_png(funcs):
    """One stacked bar per graded function: passed, then the failed submissions by their main kind."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    families = ["passed"] + [k for k in export.FAILURE_KINDS]
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(funcs) + 1.1))
    names = [f["function"] for f in funcs][::-1]
    left = [0.0] * len(funcs)
    used = set()
    for fam in families:
        widths = []
        for f in funcs[::-1]:
            n = max(f["n"], 1)
            count = f["passed"] if fam == "passed" else f["main"].get(fam, 0)
            widths.append(100.0 * count / n)
        if any(widths):
            used.add(fam)
            ax.barh(names, widths, left=left, color=KIND_COLORS[fam], edgecolor="white", height=0.7,
                    label=fam if fam != "raised" else "raised an exception")
            left = [a + b for a, b in zip(left, widths)]
    for y, f in enumerate(funcs[::-1]):
        pct = 100.0 * f["passed"] / max(f["n"], 1)
        ax.text(101, y, f"{pct:.0f}% ({f['passed']}/{f['n']})", va="center", fontsize=9, color="#3d4753")
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("% of submissions", fontsize=9, color="#3d4753")
    _style(ax)
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.12 - 0.35 / max(len(funcs), 1)), ncol=len(used),
              frameon=False, fontsize=8.5, handlelength=1.2, columnspacing=1.2)
    return _png(fig)


# ------------------------------------------------------------------ HTML

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #e1e5ea; --soft: #f5f7f9; --accent: #3f7fc4; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f4; color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 24px 60px; }
header h1 { font-size: 24px; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
section { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px; margin-top: 18px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
h3 code { font-size: 13px; }
.note { color: var(--muted); font-size: 12.5px; margin: 4px 0 10px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 16px; }
.card { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 130px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; color: #3d4753; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.msg, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
td.msg { color: #3d4753; word-break: break-word; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; }
img { max-width: 100%; display: block; margin: 4px 0; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; white-space: nowrap;
        color: white; }
.ok { background: #3a9a5b; } .warn { background: #d9822b; } .bad { background: #d64545; } .grey { background: #8a96a3; }
.cell { display: inline-block; min-width: 22px; text-align: center; border-radius: 4px; font-size: 11.5px;
        padding: 1px 4px; color: white; }
.grid td { white-space: nowrap; }
.grid th.fn { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: 500;
              font-size: 12px; height: 150px; vertical-align: bottom; }
.legend > span { margin-right: 14px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.legend { line-height: 2; }
.empty { color: var(--muted); font-style: italic; }
table.flags { table-layout: fixed; }
table.flags td.who { background: #fbfcfd; border-right: 1px solid var(--line); }
table.flags tr.first td { border-top: 2px solid var(--line); }
"""

OUTCOME_PILL = {"graded": "ok", "no submission": "grey", "not autograded": "grey", "timed out": "warn",
                "out of memory": "warn"}
CELL_TEXT = {"passed": "✓", "not answered": "–", "not run": "NR", "raised": "EX", "type": "T", "shape": "S",
             "values": "V", "other": "?", "no submission": "", "not autograded": ""}


def _e(x):
    return html.escape(str(x), quote=True)


def _pill(outcome):
    return f'<span class="pill {OUTCOME_PILL.get(outcome, "bad")}">{_e(outcome)}</span>'


def _trim(message, n=320):
    message = " ".join(str(message).split())
    return message if len(message) <= n else message[: n - 1] + "…"


def render(data, summary):
    a, max_score = data["assignment"], data["max_score"]
    graded = summary["graded"]
    scores = [s["score"] for s in graded]
    mean = statistics.fmean(scores) if scores else 0.0
    median = statistics.median(scores) if scores else 0.0
    full = sum(1 for s in scores if max_score and abs(s - max_score) < 1e-9)
    normal = sum(1 for s in graded if s["outcome"] == "graded")
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report: {_e(a)}</title>"
           "<meta name='viewport' content='width=device-width, initial-scale=1'>"
           f"<style>{CSS}</style></head><body><main>"]
    out.append(f"<header><h1>Class report: <code style='font-size:20px'>{_e(a)}</code></h1>"
               f"<p>{len(data['students'])} students, {len(graded)} submissions; generated {_e(data['generated'])}"
               + (f"; due {_e(data['duedate'])}" if data["duedate"] else "") + "</p></header>")
    cards = [(f"{mean:.1f}<small style='font-size:13px;color:#5f6b7a'> / {max_score:g}</small>", "mean score"),
             (f"{median:g}", "median score"), (f"{full}", "full marks"),
             (f"{normal}/{len(graded)}", "graded normally"), (f"{len(summary['flagged'])}", "flagged submissions")]
    out.append("<div class='cards'>" + "".join(f"<div class='card'><b>{v}</b><span>{_e(k)}</span></div>"
                                               for v, k in cards) + "</div>")

    # scores
    out.append("<section><h2>Scores</h2>")
    out.append(f"<img alt='score histogram' src='data:image/png;base64,{histogram_png(scores, max_score)}'>")
    out.append("<p class='note'>Scores after late penalties, submissions only (students without a submission "
               "are listed under Outcomes).</p></section>")

    # functions
    out.append("<section><h2>Graded functions</h2><p class='note'>Share of submissions that pass every check of "
               "the function; a failed submission is coloured by the kind of failure most of its failed checks "
               "show.</p>")
    if summary["functions"]:
        png = functions_png(summary["functions"])
        out.append(f"<img alt='pass rate per function' src='data:image/png;base64,{png}'>")
    out.append("<table><tr><th>function</th><th>test cells</th><th class='num'>points</th>"
               "<th class='num'>passed</th><th class='num'>pass rate</th></tr>")
    for f in summary["functions"]:
        rate = 100.0 * f["passed"] / max(f["n"], 1)
        out.append(f"<tr><td><code>{_e(f['function'])}</code></td><td>{', '.join(_e(g) for g in f['grade_ids'])}</td>"
                   f"<td class='num'>{f['points']:g}</td><td class='num'>{f['passed']}/{f['n']}</td>"
                   f"<td class='num'>{rate:.0f}%</td></tr>")
    out.append("</table></section>")

    # failures
    out.append("<section><h2>Most common failures</h2><p class='note'>Per function, each kind of failure with "
               "the number of submissions and of failed checks that show it, and one message a student saw "
               "(hidden checks' messages never quote expected values). Kinds: not answered (the stub's "
               "NotImplementedError), not run (the submission stopped before the function was defined), "
               "raised &lt;exception&gt;, type, shape, values, other.</p>")
    any_failure = False
    for f in summary["functions"]:
        if not f["kinds"]:
            continue
        any_failure = True
        out.append(f"<h3><code>{_e(f['function'])}</code> &middot; {f['n'] - f['passed']} of {f['n']} failed</h3>")
        out.append("<table><tr><th style='width:130px'>kind</th><th class='num'>submissions</th>"
                   "<th class='num'>checks</th><th>example</th></tr>")
        for kind, entry in f["kinds"][:6]:
            color = KIND_COLORS.get(kind_family(kind), "#8a96a3")
            out.append(f"<tr><td><span class='pill' style='background:{color}'>{_e(kind)}</span></td>"
                       f"<td class='num'>{len(entry['students'])}</td><td class='num'>{entry['cases']}</td>"
                       f"<td class='msg'>{_e(_trim(entry['example']))}</td></tr>")
        if len(f["kinds"]) > 6:
            rest = f["kinds"][6:]
            out.append(f"<tr><td colspan='4' class='note'>and {len(rest)} rarer kinds: "
                       f"{_e(', '.join(k for k, _ in rest))}</td></tr>")
        out.append("</table>")
    if not any_failure:
        out.append("<p class='empty'>Every submission passed every check.</p>")
    out.append("</section>")

    # outcomes
    out.append("<section><h2>Outcomes</h2><p class='note'>graded: the submission ran (an honest zero is graded "
               "too); the other outcomes say why a submission could not run normally, with the cause the grader "
               "recorded.</p><table><tr><th>outcome</th><th class='num'>count</th><th>students</th></tr>")
    for outcome, members in summary["outcomes"].items():
        if outcome == "graded":
            who = ", ".join(_e(s["id"]) for s in members)
        else:
            who = "<br>".join(f"<b>{_e(s['id'])}</b>" + (f": <span class='note'>{_e(_trim(s['cause'], 200))}</span>"
                                                         if s["cause"] else "") for s in members)
        out.append(f"<tr><td>{_pill(outcome)}</td><td class='num'>{len(members)}</td><td>{who}</td></tr>")
    out.append("</table></section>")

    # integrity
    out.append("<section><h2>Integrity flags</h2><p class='note'>A static scan of each student's own code "
               "(solution cells and extra cells) for what an honest answer never needs: patching numpy, the test "
               "helpers or the kernel; reading files outside the assignment's folder; talking to the grader's "
               "channel or the process; walking frames or the garbage collector. Flags never change a score: "
               "every score is decided outside the student's process. They say which notebooks to read.</p>")
    if summary["flags"]:
        n = len(summary["flagged"])
        out.append(f"<p>{n} flagged submission{'s' if n != 1 else ''}: "
                   f"{', '.join('<b>' + _e(s) + '</b>' for s in summary['flagged'])}</p>")
        out.append("<p class='legend'>" + "".join(
            f"<span><span class='pill' style='background:{CATEGORY_COLORS[c]}'>{_e(CATEGORY_LABELS[c])}</span> "
            f"{_e(integrity.CATEGORIES[c])}</span>" for c in CATEGORY_ORDER) + "</p>")
        out.append("<table class='flags'><colgroup><col style='width:150px'><col style='width:100px'><col>"
                   "<col style='width:19%'><col style='width:44px'><col style='width:30%'></colgroup>"
                   "<tr><th>student</th><th>kind</th><th>what</th><th>where</th><th class='num'>line</th>"
                   "<th>code</th></tr>")
        by_student = collections.OrderedDict()
        for fl in summary["flags"]:
            by_student.setdefault(fl["student"], []).append(fl)
        for student, fls in by_student.items():
            fls.sort(key=lambda fl: (CATEGORY_ORDER.index(fl["category"]), fl["cell"], fl["line"]))
            for i, fl in enumerate(fls):
                where = ", ".join(fl["where"][:4]) + (f" and {len(fl['where']) - 4} more" if len(fl["where"]) > 4
                                                      else "")
                head = f"<td rowspan='{len(fls)}' class='who'><b>{_e(student)}</b></td>" if i == 0 else ""
                out.append(f"<tr class='{'first' if i == 0 else ''}'>{head}<td><span class='pill' "
                           f"style='background:{CATEGORY_COLORS[fl['category']]}'>"
                           f"{_e(CATEGORY_LABELS[fl['category']])}</span></td>"
                           f"<td>{_e(fl['what'])}</td><td>{_e(where)}</td><td class='num'>{fl['line']}</td>"
                           f"<td class='msg'>{_e(_trim(fl['code'], 110))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p class='empty'>No flags.</p>")
    out.append("<h3>Submissions that did not run normally</h3>")
    if summary["abnormal"]:
        out.append("<table><tr><th>student</th><th>outcome</th><th>cause</th></tr>")
        for s in summary["abnormal"]:
            out.append(f"<tr><td><b>{_e(s['id'])}</b></td><td>{_pill(s['outcome'])}</td>"
                       f"<td class='msg'>{_e(_trim(s['cause'], 300))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p class='empty'>None: every submission ran to the end.</p>")
    out.append("</section>")

    # students
    names = [f for f, _, _ in data["functions"]]
    out.append("<section><h2>Students</h2><p class='legend'>" + "".join(
        f"<span><span class='cell' style='background:{KIND_COLORS[k]}'>{CELL_TEXT[k] or '&nbsp;'}</span> {_e(k)}</span>"
        for k in ("passed", "not answered", "not run", "raised", "type", "shape", "values", "other")) + "</p>")
    out.append("<table class='grid'><tr><th>student</th><th class='num'>score</th><th>outcome</th>"
               + "".join(f"<th class='fn'>{_e(n)}</th>" for n in names)
               + "<th class='num'>flags</th><th class='num'>seconds</th></tr>")
    for s in sorted(data["students"], key=lambda s: (not s["submitted"], -s["score"], s["id"])):
        cells = []
        for n in names:
            f = s["functions"].get(n)
            if not s["submitted"] or f is None or s["outcome"] == "not autograded":
                cells.append("<td></td>")
                continue
            fam = "passed" if f["passed"] else kind_family(main_kind(f["kinds"]))
            title = "passed" if f["passed"] else ", ".join(dict.fromkeys(f["kinds"]))
            color = KIND_COLORS.get(fam, "#8a96a3")
            cells.append(f"<td><span class='cell' title='{_e(title)}' style='background:{color}'>"
                         f"{CELL_TEXT.get(fam, '?')}</span></td>")
        nflags = len({(f.category, f.what) for f in s["flags"]})
        flag_cell = f"<span class='pill bad'>{nflags}</span>" if nflags else ""
        score = f"{s['score']:g} / {max_score:g}" if s["submitted"] else "–"
        out.append(f"<tr><td><b>{_e(s['id'])}</b></td><td class='num'>{score}</td><td>{_pill(s['outcome'])}</td>"
                   + "".join(cells) + f"<td class='num'>{flag_cell}</td>"
                   f"<td class='num'>{s['seconds']:.1f}</td></tr>")
    out.append("</table></section></main></body></html>")
    return "\n".join(out)


def build(assignment, out=None, root=ROOT):
    """Write the report of ``assignment``; returns its path (raises ReportError)."""
    data = collect(root, assignment)
    page = render(data, summarize(data))
    path = out or os.path.join(root, "reports", assignment + ".html")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


USAGE = "usage: python -m tools.course report ASSIGNMENT [--out PATH]"


def main(argv, root=ROOT):
    args, out = list(argv), None
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            print(USAGE, file=sys.stderr)
            return 2
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1 or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        path = build(args[0], out, root)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(f"class report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

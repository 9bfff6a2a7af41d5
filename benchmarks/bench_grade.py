"""The grader's overhead: grading the solution notebooks vs simply executing them (issue 14; README "Grading").

Copies the chosen solution notebooks (default: all of ``solutions/{vi,en}``) to a temporary folder outside
the repository. For each notebook, side by side: execute it once with plain nbclient (a fresh kernel of this
environment, as ``jupyter nbconvert --execute`` would) and grade it once with ``src.grade.grade_notebook``
(isolated child, hidden cases), alternating which of the two goes first, so that both see the same load on a
shared machine. ``--rounds`` repeats this. Prints one markdown table (per notebook: median execute s, median
grade s, their ratio, the score, where the grader's time went) and

* the ratio of the totals (sum of per-notebook medians), which must stay <= 1.5, and
* the median of the per-notebook ratios,

with the load average seen during the run; writes everything to ``benchmarks/results/bench_grade.json``.

    python benchmarks/bench_grade.py                          # all 16 (idle machine: ~25 min a round)
    python benchmarks/bench_grade.py --lessons 00 04 --langs en --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src import grade  # noqa: E402


def execute(path: Path, timeout: float) -> float:
    """Seconds to execute one notebook top to bottom in a fresh kernel (start included), in a scratch folder."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as work:
        client = NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": work}}
        )
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start


def grade_once(path: Path, timeout: float, isolation: str) -> tuple[float, grade.GradeResult]:
    """Wall seconds of ``grade_notebook`` (reading, flag scan, isolated run, hidden cases, judging)."""
    start = time.perf_counter()
    result = grade.grade_notebook(path, timeout, name=path.name, isolation=isolation)
    return time.perf_counter() - start, result


def summarize(times: dict[str, dict], loads: list[float], rounds: int, isolation: str, started: float) -> dict:
    """The record of what was measured so far (per-notebook medians, the two ratios, the load)."""
    rows = []
    for name, entry in times.items():
        if not entry["execute"] or not entry["grade"]:
            continue
        execute_s, grade_s = statistics.median(entry["execute"]), statistics.median(entry["grade"])
        phases = {k: round(statistics.median(t.get(k, 0.0) for t in entry["timing"]), 2) for k in entry["timing"][0]}
        rows.append(
            {
                "notebook": name,
                "execute_s": [round(x, 2) for x in entry["execute"]],
                "grade_s": [round(x, 2) for x in entry["grade"]],
                "execute_median_s": round(execute_s, 2),
                "grade_median_s": round(grade_s, 2),
                "ratio": round(grade_s / execute_s, 3),
                "grade_phases_median_s": phases,
                "score": entry["score"],
                "reason": entry.get("reason", ""),
                "status": entry.get("status", {}),
            }
        )
    execute_total = sum(r["execute_median_s"] for r in rows)
    grade_total = sum(r["grade_median_s"] for r in rows)
    return {
        "what": "grade_notebook vs plain nbclient execution of the same solution notebooks, side by side",
        "rounds": rounds,
        "notebooks": rows,
        "execute_total_s": round(execute_total, 2),
        "grade_total_s": round(grade_total, 2),
        "ratio": round(grade_total / execute_total, 3) if execute_total else None,
        "median_notebook_ratio": round(statistics.median(r["ratio"] for r in rows), 3) if rows else None,
        "ratio_limit": 1.5,
        "isolation": isolation,
        "load_average_1min": {
            "median": round(statistics.median(loads), 2) if loads else None,
            "min": round(min(loads), 2) if loads else None,
            "max": round(max(loads), 2) if loads else None,
        },
        "cpus": os.cpu_count(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_s": round(time.time() - started, 1),
        "python": platform.python_version(),
    }


def print_table(record: dict) -> None:
    print(
        "\n| notebook | execute (s) | grade (s) | ratio | score | grade: startup / cells / harness / rest (s) |"
        "\n|---|---|---|---|---|---|"
    )
    for row in record["notebooks"]:
        scores = sorted({-1 if s is None else s for s in row["score"]})
        score = " ".join("—" if s == -1 else f"{100 * s:.0f} %" for s in scores)
        p = row["grade_phases_median_s"]
        rest = p.get("shutdown", 0) + p.get("other", 0) + p.get("retry", 0)
        print(
            f"| {row['notebook']} | {row['execute_median_s']:.1f} | {row['grade_median_s']:.1f} | {row['ratio']:.2f} "
            f"| {score} | {p.get('startup', 0):.1f} / {p.get('cells', 0):.1f} / {p.get('harness', 0):.1f} "
            f"/ {rest:.1f} |"
        )
    load = record["load_average_1min"]
    print(
        f"\nexecute total {record['execute_total_s']:.1f} s, grade total {record['grade_total_s']:.1f} s "
        f"(medians over {record['rounds']} round(s)), ratio of totals {record['ratio']:.2f} (must be <= 1.5), "
        f"median per-notebook ratio {record['median_notebook_ratio']:.2f}"
    )
    print(
        f"load average (1 min) during the run: median {load['median']}, min {load['min']}, max {load['max']}; "
        f"{record['cpus']} CPUs; isolation: {record['isolation']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="*", default=None, help="lesson numbers (default: all)")
    parser.add_argument("--langs", nargs="*", default=["vi", "en"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--isolation", default="auto", choices=("auto", "bubblewrap", "rlimits"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_grade.json"))
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    os.environ.update(SRC_NO_WIDGETS="1", MPLBACKEND="Agg", TQDM_DISABLE="1")
    chosen = []
    for lang in args.langs:
        for path in sorted((ROOT / "solutions" / lang).glob("*.ipynb")):
            if args.lessons is None or path.name[:2] in args.lessons:
                chosen.append((lang, path))
    chosen.sort(key=lambda item: (item[1].name, item[0]))  # lesson by lesson: a stopped run covers both languages
    if not chosen:
        parser.error("no solution notebook matches")
    isolation = grade._sandbox.choose_isolation(args.isolation)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    times: dict[str, dict[str, list]] = {}
    loads: list[float] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        copies = []
        for lang, path in chosen:
            copy = folder / f"{path.stem}_{lang}.ipynb"
            shutil.copy(path, copy)
            copies.append(copy)
        turn = 0
        for round_number in range(args.rounds):
            for copy in copies:
                entry = times.setdefault(copy.name, {"execute": [], "grade": [], "timing": [], "score": []})
                grade_first = turn % 2 == 1
                turn += 1
                for what in ("grade", "execute") if grade_first else ("execute", "grade"):
                    loads.append(os.getloadavg()[0])
                    if what == "execute":
                        entry["execute"].append(execute(copy, args.timeout))
                    else:
                        seconds, result = grade_once(copy, args.timeout, isolation)
                        entry["grade"].append(seconds)
                        entry["timing"].append({**result.timing, "other": seconds - sum(result.timing.values())})
                        entry["score"].append(result.score)
                        entry.setdefault("reason", result.reason)
                        entry.setdefault("status", result.status)
                loads.append(os.getloadavg()[0])
                print(
                    f"round {round_number + 1} {copy.name}: execute {entry['execute'][-1]:.1f} s, "
                    f"grade {entry['grade'][-1]:.1f} s ({'grade' if grade_first else 'execute'} first), "
                    f"score {entry['score'][-1]}, load {loads[-1]:.1f}",
                    flush=True,
                )
                record = summarize(times, loads, round_number + 1, grade._sandbox.describe(isolation), started)
                record["complete"] = False
                out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")  # kept if the run is stopped
    record = summarize(times, loads, args.rounds, grade._sandbox.describe(isolation), started)
    record["complete"] = True
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print_table(record)
    print(f"wrote {out}")
    return 0 if record["ratio"] <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())

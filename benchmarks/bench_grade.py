"""The grader's overhead: grading the solution notebooks vs simply executing them (issue 14; README "Grading").

Copies the chosen solution notebooks (default: all of ``solutions/{vi,en}``, 16 notebooks) to a
temporary folder outside the repository, executes each once with plain nbclient (a fresh kernel
of this environment, as ``jupyter nbconvert --execute`` would) and grades the folder once with
``src.grade`` (isolated child, hidden cases, reports). Prints one markdown table (per notebook:
execute s, grade s, score) and the ratio of the totals, which must stay <= 1.5; writes the
numbers to ``benchmarks/results/bench_grade.json``.

    python benchmarks/bench_grade.py                          # all 16 (idle machine: ~15 min)
    python benchmarks/bench_grade.py --lessons 00 04 --langs en
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from src import grade  # noqa: E402


def execute(path: Path, timeout: float) -> float:
    """Seconds to execute one notebook top to bottom in a fresh kernel, in a scratch folder."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="*", default=None, help="lesson numbers (default: all)")
    parser.add_argument("--langs", nargs="*", default=["vi", "en"])
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--isolation", default="auto", choices=("auto", "bubblewrap", "rlimits"))
    args = parser.parse_args()
    os.environ.update(SRC_NO_WIDGETS="1", MPLBACKEND="Agg", TQDM_DISABLE="1")
    chosen = []
    for lang in args.langs:
        for path in sorted((ROOT / "solutions" / lang).glob("*.ipynb")):
            if args.lessons is None or path.name[:2] in args.lessons:
                chosen.append((lang, path))
    if not chosen:
        parser.error("no solution notebook matches")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        for lang, path in chosen:
            shutil.copy(path, folder / f"{path.stem}_{lang}.ipynb")
        executed = {}
        for lang, path in chosen:
            executed[f"{path.stem}_{lang}.ipynb"] = execute(path, args.timeout)
            print(f"executed {path.stem} ({lang}): {executed[f'{path.stem}_{lang}.ipynb']:.1f} s", flush=True)
        start = time.perf_counter()
        results = grade.grade_notebooks(
            [folder], args.timeout, progress=True, out=Path(tmp) / "out", isolation=args.isolation
        )
        grading_total = time.perf_counter() - start
    for r in results:
        rows.append(
            {
                "notebook": r.notebook,
                "execute_s": round(executed[r.notebook], 2),
                "grade_s": round(r.seconds, 2),
                "score": r.score,
                "reason": r.reason,
            }
        )
    execute_total = sum(executed.values())
    ratio = grading_total / execute_total
    print("\n| notebook | execute (s) | grade (s) | score |\n|---|---|---|---|")
    for row in rows:
        score = "—" if row["score"] is None else f"{100 * row['score']:.0f} %"
        print(f"| {row['notebook']} | {row['execute_s']:.1f} | {row['grade_s']:.1f} | {score} |")
    print(
        f"\nexecute total {execute_total:.1f} s, grade total {grading_total:.1f} s, ratio {ratio:.2f} (must be <= 1.5)"
    )
    print(f"isolation: {results[0].isolation if results else '?'}")
    load = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / "bench_grade.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "notebooks": rows,
        "execute_total_s": round(execute_total, 2),
        "grade_total_s": round(grading_total, 2),
        "ratio": round(ratio, 3),
        "isolation": results[0].isolation if results else "",
        "load_average_at_end": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())

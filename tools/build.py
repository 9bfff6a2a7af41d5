"""Build the course notebooks: source/ -> solutions/{vi,en} (executed) and lessons/{vi,en}.

One-way generation. Each ``source/NN_name.py`` is a jupytext percent file:
markdown cells carry ``lang="vi"`` or ``lang="en"`` (they come in vi/en pairs),
code cells are shared. Solution regions (``### BEGIN SOLUTION`` ...
``### END SOLUTION``) stay in solutions/ (with nbgrader metadata) and become a
``# TODO`` plus ``raise NotImplementedError`` in lessons/.

    python tools/build.py                 # all lessons, both languages, executed
    python tools/build.py 01 03           # some lessons
    python tools/build.py --no-execute    # lessons/ only (fast); solutions keep old outputs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"
LANGS = ("vi", "en")
BUILD_VERSION = 1
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
TODO = "# TODO: lời giải của bạn / your solution"
_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)


def sources() -> list[Path]:
    return sorted(SOURCE.glob("[0-9][0-9]_*.py"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strip_solutions(code: str) -> str:
    """Replace every solution region by a TODO comment and ``raise NotImplementedError``."""

    def repl(match: re.Match[str]) -> str:
        indent = match.group(1)
        return f"{indent}{TODO}\n{indent}raise NotImplementedError{match.group(2)}"

    return _REGION.sub(repl, code)


def language_cell(lang: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(f'import src\n\nsrc.set_language("{lang}")')
    cell.metadata = {"tags": ["language"]}
    return cell


def build(source: Path, lang: str, kind: str) -> nbformat.NotebookNode:
    """The notebook of one language and kind ("solution" or "lesson"), unexecuted."""
    text = jupytext.read(source, fmt="py:percent")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(language_cell(lang))
    lesson = source.name[:2]
    solution_count = 0
    for cell in text.cells:
        meta = dict(cell.metadata)
        meta.pop("lines_to_next_cell", None)
        if cell.cell_type == "markdown":
            if meta.pop("lang", None) != lang:
                continue
            new = nbformat.v4.new_markdown_cell(cell.source)
        else:
            code = cell.source
            if BEGIN in code:
                solution_count += 1
                meta["nbgrader"] = {
                    "grade": False,
                    "grade_id": f"lesson{lesson}-solution{solution_count}",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
                if kind == "lesson":
                    code = strip_solutions(code)
            if kind == "lesson":  # lessons have no stored outputs to compare with
                code = re.sub(r"^# NBVAL_CHECK_OUTPUT[^\n]*\n", "", code)
            new = nbformat.v4.new_code_cell(code)
        new.metadata = meta
        nb.cells.append(new)
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{lesson}-{i:03d}"
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "course": {
            "source": f"source/{source.name}",
            "source_sha256": sha256(source),
            "build": BUILD_VERSION,
            "lang": lang,
            "kind": kind,
        },
    }
    return nb


def output_path(source: Path, lang: str, kind: str) -> Path:
    folder = "solutions" if kind == "solution" else "lessons"
    return ROOT / folder / lang / (source.stem + ".ipynb")


def execute(nb: nbformat.NotebookNode, cwd: Path, lang: str, timeout: int = 600) -> float:
    """Execute in place with nbclient (static widgets, the notebook's language); return seconds."""
    from nbclient import NotebookClient

    os.environ["SRC_NO_WIDGETS"] = "1"
    os.environ["SRC_LANG"] = lang
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                out.get("metadata", {}).pop("execution", None)
    return seconds


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


SUMMARIES = {
    "00": (
        "Phân vùng là gì, IoU/mIoU, bộ dữ liệu ghép vân, bốn họ đa tỉ lệ, FCN cơ sở",
        "What segmentation is, IoU/mIoU, the texture mosaics, four multi-scale families, an FCN baseline",
    ),
    "01": (
        "Trường tiếp nhận: công thức truy hồi, bảng theo lớp, trường hiệu dụng, trình khám phá tương tác",
        "Receptive field: the recurrence, per-layer tables, the effective RF, an interactive explorer",
    ),
    "02": (
        "Tích chập giãn từ đầu, hiện tượng lưới, trọng số hợp lệ, cái giá của output stride, multi-grid",
        "Dilated convolution from scratch, gridding, valid weights, the price of output stride, multi-grid",
    ),
    "03": (
        "ASPP và DeepLabV3 (ResNet, DenseNet-121), gộp kim tự tháp PSPNet, các hàm mất mát, thí nghiệm loại bỏ",
        "ASPP and DeepLabV3 (ResNet, DenseNet-121), PSPNet pyramid pooling, losses, an ablation",
    ),
    "04": (
        "CRF kết nối đầy đủ: suy luận trường trung bình, so với pydensecrf, làm sắc biên",
        "The fully-connected CRF: mean-field inference, checked against pydensecrf, sharper boundaries",
    ),
    "05": (
        "RefineNet: RCU, hợp nhất đa độ phân giải, CRP, bộ nhớ so với ResNet giãn",
        "RefineNet: RCU, multi-resolution fusion, CRP, memory against dilated ResNets",
    ),
    "06": (
        "Squeeze-and-Excitation: khối SE, SE-ResNet, scSE, SE trong mô hình phân vùng",
        "Squeeze-and-Excitation: the block, SE-ResNet, scSE, SE inside a segmentation model",
    ),
    "07": (
        "Tổng kết: mọi mô hình trên một bảng (mIoU, điểm F biên, tham số, FLOPs, độ trễ, bộ nhớ)",
        "Capstone: every model on one table (mIoU, boundary F, parameters, FLOPs, latency, memory)",
    ),
}


def update_readme(times: dict[str, float]) -> None:
    """Write the lessons table (summary, links, measured CPU time) between the README's markers."""
    readme = ROOT / "README.md"
    if not readme.exists():
        return
    rows = [
        "| # | bài / lesson | tóm tắt / summary | CPU (vi / en) |",
        "|---|---|---|---|",
    ]
    for source in sources():
        number = source.name[:2]
        vi, en = SUMMARIES.get(number, ("", ""))
        t = [times.get(f"{source.stem}/{lang}") for lang in LANGS]
        shown = " / ".join(f"{v:.0f} s" if v is not None else "?" for v in t)
        links = " · ".join(
            f"[{folder} {lang}]({folder}/{lang}/{source.stem}.ipynb)"
            for folder in ("lessons", "solutions")
            for lang in LANGS
        )
        rows.append(f"| {number} | `{source.stem}`<br>{links} | {vi}<br>*{en}* | {shown} |")
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- lessons-table:start -->", "<!-- lessons-table:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(head + start + "\n" + "\n".join(rows) + "\n" + end + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers such as 00 01 (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write lessons/ only; do not execute solutions")
    parser.add_argument("--lang", choices=LANGS, action="append", help="only this language (repeatable)")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.lessons or s.name[:2] in args.lessons]
    if not chosen:
        print("no lesson matches", args.lessons, file=sys.stderr)
        return 2
    times_file = ROOT / "tools" / "notebook_times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    for source in chosen:
        for lang in args.lang or LANGS:
            write(build(source, lang, "lesson"), output_path(source, lang, "lesson"))
            if args.no_execute:
                continue
            nb = build(source, lang, "solution")
            path = output_path(source, lang, "solution")
            seconds = execute(nb, path.parent, lang)
            write(nb, path)
            times[f"{source.stem}/{lang}"] = round(seconds, 1)
            print(f"{source.stem} [{lang}] executed in {seconds:.1f} s", flush=True)
    times_file.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
    update_readme(times)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

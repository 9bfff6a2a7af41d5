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


# The course's GitHub repository (owner/name) and branch, for Colab links and the Colab install of `src`.
# Set SRC_GITHUB_REPO / SRC_GITHUB_BRANCH when building (tools/build.py, tools/site.py) to change them.
GITHUB_REPO = "OWNER/segmentation-course"
GITHUB_BRANCH = "main"
BOOTSTRAP = """# Outside a clone of the course (Colab, a plain Jupyter) `src` is missing: install it once, quietly,
# without touching torch / torchvision / numpy (SRC_COURSE_PIP overrides where it comes from).
import pkgutil

try:  # an editable install (make lab) is found by an import hook that pkgutil does not list
    import src
except ModuleNotFoundError:
    import os, subprocess, sys, tempfile

    course = os.environ.get("SRC_COURSE_PIP", "git+https://github.com/{repo}.git@{branch}")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", course], check=True)
    present = {{m.name for m in pkgutil.iter_modules()}}
    needed = {{"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "scipy": "scipy", "PIL": "pillow",
              "skimage": "scikit-image", "matplotlib": "matplotlib", "pandas": "pandas", "tqdm": "tqdm"}}
    missing = [name for module, name in needed.items() if module not in present]
    if missing:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
            if "numpy" in present:  # keep the versions already installed
                import numpy
                constraints.write(f"numpy=={{numpy.__version__}}\\n")
            if "torch" in present:
                import torch
                constraints.write(f"torch=={{torch.__version__}}\\n")
            if "torchvision" in present:
                import torchvision
                constraints.write(f"torchvision=={{torchvision.__version__}}\\n")
        subprocess.run([*pip, "-c", constraints.name, *missing], check=True)
"""


def github_repo() -> str:
    """The course's GitHub ``owner/name`` (``SRC_GITHUB_REPO`` overrides :data:`GITHUB_REPO`)."""
    return os.environ.get("SRC_GITHUB_REPO") or GITHUB_REPO


def github_branch() -> str:
    return os.environ.get("SRC_GITHUB_BRANCH") or GITHUB_BRANCH


class SourceError(ValueError):
    """A lesson source the build refuses; ``problems`` are ``"source/NN_x.py:LINE: what is wrong"`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_CELL = re.compile(r"^# %%(.*)$")
_LANG = re.compile(r'\blang="([^"]*)"')
#: sections every lesson needs, per language: (word in the prose, what it is)
SECTIONS = {
    "vi": (("Mục tiêu", "goals"), ("Ghi nhớ", "key takeaways"), ("Tài liệu tham khảo", "references")),
    "en": (("Goals", "goals"), ("Key takeaways", "key takeaways"), ("References", "references")),
}


def _where(source: Path) -> str:
    try:
        return str(source.resolve().relative_to(ROOT))
    except ValueError:
        return str(source)


def _cells(lines: list[str]) -> list[dict]:
    """The percent-format cells: kind ("markdown", "code", "raw"), lang, first line number, lines (1-based)."""
    cells: list[dict] = []
    for number, line in enumerate(lines, 1):
        match = _CELL.match(line)
        if match:
            rest = match.group(1)
            kind = "markdown" if re.search(r"\[(markdown|md)\]", rest) else "raw" if "[raw]" in rest else "code"
            lang = _LANG.search(rest)
            cells.append({"kind": kind, "lang": lang.group(1) if lang else None, "line": number, "body": []})
        elif cells:
            cells[-1]["body"].append((number, line))
    return cells


def header_metadata(source: Path) -> dict:
    """The notebook metadata of the source's jupytext header (``jupyter:`` block), e.g. ``lesson.summary``."""
    return dict(jupytext.read(source, fmt="py:percent").metadata)


def summary(source: Path) -> tuple[str, str]:
    """The lesson's one-line (vi, en) summary for the README table, from its header's ``lesson.summary``."""
    found = header_metadata(source).get("lesson", {}).get("summary", {})
    return str(found.get("vi", "")), str(found.get("en", ""))


def check_source(source: Path) -> None:
    """Refuse a source the build would turn into a broken lesson; raise :class:`SourceError` naming file and line.

    Checked: the header's ``lesson.summary`` (vi and en); every markdown cell has ``lang="vi"`` or
    ``lang="en"``, and a vi cell is followed by its en twin; ``### BEGIN SOLUTION`` / ``### END SOLUTION``
    balanced, inside one code cell and indented (inside a function body, so the stripped lesson still
    runs); the prose of each language has goals, key takeaways and references (citing an arXiv id).
    """
    where = _where(source)
    lines = source.read_text(encoding="utf-8").splitlines()
    problems = []
    cells = _cells(lines)
    vi, en = summary(source) if lines and lines[0] == "# ---" else ("", "")
    for lang, text in (("vi", vi), ("en", en)):
        if not text.strip():
            problems.append(f"{where}:1: header lacks `lesson: summary: {lang}:` (the README table's summary)")
    for i, cell in enumerate(cells):
        if cell["kind"] != "markdown":
            continue
        if cell["lang"] not in LANGS:
            problems.append(f'{where}:{cell["line"]}: markdown cell without lang="vi" or lang="en"')
            continue
        if cell["lang"] == "vi":
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            if nxt is None or nxt["kind"] != "markdown" or nxt["lang"] != "en":
                problems.append(f"{where}:{cell['line']}: Vietnamese cell not followed by its English twin")
        else:
            prev = cells[i - 1] if i else None
            if prev is None or prev["kind"] != "markdown" or prev["lang"] != "vi":
                problems.append(f"{where}:{cell['line']}: English cell without its Vietnamese twin before it")
    for cell in cells:
        if cell["kind"] != "code":
            continue
        opened = None
        for number, line in cell["body"]:
            stripped = line.strip()
            if stripped.startswith(BEGIN):
                if opened is not None:
                    problems.append(f"{where}:{number}: {BEGIN} while the one at line {opened} is still open")
                opened = number
                if not line[: len(line) - len(line.lstrip())]:
                    problems.append(f"{where}:{number}: {BEGIN} is not indented (it must sit inside a function body)")
            elif stripped.startswith(END):
                if opened is None:
                    problems.append(f"{where}:{number}: {END} without a {BEGIN} before it")
                opened = None
        if opened is not None:
            problems.append(f"{where}:{opened}: {BEGIN} is never closed by {END} in its cell")
    for lang in LANGS:
        prose = [c for c in cells if c["kind"] == "markdown" and c["lang"] == lang]
        text = "\n".join(line for c in prose for _, line in c["body"])
        first = prose[0]["line"] if prose else 1
        for word, what in SECTIONS[lang]:
            if word not in text:
                problems.append(f"{where}:{first}: the {lang} prose has no '{word}' ({what}) section")
        references = text.split(SECTIONS[lang][2][0], 1)
        if len(references) == 2 and "arXiv" not in references[1]:
            problems.append(f"{where}:{first}: the {lang} references cite no paper by arXiv id")
    if problems:
        raise SourceError(problems)


def language_cell(lang: str) -> nbformat.NotebookNode:
    """The first cell: the Colab bootstrap (installs `src` only when it is missing), then the language."""
    bootstrap = BOOTSTRAP.format(repo=github_repo(), branch=github_branch())
    cell = nbformat.v4.new_code_cell(f'{bootstrap}import src\n\nsrc.set_language("{lang}")')
    cell.metadata = {"tags": ["language"]}
    return cell


def build(source: Path, lang: str, kind: str) -> nbformat.NotebookNode:
    """The notebook of one language and kind ("solution" or "lesson"), unexecuted; refuses a bad source."""
    check_source(source)
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
        vi, en = summary(source)
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
    problems = []
    for source in chosen:
        try:
            check_source(source)
        except SourceError as exc:
            problems += exc.problems
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"build refused: {len(problems)} problem(s); nothing was written", file=sys.stderr)
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

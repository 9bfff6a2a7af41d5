"""The record: results of the course's experiments, stored with the package, read by the lessons.

Every lesson claim ("ASPP helps on this data", "SE helps") is measured by a
script in ``experiments/`` over >= 5 seeds and stored as
``src/results/<name>.json`` (package data, so a non-editable ``pip install``
finds it; never read relative to the working directory). The schema is
DESIGN's::

    {"lesson", "claim": {"vi", "en"}, "metric", "groups": {name: [per-seed]},
     "config": {... image_size, output_stride, atrous_rates ...}, "seeds",
     "versions", "claim_test": {"better", "worse", "higher_is_better", "t"}}

A lesson states an effect only when Welch's t statistic (Welch, "The
generalization of Student's problem when several different population
variances are involved", Biometrika 1947) of ``better`` over ``worse`` is at
least :data:`T_THRESHOLD` = 2, i.e. the difference of the means clears two
standard errors; otherwise it reports a null result. Used from lesson 01 on.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .i18n import bad_argument, get_language, tr

__all__ = [
    "MIN_SEEDS",
    "T_THRESHOLD",
    "Record",
    "available",
    "format_mean_std",
    "format_number",
    "load",
    "load_json",
    "make_record",
    "mean_std",
    "paired_t",
    "results_path",
    "save",
    "validate",
    "welch_t",
]

T_THRESHOLD = 2.0
MIN_SEEDS = 5
_KEYS = ("lesson", "claim", "metric", "groups", "config", "seeds", "versions", "claim_test")
_CONFIG_KEYS = ("image_size", "output_stride", "atrous_rates")


def _numbers(function: str, argument: str, values: Any, at_least: int = 2) -> list[float]:
    if (
        isinstance(values, (str, bytes, Mapping))
        or not isinstance(values, Sequence)
        or len(values) < at_least
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in values)
    ):
        raise bad_argument(
            function,
            argument,
            f"một dãy ít nhất {at_least} số hữu hạn (một giá trị mỗi hạt giống ngẫu nhiên)",
            f"a sequence of at least {at_least} finite numbers (one value per seed)",
            values,
        )
    return [float(v) for v in values]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) of per-seed values."""
    xs = _numbers("mean_std", "values", values)
    return statistics.fmean(xs), statistics.stdev(xs)


def welch_t(better: Sequence[float], worse: Sequence[float], higher_is_better: bool = True) -> float:
    """Welch's t statistic of ``better`` over ``worse``: (mean difference) / sqrt(s1²/n1 + s2²/n2).

    Positive when ``better`` is better (higher, or lower when
    ``higher_is_better=False``); ``inf`` / ``-inf`` when both groups have zero
    spread and differ, 0 when they are identical.
    """
    a = _numbers("welch_t", "better", better)
    b = _numbers("welch_t", "worse", worse)
    if not isinstance(higher_is_better, bool):
        raise bad_argument(
            "welch_t", "higher_is_better", "True hoặc False", "True or False", higher_is_better, TypeError
        )
    diff = statistics.fmean(a) - statistics.fmean(b)
    if not higher_is_better:
        diff = -diff
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    if se == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / se


def paired_t(a: Sequence[float], b: Sequence[float]) -> float:
    """Paired t statistic of ``a`` over ``b``: mean(d) / (std(d) / sqrt(n)), with d_i = a_i - b_i.

    For one set of units measured twice (e.g. the same trained network, one per
    seed, scored before and after a post-processing step), ``a[i]`` and ``b[i]``
    belong to the same seed. Pairing removes the seed-to-seed spread shared by
    both measurements, which :func:`welch_t` (two independent groups) counts as
    noise. Positive when ``a`` is higher on average; ``inf`` / ``-inf`` when all
    differences are equal and non-zero, 0 when they are all zero.
    """
    xs = _numbers("paired_t", "a", a)
    ys = _numbers("paired_t", "b", b)
    if len(xs) != len(ys):
        raise bad_argument(
            "paired_t",
            "b",
            f"một dãy cùng độ dài với a ({len(xs)} giá trị, một giá trị mỗi hạt giống)",
            f"a sequence as long as a ({len(xs)} values, one per seed)",
            b,
        )
    diffs = [x - y for x, y in zip(xs, ys)]
    mean, std = statistics.fmean(diffs), statistics.stdev(diffs)
    if std == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / (std / math.sqrt(len(diffs)))


def format_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, with a decimal comma in Vietnamese (0,512) and a point in English."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_argument("format_number", "value", "một số", "a number", value, TypeError)
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise bad_argument("format_number", "digits", "một số nguyên >= 0", "an integer >= 0", digits)
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if get_language() == "vi" else text


def format_mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``"mean ± std (n seeds)"`` in the current language, e.g. ``0,512 ± 0,021 (5 hạt giống)``."""
    xs = _numbers("format_mean_std", "values", values)
    mean, std = statistics.fmean(xs), statistics.stdev(xs)
    n = len(xs)
    return f"{format_number(mean, digits)} ± {format_number(std, digits)} " + tr(f"({n} hạt giống)", f"({n} seeds)")


def software_versions() -> dict[str, str]:
    """Versions of Python, torch, numpy and scikit-image (stored with every result)."""
    versions = {"python": platform.python_version()}
    for name in ("torch", "numpy", "skimage"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:  # pragma: no cover - all are requirements
            versions[name] = "missing"
    return versions


def validate(record: Mapping[str, Any]) -> dict[str, Any]:
    """Check a result against DESIGN's schema (>= 5 seeds per group, the t matching the groups); return it."""
    if not isinstance(record, Mapping):
        raise bad_argument("validate", "record", "một dict kết quả", "a result dict", record, TypeError)
    missing = [k for k in _KEYS if k not in record]
    if missing:
        raise bad_argument("validate", "record", f"đủ các khoá {_KEYS}", f"all the keys {_KEYS}", f"missing {missing}")
    claim = record["claim"]
    if not isinstance(claim, Mapping) or not all(isinstance(claim.get(k), str) and claim.get(k) for k in ("vi", "en")):
        raise bad_argument("validate", "claim", "{'vi': ..., 'en': ...}", "{'vi': ..., 'en': ...}", claim)
    groups = record["groups"]
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise bad_argument("validate", "groups", "ít nhất hai nhóm", "at least two groups", groups)
    seeds = record["seeds"]
    for name, values in groups.items():
        _numbers("validate", f"groups[{name!r}]", values, MIN_SEEDS)
        if len(values) != len(seeds):
            raise bad_argument(
                "validate", f"groups[{name!r}]", f"{len(seeds)} giá trị (một mỗi hạt giống)",
                f"{len(seeds)} values (one per seed)", values,
            )  # fmt: skip
    config = record["config"]
    if not isinstance(config, Mapping) or any(k not in config for k in _CONFIG_KEYS):
        raise bad_argument("validate", "config", f"có các khoá {_CONFIG_KEYS}", f"the keys {_CONFIG_KEYS}", config)
    test = record["claim_test"]
    if not isinstance(test, Mapping) or test.get("better") not in groups or test.get("worse") not in groups:
        raise bad_argument(
            "validate", "claim_test", "better và worse là tên hai nhóm", "better and worse naming two groups", test
        )
    t = welch_t(groups[test["better"]], groups[test["worse"]], bool(test.get("higher_is_better", True)))
    stored = test.get("t")
    if not isinstance(stored, (int, float)) or not (
        math.isclose(stored, t, rel_tol=1e-6, abs_tol=1e-9) or (math.isinf(t) and stored == t)
    ):
        raise bad_argument("validate", "claim_test.t", f"t Welch tính từ các nhóm ({t:.4f})",
                           f"the Welch t of the groups ({t:.4f})", stored)  # fmt: skip
    return dict(record)


def make_record(
    lesson: str,
    claim_vi: str,
    claim_en: str,
    metric: str,
    groups: Mapping[str, Sequence[float]],
    config: Mapping[str, Any],
    seeds: Sequence[int],
    better: str,
    worse: str,
    higher_is_better: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A validated result dict: the groups, their Welch t (better over worse) and the software versions."""
    groups = {name: [float(v) for v in values] for name, values in groups.items()}
    if better not in groups or worse not in groups:
        raise bad_argument("make_record", "better/worse", f"tên trong {list(groups)}", f"names in {list(groups)}",
                           (better, worse))  # fmt: skip
    record = {
        "lesson": lesson,
        "claim": {"vi": claim_vi, "en": claim_en},
        "metric": metric,
        "groups": groups,
        "config": dict(config),
        "seeds": list(seeds),
        "versions": software_versions(),
        "claim_test": {
            "better": better,
            "worse": worse,
            "higher_is_better": higher_is_better,
            "t": welch_t(groups[better], groups[worse], higher_is_better),
        },
        **extra,
    }
    return validate(record)


def _results_root():
    return resources.files("src").joinpath("results")


def results_path(name: str) -> Path:
    """Where ``save`` writes ``name`` inside the package (``src/results/<name>.json``)."""
    return Path(__file__).resolve().parent / "results" / f"{name}.json"


def available() -> list[str]:
    """Names of the stored claim results (files with a ``claim_test``), found through the installed package."""
    root = _results_root()
    if not root.is_dir():
        return []
    names = []
    for p in root.iterdir():
        if p.name.endswith(".json") and "claim_test" in json.loads(p.read_text(encoding="utf-8")):
            names.append(p.name[: -len(".json")])
    return sorted(names)


def load_json(name: str) -> dict[str, Any]:
    """Any stored measurement ``src/results/<name>.json`` (e.g. lesson 05's ``refinenet_memory``), as a dict.

    Read through the package (``importlib.resources``), so it works from any
    working directory and from a non-editable install.
    """
    if not isinstance(name, str) or not name:
        raise bad_argument("load_json", "name", "tên một tệp kết quả", "the name of a results file", name, TypeError)
    resource = _results_root().joinpath(f"{name}.json")
    if not resource.is_file():
        stored = sorted(p.name[:-5] for p in _results_root().iterdir() if p.name.endswith(".json"))
        raise bad_argument("load_json", "name", f"một trong {stored}", f"one of {stored}", name)
    return json.loads(resource.read_text(encoding="utf-8"))


def save(record: Mapping[str, Any], name: str, path: str | Path | None = None) -> Path:
    """Validate and write a result (default: ``src/results/<name>.json``); return the path."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise bad_argument("save", "name", "một tên tệp không có thư mục", "a file name without folders", name)
    out = Path(path) if path is not None else results_path(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(validate(record), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


@dataclass
class Record:
    """One stored result, with helpers to show it in a lesson."""

    name: str
    data: dict[str, Any]

    @property
    def groups(self) -> dict[str, list[float]]:
        return self.data["groups"]

    @property
    def config(self) -> dict[str, Any]:
        return self.data["config"]

    @property
    def t(self) -> float:
        """Welch t of the claim's better group over its worse group."""
        return float(self.data["claim_test"]["t"])

    @property
    def holds(self) -> bool:
        """True when the claim clears the bar: Welch t >= 2."""
        return self.t >= T_THRESHOLD

    @property
    def claim(self) -> str:
        """The claim, in the current language."""
        return tr(self.data["claim"]["vi"], self.data["claim"]["en"])

    def mean(self, group: str) -> float:
        return statistics.fmean(self.groups[group])

    def summary(self, digits: int = 3) -> str:
        """One line per group (mean ± std over seeds) and the verdict, in the current language."""
        lines = [f"{self.data['metric']}:"]
        width = max(len(g) for g in self.groups)
        for group, values in self.groups.items():
            lines.append(f"  {group:<{width}}  {format_mean_std(values, digits)}")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        """The claim if Welch t >= 2; the opposite stated if t <= -2; else a plain null result."""
        test = self.data["claim_test"]
        t = format_number(self.t, 1) if math.isfinite(self.t) else str(self.t)
        if self.holds:
            return tr(
                f"Welch t = {t} >= 2: {self.data['claim']['vi']}", f"Welch t = {t} >= 2: {self.data['claim']['en']}"
            )
        if self.t <= -T_THRESHOLD:
            return tr(
                f"Welch t = {t} <= -2: ngược với giả thuyết, {test['worse']} tốt hơn {test['better']} một cách "
                "đo được; giả thuyết không đứng vững trong thiết lập này.",
                f"Welch t = {t} <= -2: the opposite of the claim, {test['worse']} measurably beats {test['better']}; "
                "the claim does not hold in this setting.",
            )
        return tr(
            f"Welch t = {t} < 2: không đo được khác biệt giữa {test['better']} và {test['worse']} "
            "vượt quá nhiễu giữa các hạt giống ngẫu nhiên.",
            f"Welch t = {t} < 2: no measurable difference between {test['better']} and {test['worse']} "
            "beyond the seed-to-seed noise.",
        )

    def within_spread(self, group: str, value: float, k: float = 3.0) -> bool:
        """Whether ``value`` lies within ``k`` standard deviations of ``group``'s recorded mean."""
        mean, std = mean_std(self.groups[group])
        return abs(value - mean) <= k * max(std, 1e-3)


def load(name: str) -> Record:
    """The stored result ``name`` (``src/results/<name>.json``), read through the package, validated."""
    if not isinstance(name, str) or not name:
        raise bad_argument("load", "name", "tên một kết quả đã lưu", "the name of a stored result", name, TypeError)
    resource = _results_root().joinpath(f"{name}.json")
    if not resource.is_file():
        raise bad_argument("load", "name", f"một trong {available()}", f"one of {available()}", name)
    return Record(name, validate(json.loads(resource.read_text(encoding="utf-8"))))

"""The narrow channel between the student's kernel and the grader (see :mod:`src.grade`).

After the notebook's last cell the grader appends one cell, :data:`HARNESS`. In
the student's kernel it looks up each exercise's learner function by name, calls
it through the hidden spec (``src.checks._hidden``) on the hidden cases, one case
at a time under a time limit, and encodes the plain results as JSON (numpy arrays
through ``numpy.save(..., allow_pickle=False)``, never pickle). The JSON comes
back as that cell's only output, tagged with a one-time nonce. The grader decodes
it with :func:`decode` and compares, in its own process, with the references it
computes itself: nothing the student's code writes to disk is read for a verdict.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np

MIME = "application/x-src-grade"
#: the biggest harness answer the grader accepts (bytes of JSON)
MAX_ANSWER = 64 * 2**20

HARNESS = r"""
def _src_grade_harness(config):
    import base64, importlib.util, io, json, signal, sys
    import numpy as np
    from IPython import get_ipython
    from IPython.display import display

    # fresh copies of the spec modules: whatever the notebook patched in them is gone
    for name in [n for n in sys.modules if n == "src.checks" or n.startswith(("src.checks.", "_src_grade_specs_"))]:
        del sys.modules[name]
    for number, path in enumerate(config["spec_files"]):
        spec_ = importlib.util.spec_from_file_location(f"_src_grade_specs_{number}", path)
        module = importlib.util.module_from_spec(spec_)
        sys.modules[spec_.name] = module
        spec_.loader.exec_module(module)
    from src.checks import _hidden

    class _TookTooLong(BaseException):
        pass

    def on_alarm(signum, frame):
        raise _TookTooLong()

    def encode(value, depth=0):
        if depth > 50:
            return {"other": "too deep"}
        kind = type(value)
        if value is None:
            return {"none": 1}
        if kind is bool:
            return {"b": bool(value)}
        if kind is int:
            return {"i": int.__repr__(value)}
        if kind is float:
            return {"f": float.__repr__(value)}
        if kind is str:
            return {"s": str.__str__(value)}
        if kind in (list, tuple):
            return {"l" if kind is list else "t": [encode(v, depth + 1) for v in value]}
        if kind is dict:
            return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in dict.items(value)]}
        if kind is np.ndarray or isinstance(value, np.generic):
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(value), allow_pickle=False)
            return {"a" if kind is np.ndarray else "g": base64.b64encode(buffer.getvalue()).decode("ascii")}
        return {"other": kind.__name__[:80]}

    ns = get_ipython().user_ns
    answer = {"nonce": config["nonce"], "exercises": {}}
    previous = signal.signal(signal.SIGALRM, on_alarm)
    for exercise in config["exercises"]:
        record = answer["exercises"][exercise] = {"cases": []}
        try:
            spec = _hidden.hidden_spec(exercise)
        except Exception as exc:
            record["missing_spec"] = f"{type(exc).__name__}"
            continue
        if spec.function not in ns:
            record["missing"] = spec.function
            continue
        learner = ns[spec.function]
        try:
            cases = list(spec.cases())
        except Exception as exc:
            record["cases_error"] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        for args, kwargs in cases:
            try:
                signal.setitimer(signal.ITIMER_REAL, float(spec.time_limit_s))
                try:
                    value = spec.call(learner, args, kwargs)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                record["cases"].append({"ok": encode(value)})
            except _TookTooLong:
                record["cases"].append({"timeout": float(spec.time_limit_s)})
            except BaseException as exc:
                record["cases"].append({"error": f"{type(exc).__name__}: {exc}"[:300]})
    signal.signal(signal.SIGALRM, previous)
    display({"MIME_TYPE": json.dumps(answer)}, raw=True)
""".replace("MIME_TYPE", MIME)


def harness_cell(config: dict[str, Any]) -> str:
    """The source of the appended cell: the harness, then its call with ``config``."""
    return HARNESS + f"\n_src_grade_harness(__import__('json').loads({json.dumps(json.dumps(config))}))\n"


class NotPlain:
    """What the learner returned when it was no plain data (shown by its type name)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


def decode(item: Any, depth: int = 0) -> Any:
    """The plain value of one encoded answer; raises ValueError on anything malformed."""
    if depth > 60 or not isinstance(item, dict) or len(item) != 1:
        raise ValueError("malformed answer")
    ((kind, value),) = item.items()
    if kind == "none":
        return None
    if kind == "b" and isinstance(value, bool):
        return value
    if kind == "i" and isinstance(value, str) and len(value) < 5000:
        return int(value)
    if kind == "f" and isinstance(value, str):
        return float(value)
    if kind == "s" and isinstance(value, str):
        return value
    if kind in ("l", "t") and isinstance(value, list):
        items = [decode(v, depth + 1) for v in value]
        return items if kind == "l" else tuple(items)
    if kind == "d" and isinstance(value, list):
        out = {}
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("malformed dict")
            key = decode(pair[0], depth + 1)
            try:
                out[key] = decode(pair[1], depth + 1)
            except TypeError as exc:  # unhashable key
                raise ValueError("malformed dict key") from exc
        return out
    if kind in ("a", "g") and isinstance(value, str):
        array = np.load(io.BytesIO(base64.b64decode(value, validate=True)), allow_pickle=False)
        return array if kind == "a" else array[()]
    if kind == "other" and isinstance(value, str):
        return NotPlain(value)
    raise ValueError("malformed answer")


def read_answer(outputs: list[Any], nonce: str, cleared: bool = False) -> dict[str, Any] | None:
    """The harness answer among the harness cell's outputs.

    None when absent; ``{"tampered": True, "exercises": {}}`` when the cell's outputs were cleared or hold
    more than one answer (a thread of the notebook wrote into the harness cell).
    """
    tagged = [o for o in outputs if hasattr(o, "get") and MIME in (o.get("data") or {})]
    if cleared or len(tagged) > 1:
        return {"tampered": True, "exercises": {}}
    for output in tagged:
        data = output.get("data", {}) if hasattr(output, "get") else {}
        text = data.get(MIME) if hasattr(data, "get") else None
        if not isinstance(text, str) or len(text) > MAX_ANSWER:
            continue
        try:
            answer = json.loads(text)
        except ValueError:
            continue
        if isinstance(answer, dict) and answer.get("nonce") == nonce and isinstance(answer.get("exercises"), dict):
            return answer
    return None

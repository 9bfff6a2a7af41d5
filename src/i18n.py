"""Language of messages and plot labels (vi / en).

Every user-facing string in ``src`` goes through :func:`tr`, which picks the
Vietnamese or English text according to :func:`set_language`. The default is
Vietnamese (the course's first language); the environment variable
``SRC_LANG`` overrides it at import time.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("vi", "en")
_state = {"lang": os.environ.get("SRC_LANG", "vi") if os.environ.get("SRC_LANG") in LANGUAGES else "vi"}


def set_language(lang: str) -> None:
    """Choose the language of messages and plot labels: ``"vi"`` or ``"en"``."""
    if lang not in LANGUAGES:
        raise ValueError(
            f"set_language: `lang` phải là 'vi' hoặc 'en' / must be 'vi' or 'en', nhận được / got {lang!r}"
        )
    _state["lang"] = lang
    _set_pandas_decimal(lang)


def vi_float(value: float) -> str:
    """A float as pandas would show it (``display.precision`` decimals, trailing zeros trimmed), with a comma.

    ``0.408`` -> ``0,408``, ``1.0`` -> ``1,0``; very small or very large numbers keep pandas' exponent form
    (``1,6e-06``); ``nan`` and ``inf`` are left as they are. Pandas' ``display.float_format`` in Vietnamese.
    """
    import math

    x = float(value)
    if not math.isfinite(x):
        return str(x)
    try:
        import pandas

        digits = int(pandas.get_option("display.precision"))
    except (ImportError, ValueError, TypeError):  # pragma: no cover - pandas is a requirement
        digits = 6
    if x != 0 and (abs(x) < 1e-4 or abs(x) >= 1e15):
        text = f"{x:.{digits}g}"
    else:
        text = f"{x:.{digits}f}".rstrip("0")
        text += "0" if text.endswith(".") else ""
    return text.replace(".", ",")


def _rounded(value: Any, digits: int | None) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rounded(v, digits) for v in value)
    if isinstance(value, float):
        return float(value) if digits is None else round(float(value), digits)
    return value


def _vi_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + "; ".join(f"{_vi_value(k)}: {_vi_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + "; ".join(_vi_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "; ".join(_vi_value(v) for v in value) + ")"
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    return repr(value)


def format_value(value: Any, digits: int | None = None) -> str:
    """What ``print`` shows for a number, or a dict/list/tuple of numbers, rounded to ``digits`` if given.

    English: exactly ``str`` of the rounded value (``{'miou': 0.45}``, ``[0.3333, 0.5]``). Vietnamese: decimal
    commas, and ``;`` between items so that the commas stay readable (``{'miou': 0,45}``, ``[0,3333; 0,5]``).
    """
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or digits < 0):
        raise bad_argument("format_value", "digits", "một số nguyên >= 0", "an integer >= 0", digits)
    value = _rounded(value, digits)
    if _state["lang"] == "vi" and isinstance(value, (dict, list, tuple, float)):
        return _vi_value(value)
    return str(value)


def decimal_commas(text: str) -> str:
    """``text`` with the decimal point of every number (a digit, ``.``, a digit) made a comma, in Vietnamese only.

    For a line already formatted in code, e.g. ``decimal_commas(f"CE = {ce:.6f}, max |diff| {d:.1e}")``; English
    returns ``text`` unchanged. Do not pass version numbers or file names.
    """
    if _state["lang"] != "vi":
        return text
    import re

    return re.sub(r"(?<=\d)\.(?=\d)", ",", text)


def _set_pandas_decimal(lang: str) -> None:
    """Vietnamese tables show decimal commas (``display.float_format``); English gets pandas' default back."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a requirement
        return
    if lang == "vi":
        pandas.set_option("display.float_format", vi_float)
    elif pandas.get_option("display.float_format") is vi_float:
        pandas.reset_option("display.float_format")


def get_language() -> str:
    """The current language, ``"vi"`` or ``"en"``."""
    return _state["lang"]


def tr(vi: str, en: str) -> str:
    """Return ``vi`` or ``en`` depending on the current language."""
    return vi if _state["lang"] == "vi" else en


def _show(value: Any) -> str:
    text = repr(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        text = f"{type(value).__name__} shape={tuple(value.shape)} dtype={value.dtype}"
    return text if len(text) <= 120 else text[:117] + "..."


def bad_argument(
    function: str,
    argument: str,
    expected_vi: str,
    expected_en: str,
    got: Any,
    kind: type[Exception] = ValueError,
) -> Exception:
    """Build a ValueError/TypeError that names the argument, what was expected and what was given.

    Use as ``raise bad_argument("atrous_conv2d", "rate", "số nguyên >= 1", "an integer >= 1", rate)``.
    """
    message = tr(
        f"{function}: tham số `{argument}` cần {expected_vi}, nhưng nhận được {_show(got)}.",
        f"{function}: argument `{argument}` expected {expected_en}, but got {_show(got)}.",
    )
    return kind(message)


def check_feature_map(function: str, x: Any, channels: int) -> None:
    """Raise a clear ValueError unless ``x`` is an N x ``channels`` x H x W tensor (argument ``x``)."""
    if not hasattr(x, "dim") or x.dim() != 4 or x.shape[1] != channels:
        raise bad_argument(function, "x", f"một tensor N x {channels} x H x W", f"an N x {channels} x H x W tensor", x)

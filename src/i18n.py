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

"""Argument validation in one place: bilingual validators built from message templates.

One rule for every public entry point of the model family (the model
constructors and ``SegmentationModel.forward``, see :mod:`src.segmodel`):
a value of the wrong *type* raises :class:`TypeError`, a value of the right
type but the wrong *value or shape* raises :class:`ValueError`. Every message
comes from :func:`src.i18n.bad_argument`, so it is in the current language and
names the function, the argument, what was expected and what was given.
Internal blocks do not check again on every forward: the model checks its input
once, at the door, and runs its body inside :func:`validated`; a public block
(an RCU, pyramid pooling) checks its input only when :func:`checking` is True,
i.e. when a learner calls it directly.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from .i18n import bad_argument

__all__ = [
    "check_choice",
    "check_image",
    "check_int",
    "check_int_sequence",
    "check_number",
    "check_options",
    "checking",
    "validated",
]

#: (Vietnamese, English) templates of the "expected ..." part of a message
EXPECTED = {
    "int": ("một số nguyên", "an integer"),
    "int_at_least": ("một số nguyên >= {low}", "an integer >= {low}"),
    "int_between": ("một số nguyên từ {low} đến {high}", "an integer from {low} to {high}"),
    "number": ("một số thực", "a real number"),
    "number_in": ("một số trong [{low}, {high})", "a number in [{low}, {high})"),
    "choice": ("một trong {choices}", "one of {choices}"),
    "sequence": ("một dãy số nguyên, ví dụ {example}", "a sequence of integers, e.g. {example}"),
    "sequence_items": (
        "một dãy số nguyên >= {low}, ví dụ {example}",
        "a sequence of integers >= {low}, e.g. {example}",
    ),
    "tensor": ("một torch.Tensor", "a torch.Tensor"),
    "image": ("một tensor N x {channels} x H x W", "an N x {channels} x H x W tensor"),
    "options": ("chỉ các tham số {known}", "only the options {known}"),
}


_VALIDATED: contextvars.ContextVar[bool] = contextvars.ContextVar("src_validated", default=False)


@contextlib.contextmanager
def validated() -> Iterator[None]:
    """Within the block, :func:`checking` is False: the caller has checked the input already."""
    token = _VALIDATED.set(True)
    try:
        yield
    finally:
        _VALIDATED.reset(token)


def checking() -> bool:
    """True unless called inside :func:`validated` (a block called directly checks its input; inside a model not)."""
    return not _VALIDATED.get()


def _expected(key: str, **fields: Any) -> tuple[str, str]:
    vi, en = EXPECTED[key]
    return vi.format(**fields), en.format(**fields)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(function: str, name: str, value: Any, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """``value`` as an int in ``[low, high]``: TypeError if not an int (bools excluded), ValueError if out of range.

    ``hint`` (already translated) is appended to the message, e.g. to recall a signature.
    """
    if not _is_int(value):
        vi, en = _expected("int")
        raise bad_argument(function, name, vi + hint, en + hint, value, TypeError)
    if value < low or (high is not None and value > high):
        vi, en = _expected("int_at_least" if high is None else "int_between", low=low, high=high)
        raise bad_argument(function, name, vi, en, value)
    return value


def check_number(function: str, name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high)``: TypeError if not a real number, ValueError if outside."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_argument(function, name, *_expected("number"), value, TypeError)
    if not low <= value < high:
        raise bad_argument(function, name, *_expected("number_in", low=low, high=high), value)
    return float(value)


def check_choice(function: str, name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with its type: ``1`` is not ``True``), else ValueError."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise bad_argument(function, name, *_expected("choice", choices=tuple(choices)), value)
    return value


def check_int_sequence(
    function: str, name: str, value: Any, low: int = 1, example: str = "(1, 2, 4)", allow_empty: bool = False
) -> tuple[int, ...]:
    """``value`` as a tuple of ints >= ``low``: TypeError if not a sequence, ValueError if empty or an item is bad."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise bad_argument(function, name, *_expected("sequence", example=example), value, TypeError)
    if (not value and not allow_empty) or any(not _is_int(v) or v < low for v in value):
        raise bad_argument(function, name, *_expected("sequence_items", low=low, example=example), value)
    return tuple(value)


def check_image(function: str, x: Any, channels: int | None = None) -> torch.Tensor:
    """``x`` if it is an N x C x H x W tensor (C = ``channels`` when given): TypeError / ValueError otherwise.

    A ``torch.fx`` proxy (the receptive-field tracer of lesson 01 traces the course's models) passes unchecked.
    """
    if isinstance(x, torch.fx.Proxy):
        return x
    if not isinstance(x, torch.Tensor):
        raise bad_argument(function, "x", *_expected("tensor"), x, TypeError)
    if x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        raise bad_argument(function, "x", *_expected("image", channels="C" if channels is None else channels), x)
    return x


def check_options(function: str, options: dict[str, Any], known: Sequence[str]) -> None:
    """TypeError naming the first keyword of ``options`` that is not in ``known`` (like Python's own message)."""
    unknown = [key for key in options if key not in known]
    if unknown:
        raise bad_argument(
            function, unknown[0], *_expected("options", known=tuple(known)), options[unknown[0]], TypeError
        )

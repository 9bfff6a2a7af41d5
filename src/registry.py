"""Registries that fill themselves: each lesson's self-check core (found by lesson number) and the
models of the capstone's comparison table (lesson 07).

A module that teaches a lesson marks the function that runs that lesson's core
(a few seconds of real work on a device, see ``python -m src.selfcheck``):

    from .registry import register_core

    @register_core("03")
    def selfcheck_core(device: torch.device) -> str:
        ...
        return "one-line summary"  # raise (AssertionError, RuntimeError, ...) when something is wrong

:func:`discover_cores` imports every module of the ``src`` package (the names
come from the package itself, ``pkgutil``, not from a hand-written list), so a
new lesson's module registers itself just by existing. A core reports failure
by raising; a summary is never parsed for words such as "FAILED" except as a
safety net by the runner. Used by lesson 00 onwards (the maintainer's tools);
see docs/DESIGN.md, "The model family" (registries fill themselves by decorator).

This module imports nothing from ``src`` except :mod:`src.i18n`, so that any
module can import it without creating an import cycle.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import torch

from .i18n import bad_argument

__all__ = [
    "CAPSTONE",
    "CORES",
    "CapstoneEntry",
    "Core",
    "discover_capstone",
    "discover_cores",
    "lesson_modules",
    "register_capstone",
    "register_core",
]

Core = Callable[[torch.device], str]
F = TypeVar("F", bound=Core)

#: lesson number ("00", "01", ...) -> its self-check core
CORES: dict[str, Core] = {}

#: modules never imported by discovery: entry points that run something when executed
_SKIP = {"__main__"}


def _check_lesson(function: str, lesson: object) -> str:
    if not isinstance(lesson, str):
        raise bad_argument(
            function, "lesson", "một chuỗi hai chữ số như '03'", "a two-digit string such as '03'", lesson, TypeError
        )
    if not re.fullmatch(r"\d\d", lesson):
        raise bad_argument(
            function, "lesson", "một chuỗi hai chữ số như '03'", "a two-digit string such as '03'", lesson
        )
    return lesson


def register_core(lesson: str) -> Callable[[F], F]:
    """Decorator: register ``fn(device) -> str`` as the self-check core of ``lesson`` ("00" ... "99").

    Registering a second, different function for the same lesson is a ValueError
    (two modules claiming one lesson is a mistake); re-registering the same
    function (a module imported again, e.g. under ``importlib.reload``) replaces it.
    """
    _check_lesson("register_core", lesson)

    def decorator(fn: F) -> F:
        if not callable(fn):
            raise bad_argument(
                "register_core", "fn", "một hàm fn(device) -> str", "a function fn(device) -> str", fn, TypeError
            )
        old = CORES.get(lesson)
        if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(
                f"register_core: bài {lesson} đã có lõi {old.__module__}.{old.__qualname__}; "
                f"không thể đăng ký thêm {fn.__module__}.{fn.__qualname__} / "
                f"lesson {lesson} already has the core {old.__module__}.{old.__qualname__}; "
                f"cannot also register {fn.__module__}.{fn.__qualname__}"
            )
        CORES[lesson] = fn
        fn.selfcheck_lesson = lesson  # type: ignore[attr-defined]
        return fn

    return decorator


def lesson_modules(package: str = "src") -> list[str]:
    """Dotted names of every module and subpackage of ``package`` (recursively), from ``pkgutil``.

    Private modules (last name part starting with ``_``, e.g. ``src.checks._core``)
    and ``__main__`` are skipped: the public modules import what they need.
    """
    root = importlib.import_module(package)
    names = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=lambda _name: None):
        last = info.name.rsplit(".", 1)[-1]
        if last in _SKIP or last.startswith("_"):
            continue
        names.append(info.name)
    return sorted(names)


def discover_cores(package: str = "src") -> tuple[dict[str, Core], dict[str, str]]:
    """Import every module of ``package`` and return ``(cores, import_errors)``.

    ``cores`` maps lesson number -> core (sorted by lesson); ``import_errors``
    maps a module that could not be imported -> ``"ExceptionType: message"``
    (the self-check reports those as failures rather than silently losing a lesson).
    """
    errors: dict[str, str] = {}
    for name in lesson_modules(package):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken module must show up as a failure, not vanish
            errors[name] = f"{type(exc).__name__}: {exc}"
    return dict(sorted(CORES.items())), errors


class CapstoneEntry(NamedTuple):
    """One architecture of lesson 07's table: its key, its label, the lesson that teaches it and its factory
    ``build(num_classes, se, output_stride) -> nn.Module`` (the tiny backbone, the same budget for all)."""

    key: str
    label: str
    lesson: str
    build: Callable[..., torch.nn.Module]


#: key -> entry, filled by :func:`register_capstone` in each model's module
CAPSTONE: dict[str, CapstoneEntry] = {}


def register_capstone(key: str, label: str, lesson: str) -> Callable[[Callable[..., torch.nn.Module]], Callable]:
    """Decorator: the factory ``build(num_classes, se, output_stride)`` of one capstone architecture.

    A model's module registers its small configuration next to the class, so adding a model to the
    comparison of lesson 07 touches only that module (see CONTRIBUTING.md).
    """
    _check_lesson("register_capstone", lesson)
    if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_]+", key):
        raise bad_argument(
            "register_capstone", "key", "một tên ngắn như 'deeplabv3'", "a short name such as 'deeplabv3'", key
        )

    def decorator(build: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        old = CAPSTONE.get(key)
        if old is not None and (old.build.__module__, old.build.__qualname__) != (build.__module__, build.__qualname__):
            raise ValueError(f"register_capstone: '{key}' đã được đăng ký / is already registered")
        CAPSTONE[key] = CapstoneEntry(key, label, lesson, build)
        return build

    return decorator


def discover_capstone(package: str = "src") -> dict[str, CapstoneEntry]:
    """Import the modules of ``package`` that register capstone models; entries in lesson order."""
    for name in lesson_modules(package):
        if name.count(".") == 1:  # top-level modules: where the model families live
            try:
                importlib.import_module(name)
            except Exception:  # a broken module is the self-check's to report (discover_cores)
                continue
    order = sorted(CAPSTONE.values(), key=lambda e: (e.lesson, e.build.__module__, e.key))
    return {e.key: e for e in order}

"""Checks for lesson 07's exercises."""

__all__: list[str] = []

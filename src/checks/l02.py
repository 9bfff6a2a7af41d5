"""Checks for lesson 02's exercises."""

__all__: list[str] = []

"""One line of `viber-bot doctor`'s report: the `Check` every group of checks returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of `viber-bot doctor`: what was checked, how it went and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

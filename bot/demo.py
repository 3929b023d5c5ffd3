"""`viber-bot demo`: the whole flow on this machine (being written)."""

from __future__ import annotations


def run_demo(*, keep_db: str | None = None, fast: bool = True) -> int:
    raise NotImplementedError("viber-bot demo is not written yet")

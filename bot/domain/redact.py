"""Secrets kept out of text: every log line, error and diagnosis goes through `scrub`."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
# Shorter values would blank out ordinary words; no real token or key is that short.
MIN_SECRET_CHARS = 4


def longest_first(secrets: Iterable[str]) -> list[str]:
    """The secrets worth scrubbing, longest first, so one containing another goes whole."""
    return sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `[redacted]`."""
    for secret in longest_first(secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text

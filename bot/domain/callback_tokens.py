"""Callback tokens: the signed path segment that names one recipient message to BSG's callbacks.

A token is `{tag}{reference}`: the message's reference (stored before the create, so a create
sent again after a crash carries the same URL) behind a 22-character HMAC-SHA256 tag under a
secret only the bot knows. The reference is random and says nothing of the number; without the
secret no tag can be made, so a token can be neither guessed nor altered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
TAG_LENGTH = 22  # base64url characters: 132 bits of the HMAC
# A reference no message can have (BSG's references are [A-Za-z0-9_]): `viber-bot doctor`
# signs it to check that the public URL reaches this bot, and no BSG request follows.
PROBE_REFERENCE = "doctor-probe"
_REFERENCE = re.compile(r"^(?:[A-Za-z0-9_]{1,100}|doctor-probe)$")
_DOMAIN = b"viber-bot/bsg-callback/v1:"


class CallbackTokens:
    """Issues and reads callback tokens under one secret."""

    def __init__(self, secret: str | bytes | None) -> None:
        """None: the secret is read later (from the database, at start-up) with use()."""
        self._key: bytes | None = None
        if secret is not None:
            self.use(secret)

    def use(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the callback secret must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:  # never the key
        return "CallbackTokens(<secret>)"

    def _tag(self, reference: str) -> str:
        if self._key is None:  # never a token under a made-up key
            raise RuntimeError("the callback secret is not loaded yet")
        digest = hmac.new(self._key, _DOMAIN + reference.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:TAG_LENGTH]

    def issue(self, reference: str) -> str:
        """The token for a message's reference."""
        if not _REFERENCE.match(reference):
            raise ValueError("a reference is 1..100 characters of [A-Za-z0-9_]")
        return self._tag(reference) + reference

    def read(self, token: str) -> str | None:
        """The reference a genuine token names; None for anything malformed, forged or altered."""
        if not TOKEN_PATTERN.match(token) or len(token) <= TAG_LENGTH:
            return None
        tag, reference = token[:TAG_LENGTH], token[TAG_LENGTH:]
        if not _REFERENCE.match(reference):
            return None
        if not hmac.compare_digest(tag, self._tag(reference)):
            return None
        return reference

    def url(self, public_url: str, reference: str) -> str:
        """`{public_url}/bsg/callback/{token}` for a message's reference."""
        return f"{public_url.rstrip('/')}/bsg/callback/{self.issue(reference)}"

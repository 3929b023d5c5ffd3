"""Saved lists and opt-outs: editing them, resolving `@list` recipients, and the opt-out check.

`split_opted_out` (`split_among` on the opt-outs read inside the storing transaction) is the
one check every route runs before a number can reach BSG (the command, the modal, lists, CSV
files, and thread actions that resend).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.phones import NO_DIGITS, NumberProblem, ParsedNumbers, check_number
from bot.domain.recipients import (
    ListLookup,
    ListNamesRefused,
    Resolution,
    list_names,
    resolve_recipients,
    valid_list_name,
)
from bot.domain.recipients_file import read_table
from storage.store import ListEdit, ListMember, OptOut, Store

log = logging.getLogger(__name__)

LATEST_OPTOUTS = 20  # CONTRACT.md: `/viber optouts` shows the latest 20


@dataclass(frozen=True)
class OptOutSplit:
    """Numbers that may be sent to, and those left out because they opted out."""

    allowed: tuple[str, ...]
    opted_out: tuple[str, ...]


async def split_opted_out(store: Store, msisdns: Sequence[str]) -> OptOutSplit:
    """Split numbers into those that may be sent to and those that opted out (order kept).

    Call it inside the transaction that stores what is sent, so that an opt-out recorded a
    moment earlier is seen.
    """
    return split_among(msisdns, await store.opted_out_among(msisdns))


def split_among(msisdns: Sequence[str], out: set[str]) -> OptOutSplit:
    """`msisdns` split by the opted-out numbers `out` (read inside the storing transaction)."""
    if not out:
        return OptOutSplit(tuple(msisdns), ())
    return OptOutSplit(
        tuple(m for m in msisdns if m not in out), tuple(m for m in msisdns if m in out)
    )


@dataclass(frozen=True)
class ListChange:
    """A list add or remove as answered to the person: the edit and the tokens not understood."""

    edit: ListEdit | None  # None: the list does not exist (remove)
    invalid: ParsedNumbers


@dataclass(frozen=True)
class OptOutChange:
    changed: int  # newly opted out / opted back in
    unchanged: int  # already so
    invalid: ParsedNumbers


@dataclass(frozen=True)
class OptOutSummary:
    count: int
    latest: list[OptOut]


async def prefetched_lists(store: Store, raw: str) -> ListLookup:
    """The lists `raw` names, read now, as the plain lookup resolving (and compose) takes."""
    names = list_names(raw)
    found = await store.list_numbers(names) if names else {}
    return lambda wanted: {name: found[name] for name in wanted if name in found}


class AudienceService:
    """Lists and opt-outs behind the slash commands and the CLI (access is checked by callers)."""

    def __init__(self, *, store: Store, default_region: str | None, clock: Clock):
        self.store = store
        self.default_region = default_region
        self.clock = clock

    # ------------------------------------------------------------ resolving

    async def resolve(self, raw: str) -> Resolution:
        """Numbers and `@list` names as typed, resolved (opt-outs are not applied here)."""
        return resolve_recipients(
            raw, lookup=await prefetched_lists(self.store, raw), default_region=self.default_region
        )

    async def without_opted_out(self, msisdns: Sequence[str]) -> OptOutSplit:
        return await split_opted_out(self.store, msisdns)

    async def opted_out_count(self, msisdns: Sequence[str]) -> int:
        """How many of these numbers would be skipped as opted out."""
        return len(await self.store.opted_out_among(msisdns))

    # ------------------------------------------------------------ lists

    def _name(self, name: str) -> str:
        if not valid_list_name(name):
            raise ListNamesRefused(bad_names=[name])
        return name

    async def _numbers(self, raw: str) -> tuple[tuple[str, ...], ParsedNumbers]:
        resolved = await self.resolve(raw)
        if resolved.bad_names or resolved.unknown_lists:
            raise ListNamesRefused(resolved.bad_names, resolved.unknown_lists)
        return resolved.msisdns, resolved.parsed

    async def list_add(self, name: str, raw: str, user_id: str) -> ListChange:
        name = self._name(name)
        msisdns, parsed = await self._numbers(raw)
        if not msisdns:
            return ListChange(None, parsed)
        edit = await self.store.list_add(name, msisdns, user_id=user_id, now=self.clock())
        log.info("list %s: %d added by %s (size %d)", name, edit.changed, user_id, edit.size)
        return ListChange(edit, parsed)

    async def list_remove(self, name: str, raw: str, user_id: str) -> ListChange:
        name = self._name(name)
        msisdns, parsed = await self._numbers(raw)
        edit = await self.store.list_remove(name, msisdns, user_id=user_id, now=self.clock())
        if edit is not None:
            log.info("list %s: %d removed by %s", name, edit.changed, user_id)
        return ListChange(edit, parsed)

    async def list_delete(self, name: str, user_id: str) -> int | None:
        size = await self.store.list_delete(self._name(name), user_id=user_id, now=self.clock())
        if size is not None:
            log.info("list %s deleted by %s (%d numbers)", name, user_id, size)
        return size

    async def list_members(self, name: str) -> list[ListMember] | None:
        return await self.store.list_members(self._name(name))

    async def list_sizes(self) -> list[tuple[str, int]]:
        return await self.store.list_sizes()

    # ------------------------------------------------------------ opt-outs

    async def opt_out(
        self, raw: str, reason: str | None, user_id: str | None, *, source: str = "command"
    ) -> OptOutChange:
        msisdns, parsed = await self._numbers(raw)
        changed = 0
        if msisdns:
            changed = await self.store.opt_out(
                msisdns, user_id=user_id, reason=reason, now=self.clock(), source=source
            )
        log.info("opt-out: %d new of %d by %s (%s)", changed, len(msisdns), user_id, source)
        return OptOutChange(changed, len(msisdns) - changed, parsed)

    async def opt_in(self, raw: str, user_id: str | None) -> OptOutChange:
        msisdns, parsed = await self._numbers(raw)
        changed = 0
        if msisdns:
            changed = await self.store.opt_in(msisdns, user_id=user_id, now=self.clock())
        log.info("opt-in: %d of %d by %s", changed, len(msisdns), user_id)
        return OptOutChange(changed, len(msisdns) - changed, parsed)

    async def summary(self, latest: int = LATEST_OPTOUTS) -> OptOutSummary:
        return OptOutSummary(
            await self.store.optout_count(), await self.store.latest_optouts(latest)
        )

    def every_optout(self) -> AsyncIterator[OptOut]:
        return self.store.every_optout()

    async def import_optouts(self, data: bytes, *, source: str) -> OptOutChange:
        """Opt out the numbers of a file: one per line, or CSV (numbers in the `phone` column,
        else the first). A header row and blank lines are skipped; a `reason` column (or the
        second column of a file without a header) is kept as the reason."""
        records = read_table(data)
        phone_at, reason_at = 0, 1
        first = [c.strip().lower() for c in records[0][1]]
        if "phone" in first or not any(ch.isdigit() for ch in records[0][1][0]):
            phone_at = first.index("phone") if "phone" in first else 0
            reason_at = first.index("reason") if "reason" in first else -1
            records = records[1:]
        by_reason: dict[str | None, list[str]] = {}
        invalid: dict[str, NumberProblem] = {}
        region = self.default_region
        for _, cells in records:
            raw = cells[phone_at].strip() if phone_at < len(cells) else ""
            msisdn, why = check_number("".join(raw.split()), region)
            if msisdn is None:
                invalid.setdefault(raw, why or NO_DIGITS)
                continue
            reason = cells[reason_at].strip() or None if 0 <= reason_at < len(cells) else None
            by_reason.setdefault(reason, []).append(msisdn)
        changed = 0
        now = self.clock()
        async with self.store.atomic():
            for reason, msisdns in by_reason.items():
                changed += await self.store.opt_out(
                    msisdns, user_id=None, reason=reason, now=now, source=source
                )
        unique = len({m for group in by_reason.values() for m in group})
        return OptOutChange(
            changed, unique - changed, ParsedNumbers(invalid=list(invalid), reasons=invalid)
        )

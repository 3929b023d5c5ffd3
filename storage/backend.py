"""The backend interface the Store's SQL runs on: one for SQLite (storage.sqlite), one per other
database. Every statement is written once, in portable SQL with `?` placeholders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

# A result row: values by column name (`row["status"]`); `dict(row)` gives a plain dict.
Row = Mapping[str, Any]

T = TypeVar("T")


class Connection(Protocol):
    """One database connection, inside a transaction (writes) or a read-only view (reads)."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row (one round trip where the driver can)."""
        ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query (or of `INSERT ... RETURNING`), or None."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query; callers page with LIMIT for large results."""
        ...

    async def fetch_values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query as its values in the order selected, no names: for wide rows
        read by the thousand, where a mapping per row costs more than the query."""
        ...


class Backend(Protocol):
    """What the Store needs from a database. Names are stable: other backends implement them."""

    name: str  # "sqlite", "postgresql"
    # Whether a transaction can hold rows it reads (SELECT ... FOR SHARE/UPDATE SKIP LOCKED) against
    # other processes' transactions running beside it: PostgreSQL. SQLite has one writer at a
    # time and no such clause.
    row_locks: bool

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """The writer: one transaction, committed on a clean exit, rolled back on any error
        (cancellation included). Transactions never interleave: the backend serialises them,
        so the Store's ordering guarantees hold. Nesting is the Store's business (SAVEPOINT)."""
        ...

    async def in_one_step(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """`work` as one transaction of its own, like `transaction()`, in as few round trips
        as the backend allows (SQLite: one trip to the writer's thread). `work` awaits nothing
        but its connection's methods."""
        ...

    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads outside any transaction. It must see every transaction this
        process committed before it was entered (the Store reads its own writes back); it may
        be a separate connection and may run beside a transaction under way."""
        ...

    async def ping(self) -> None:
        """Raise StorageError when the database cannot answer."""
        ...

    async def close(self) -> None: ...

"""Storage: the async Store facade and the backends its SQL runs on.

Layout
    store.py     the Store: async verbs returning domain models (`await store.get_send(1)`);
                 `async with store.atomic():` groups verbs into one transaction.
    records.py   values besides domain models (NewSend, OutboxItem, Change, ...), `ts`.
    sends.py, messages.py, history.py (status_events), outbox.py, audit.py, sweeps.py
                 one module per table: the SQL, written once, as async functions taking a
                 `storage.backend.Connection`.
    backend.py   the backend interface (below).
    sqlite.py    the SQLite backend: file checks, pragmas, one writer and one reader
                 connection, each on a thread of its own (a single-worker executor).
    schema.py    the SQLite schema as sqlite-utils migrations, applied at start-up.

The backend interface (storage/backend.py; names are stable)
    Backend.name                         "sqlite", "postgresql", ...
    Backend.row_locks                    True where a transaction can hold rows it reads
                                         against other processes' (FOR SHARE/UPDATE SKIP LOCKED).
    Backend.transaction()                async context manager -> Connection. The writer: BEGIN
                                         on entry, COMMIT on a clean exit, ROLLBACK on any
                                         exception or cancellation. Transactions never
                                         interleave (the backend serialises them).
    Backend.read()                       async context manager -> Connection for reads outside
                                         a transaction; must see what this process committed.
    Backend.ping(), Backend.close()      async.
    Connection.execute(sql, params)      -> rows changed (int)
    Connection.executemany(sql, rows)    -> None
    Connection.fetchone(sql, params)     -> Row | None   (also for INSERT ... RETURNING id)
    Connection.fetchall(sql, params)     -> list[Row]
    Row                                  a mapping by column name: row["status"], dict(row).

The SQL the table modules send is portable between SQLite >= 3.35 and PostgreSQL >= 15:
`?` placeholders (a PostgreSQL backend translates them to `%s`), plain identifiers,
`INSERT ... RETURNING id`, `SAVEPOINT store` / `ROLLBACK TO SAVEPOINT store` /
`RELEASE SAVEPOINT store` for nested atomic() blocks, count(*) AS n, LIMIT ?. Column types
are those of storage/schema.py: timestamps are fixed-width UTC ISO text (text order is time
order), money is Decimal as text, flags (final, in_flight) are integers 0/1, JSON is text.

Concurrency: the Store tracks the transaction a task has open (a ContextVar); verbs called
inside it use its connection, others open their own short transaction (writes) or use
Backend.read() (reads). Crash safety rests on each transaction being atomic and on the order
of transactions: an outbox row is written in the transaction that made the change it announces.
"""

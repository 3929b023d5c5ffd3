"""On PostgreSQL the due query and the replicas' claim read the partial index messages_due
(EXPLAIN on a real server, with 50,000 messages mostly final), never the whole table."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from benchmarks.database import populate
from benchmarks.replicas import plan_nodes, postgres_plan, uses_due_index
from bot.tracking.poller import SWEEP_LIMIT
from storage.messages import DUE_SQL
from storage.postgres import PostgresConnection
from storage.records import ts
from storage.replicas import Leases
from storage.sqlite_copy import copy_sqlite
from storage.store import Store

ROWS, DUE = 50_000, 40


def _recording(method, sent):
    original = getattr(PostgresConnection, method)

    async def recording(self, sql, params=()):
        sent.append(sql)
        return await original(self, sql, params)

    return recording


async def test_due_and_claim_use_the_partial_index(tmp_path, pg_url, monkeypatch):
    now = datetime.now(UTC)
    await populate(tmp_path / "seed.db", rows=ROWS, due=DUE, final_share=0.9, now=now)
    copy_sqlite(tmp_path / "seed.db", pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ANALYZE")

    # The SQL the Store itself sends (caught on its way to the server), not a copy.
    sent: list[str] = []
    for method in ("fetchall", "fetch_values"):
        monkeypatch.setattr(PostgresConnection, method, _recording(method, sent))
    store = Store.open(pg_url)
    try:
        due = await store.due_for_poll(now, limit=SWEEP_LIMIT)
        leases = Leases(store.backend, lease_seconds=30, heartbeat_interval=5, replica="r")
        claimed = await leases.claim_due(now, 500)
    finally:
        await store.close()
    assert len(due) == DUE and len(claimed) == DUE
    [due_sql] = [sql for sql in sent if sql == DUE_SQL]

    plan = postgres_plan(pg_url, due_sql, [ts(now), SWEEP_LIMIT])
    assert uses_due_index(plan), plan
    assert not any(n["Node Type"] == "Sort" for n in plan_nodes(plan)), plan  # index order

    [claim_sql] = [sql for sql in sent if sql.startswith("WITH due AS")]
    claim = postgres_plan(pg_url, claim_sql, [ts(now), 500, "r", 30.0])
    scans = [n for n in plan_nodes(claim) if n.get("Relation Name") == "messages"]
    assert any(n.get("Index Name") == "messages_due" for n in scans), claim
    assert not any(n["Node Type"] == "Seq Scan" for n in scans), claim

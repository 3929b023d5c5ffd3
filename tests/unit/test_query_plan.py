"""The poller's due-for-poll query is answered from the (final, next_poll_at) index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.database import due_query_sql, populate, query_plan
from bot.tracking.poller import SWEEP_LIMIT
from storage.store import Store


async def test_the_due_query_searches_the_final_next_poll_at_index(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    path = tmp_path / "plan.db"
    await populate(path, rows=2_000, due=30, final_share=0.5, now=now)
    store = Store.open(path)
    try:
        # The SQL the store itself runs (caught with SQLite's trace hook), not a copy.
        sql = await due_query_sql(store, now, SWEEP_LIMIT)
        assert "messages" in sql and "next_poll_at" in sql
        plan = query_plan(path, sql)
        assert any(
            step.startswith("SEARCH messages USING INDEX idx_messages_final_next_poll_at")
            for step in plan
        ), plan
        assert not any(step.startswith("SCAN messages") for step in plan), plan
        # No sort step: the index gives next_poll_at order.
        assert not any("TEMP B-TREE" in step for step in plan), plan
        due = await store.due_for_poll(now, limit=SWEEP_LIMIT)
        assert len(due) == 30
        # Oldest due first: the order of the whole rows' next_poll_at (DueMessage has none).
        moments = [m.next_poll_at for m in await store.messages_by_id([m.id for m in due])]
        assert moments == sorted(moments)
        assert await store.due_for_poll(now + timedelta(hours=2), limit=SWEEP_LIMIT) != []
    finally:
        await store.close()

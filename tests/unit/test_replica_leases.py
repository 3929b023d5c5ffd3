"""Leases on a real PostgreSQL server: replicas claim disjoint batches of due messages, a dead
replica's claims come free after the lease time, lanes have one owner, heartbeats list replicas."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.domain.models import DueMessage, StoredMessage
from storage.postgres import PostgresBackend
from storage.replicas import Leases
from storage.store import ts

NOW = datetime.now(UTC)


def _seed(url: str, due: int, later: int = 0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        send_id = conn.execute(
            "INSERT INTO sends (channel_id, user_id, text, sender, created_at, outcome) "
            "VALUES ('C1', 'U1', 'hi', 'Acme', %s, 'accepted') RETURNING id",
            [ts(NOW)],
        ).fetchone()[0]
        for n in range(due + later):
            when = NOW - timedelta(seconds=due - n) if n < due else NOW + timedelta(hours=1)
            conn.execute(
                "INSERT INTO messages (send_id, reference, msisdn, bsg_id, status, created_at,"
                " next_poll_at) VALUES (%s, %s, '380972920283', %s, 'sent', %s, %s)",
                [send_id, f"ref-{n}", f"bsg-{n}", ts(NOW), ts(when)],
            )


@pytest.fixture
async def backend(pg_url):
    opened = PostgresBackend.open(pg_url, pool_size=4)
    yield opened
    await opened.close()


def _replica(backend, name: str, lease: float = 30.0) -> Leases:
    return Leases(backend, lease_seconds=lease, heartbeat_interval=0.5, replica=name)


async def test_replicas_claim_disjoint_batches_until_nothing_is_due(backend, pg_url):
    _seed(pg_url, due=120, later=30)
    replicas = [_replica(backend, f"r{n}") for n in range(3)]
    claimed: dict[str, list[int]] = {r.replica: [] for r in replicas}

    async def work(replica: Leases) -> None:
        while batch := await replica.claim_due(NOW, limit=7):
            claimed[replica.replica].extend(m.id for m in batch)
            await asyncio.sleep(0)  # the others claim meanwhile

    await asyncio.gather(*(work(r) for r in replicas))
    everything = [i for ids in claimed.values() for i in ids]
    assert len(everything) == 120 == len(set(everything))  # every due one, none twice
    assert all(claimed.values())  # all three took part
    assert replicas[0].holds["messages"] == len(claimed["r0"])


async def test_a_claimed_batch_comes_oldest_due_first(backend, pg_url):
    _seed(pg_url, due=20)
    batch = await _replica(backend, "r").claim_due(NOW, limit=5)
    # RETURNING DueMessage's columns, built positionally: each field the whole row's by name.
    async with backend.connection() as conn:
        rows = await conn.fetchall(
            "SELECT * FROM messages WHERE id = ANY(?)", [[m.id for m in batch]]
        )
    whole = {row["id"]: StoredMessage.from_row(row) for row in rows}
    assert [whole[m.id].reference for m in batch] == [f"ref-{n}" for n in range(5)]
    names = [f.name for f in dataclasses.fields(DueMessage)]
    assert batch == [DueMessage(**{n: getattr(whole[m.id], n) for n in names}) for m in batch]


async def test_a_dead_replicas_claims_come_free_after_the_lease_time(backend, pg_url):
    _seed(pg_url, due=10)
    dead, alive = _replica(backend, "dead", lease=1.0), _replica(backend, "alive")
    taken = await dead.claim_due(NOW, limit=100)
    assert len(taken) == 10
    assert await alive.claim_due(NOW, limit=100) == []  # held, not yet expired
    await asyncio.sleep(1.2)
    again = await alive.claim_due(NOW, limit=100)
    assert sorted(m.id for m in again) == sorted(m.id for m in taken)


async def test_renewed_claims_stay_and_released_ones_come_free_at_once(backend, pg_url):
    _seed(pg_url, due=4)
    one, other = _replica(backend, "one", lease=1.0), _replica(backend, "other")
    taken = await one.claim_due(NOW, limit=4)
    for _ in range(3):
        await asyncio.sleep(0.4)
        await one.renew([m.id for m in taken])
    assert await other.claim_due(NOW, limit=4) == []  # 1.2 s on, renewed: still held
    await one.release([taken[0].id])
    assert [m.id for m in await other.claim_due(NOW, limit=4)] == [taken[0].id]
    assert one.holds["messages"] == 3


async def test_each_lane_has_one_owner_and_a_drained_lane_is_given_up(backend):
    a, b = _replica(backend, "a"), _replica(backend, "b")
    assert await a.claim_lanes(["C1", "C2"]) == {"C1", "C2"}
    assert await b.claim_lanes(["C1", "C3"]) == {"C3"}
    assert await a.claim_lanes(["C1", "C2"]) == {"C1", "C2"}  # renewing keeps them
    assert await a.claim_lanes(["C2"]) == {"C2"}  # C1 drained: given up
    assert await b.claim_lanes(["C1", "C3"]) == {"C1", "C3"}
    assert a.holds["lanes"] == 1 and b.holds["lanes"] == 2


async def test_a_dead_replicas_lane_moves_after_the_lease_time(backend):
    dead, alive = _replica(backend, "dead", lease=1.0), _replica(backend, "alive")
    assert await dead.claim_lanes(["C1"]) == {"C1"}
    assert await alive.claim_lanes(["C1"]) == set()
    await asyncio.sleep(1.2)
    assert await alive.claim_lanes(["C1"]) == {"C1"}


async def test_heartbeats_list_live_replicas_and_a_clean_stop_gives_everything_up(backend, pg_url):
    _seed(pg_url, due=3)
    a, b = _replica(backend, "a"), _replica(backend, "b")
    await a.claim_due(NOW, limit=3)
    await a.claim_lanes(["C1"])
    await a.heartbeat()
    await b.heartbeat()
    live = await a.live_replicas()
    assert [r.id for r in live] == ["a", "b"]
    assert (live[0].message_leases, live[0].lane_leases) == (3, 1)
    await a.leave()
    assert [r.id for r in await b.live_replicas()] == ["b"]
    assert len(await b.claim_due(NOW, limit=10)) == 3  # no lease time to wait out
    assert await b.claim_lanes(["C1"]) == {"C1"}
    await asyncio.sleep(1.6)  # b's last heartbeat is older than three intervals
    assert await b.live_replicas() == []

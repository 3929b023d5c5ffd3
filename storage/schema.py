"""The SQLite schema: sqlite-utils migrations applied in order at start-up, and the refusal of
a file that a newer viber-bot migrated (its migrations unknown here)."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.domain.errors import StorageError

migrations = Migrations("viber-bot")


class SchemaTooNew(StorageError):
    """The database was migrated by a newer viber-bot than this one."""


def too_new(found: int, latest: int) -> SchemaTooNew:
    """The one line a replica or command refuses a newer database with (either backend)."""
    return SchemaTooNew(
        f"VIBER_BOT_DB: the database's schema is at version {found}, newer than this viber-bot "
        f"(which knows up to {latest}): run the newer viber-bot, or upgrade this one"
    )


def check_not_newer(db: Database) -> int:
    """The file's schema version (migrations applied); SchemaTooNew when a newer viber-bot
    applied migrations this one does not know. Read-only: checked before anything writes."""
    applied = [migration.name for migration in migrations.applied(db)]
    # Every migration this code has: those pending on an empty database.
    known = {migration.name for migration in migrations.pending(Database(memory=True))}
    if any(name not in known for name in applied):
        raise too_new(len(applied), len(known))
    return len(applied)


@migrations()
def m001_initial(db: Database) -> None:
    db["sends"].create(
        {
            "id": int,
            "team_id": str,
            "channel_id": str,
            "user_id": str,
            "text": str,
            "sender": str,
            "options": str,  # JSON: promotional, image, button, sms, send_at, validity
            "request_json": str,
            "created_at": str,
            "outcome": str,
            "error_code": int,
            "error_description": str,
            "parent_ts": str,
            "source": str,
            "dedupe_key": str,
            "response_url": str,
            "send_at": str,
            "validity": int,
            "last_checked_at": str,
        },
        pk="id",
        not_null={"channel_id", "user_id", "text", "sender", "created_at", "outcome"},
    )
    db["sends"].create_index(["dedupe_key"], unique=True)
    db["sends"].create_index(["created_at"])
    db["sends"].create_index(["user_id", "created_at"])

    db["messages"].create(
        {
            "id": int,
            "send_id": int,
            "reference": str,
            "msisdn": str,
            "bsg_id": str,
            "status": str,
            "raw_status": str,
            "error_code": int,
            "error_description": str,
            "price": str,  # Decimal as text: exact
            "currency": str,
            "sms_id": str,
            "sms_status": str,
            "sms_price": str,
            "sms_currency": str,
            "time_in": str,
            "time_sent": str,
            "time_dr": str,
            "created_at": str,
            "next_poll_at": str,
            "last_polled_at": str,
            "last_change_at": str,
            "expires_at": str,
            "poll_count": int,
            "final": int,
        },
        pk="id",
        foreign_keys=[("send_id", "sends", "id")],
        not_null={"send_id", "reference", "msisdn", "status", "created_at"},
        defaults={"poll_count": 0, "final": 0},
    )
    db["messages"].create_index(["reference"], unique=True)
    db["messages"].create_index(["bsg_id"])
    db["messages"].create_index(["send_id"])
    # The poller's query: not final, ordered by next_poll_at.
    db["messages"].create_index(["final", "next_poll_at"])
    db["messages"].create_index(["status", "created_at"])

    db["status_events"].create(
        {
            "id": int,
            "message_id": int,
            "channel": str,
            "status": str,
            "raw_status": str,
            "observed_at": str,
            "provider_time": str,
            "price": str,
            "currency": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "id")],
        not_null={"message_id", "channel", "status", "observed_at"},
    )
    db["status_events"].create_index(["message_id", "id"])

    db["outbox"].create(
        {
            "id": int,
            "send_id": int,
            "channel_id": str,
            "kind": str,  # parent | reply | update | ephemeral
            "payload": str,  # JSON
            "state": str,  # pending | done | dead
            "attempts": int,
            "in_flight": int,  # 1 while a post's outcome is unknown (crash mid-post)
            "next_attempt_at": str,
            "created_at": str,
            "posted_ts": str,
            "last_error": str,
        },
        pk="id",
        foreign_keys=[("send_id", "sends", "id")],
        not_null={"channel_id", "kind", "payload", "state", "created_at"},
        defaults={"attempts": 0, "in_flight": 0},
    )
    db["outbox"].create_index(["state", "id"])
    db["outbox"].create_index(["send_id", "kind", "state"])

    db["audit"].create(
        {
            "id": int,
            "at": str,
            "team_id": str,
            "user_id": str,
            "channel_id": str,
            "action": str,  # send | refused | quota | status | ...
            "outcome": str,
            "detail": str,  # JSON
            "send_id": int,
        },
        pk="id",
        not_null={"at", "action", "outcome"},
    )
    db["audit"].create_index(["user_id", "at"])

    db["sweeps"].create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "checked": int,
            "changed": int,
            "errors": int,
            "last_error": str,
        },
        pk="id",
    )


@migrations()
def m002_outbox_lane_index(db: Database) -> None:
    # The outbox worker asks for the oldest pending row of each channel.
    db["outbox"].create_index(["state", "channel_id", "id"])


@migrations()
def m003_callbacks(db: Database) -> None:
    # Delivery callbacks: the secret their tokens are signed with (when settings give none),
    # and each callback's raw body, capped, on the message's history for diagnosis.
    db["secrets"].create({"name": str, "value": str, "created_at": str}, pk="name")
    db["callbacks"].create(
        {
            "id": int,
            "message_id": int,
            "received_at": str,
            "source": str,
            "content_type": str,
            "body": str,
            "truncated": int,
            "parsed_status": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "id")],
        not_null={"message_id", "received_at"},
        defaults={"truncated": 0},
    )
    db["callbacks"].create_index(["message_id", "id"])


@migrations()
def m004_reviews_and_thread_actions(db: Database) -> None:
    # Sends waiting for a person's go-ahead: the modal's review step and quick-send confirms.
    db["drafts"].create(
        {
            "id": int,
            "token": str,
            "kind": str,  # review | quick
            "user_id": str,
            "channel_id": str,
            "team_id": str,
            "view_id": str,
            "payload": str,  # JSON: what was typed, to send or to refill the form
            "state": str,  # pending | sent | back
            "created_at": str,
            "used_at": str,
            "send_id": int,
        },
        pk="id",
        not_null={"token", "kind", "user_id", "channel_id", "payload", "state", "created_at"},
    )
    db["drafts"].create_index(["token"], unique=True)
    # One row per (send, action): the claim that makes a thread action act at most once.
    db["thread_actions"].create(
        {
            "id": int,
            "send_id": int,
            "action": str,  # retry_failed | resend_sms | export_csv
            "user_id": str,
            "state": str,  # claimed | done | failed
            "created_at": str,
            "finished_at": str,
            "result_send_id": int,
            "detail": str,  # JSON
        },
        pk="id",
        foreign_keys=[("send_id", "sends", "id")],
        not_null={"send_id", "action", "user_id", "state", "created_at"},
    )
    db["thread_actions"].create_index(["send_id", "action"], unique=True)
    # SMS sent through BSG's SMS API by resend_sms, tracked with GET /sms/{id}.
    db["sms_resends"].create(
        {
            "id": int,
            "send_id": int,
            "message_id": int,
            "reference": str,
            "msisdn": str,
            "bsg_id": str,
            "status": str,
            "price": str,
            "currency": str,
            "error_code": int,
            "error_description": str,
            "created_at": str,
            "next_poll_at": str,
            "last_change_at": str,
            "final": int,
        },
        pk="id",
        foreign_keys=[("send_id", "sends", "id"), ("message_id", "messages", "id")],
        not_null={"send_id", "message_id", "reference", "msisdn", "status", "created_at"},
        defaults={"final": 0},
    )
    db["sms_resends"].create_index(["reference"], unique=True)
    db["sms_resends"].create_index(["final", "next_poll_at"])


@migrations()
def m005_audiences(db: Database) -> None:
    # Saved lists: one row per list, one per (list, number); numbers are digits-only E.164.
    db["lists"].create(
        {"id": int, "name": str, "created_by": str, "created_at": str},
        pk="id",
        not_null={"name", "created_at"},
    )
    db["lists"].create_index(["name"], unique=True)
    db["list_members"].create(
        {"list_id": int, "msisdn": str, "added_by": str, "added_at": str},
        pk=("list_id", "msisdn"),
        foreign_keys=[("list_id", "lists", "id")],
        not_null={"list_id", "msisdn", "added_at"},
    )
    # Opt-outs: one row per number that must never be sent to; who, when and why.
    db["optouts"].create(
        {"msisdn": str, "user_id": str, "reason": str, "source": str, "created_at": str},
        pk="msisdn",
        not_null={"msisdn", "created_at"},
    )
    db["optouts"].create_index(["created_at"])
    # What each recipient was sent when it differs from the send's text (CSV personal text).
    db["messages"].add_column("text", str)
    db["messages"].add_column("sms_text", str)

"""The bot's event loop (bot/runtime.py): uvloop where installed, asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot import runtime


async def _running_loop() -> tuple[type, str]:
    return type(asyncio.get_running_loop()), runtime.loop_name()


def test_run_uses_uvloop_when_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop_type, name = runtime.run(_running_loop())
    assert issubclass(loop_type, uvloop.Loop)
    assert name == "uvloop"


def test_run_falls_back_to_asyncios_default_loop_without_uvloop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "uvloop", None)
    assert runtime.loop_factory() is None
    default = asyncio.new_event_loop()  # what asyncio.run would run on
    default.close()
    loop_type, _ = runtime.run(_running_loop())
    assert loop_type is type(default)


def test_the_cli_runs_the_bot_through_runtime_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`viber-bot run` starts serve() through runtime.run, not a bare asyncio.run."""
    import bot.app
    from bot import cli

    ran: list[object] = []

    async def fake_serve(bot: object) -> None:
        ran.append(runtime.loop_name())

    monkeypatch.setattr(bot.app, "serve", fake_serve)
    monkeypatch.setattr(bot.app, "ViberBot", lambda settings: object())
    monkeypatch.setattr("bot.settings.load_settings", lambda: _Settings())
    monkeypatch.setattr("bot.logs.configure_logging", lambda **kwargs: None)
    assert cli.cmd_run(None) == 0  # type: ignore[arg-type]
    expected = "uvloop" if runtime.loop_factory() is not None else "asyncio"
    assert ran == [expected]


class _Settings:
    log_level = "INFO"
    log_format = "text"

    def secrets(self) -> list[str]:
        return []


def test_settle_memory_freezes_start_up_and_raises_the_young_threshold() -> None:
    saved = gc.get_threshold()
    try:
        runtime.settle_memory()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (runtime.GC_YOUNG_THRESHOLD, *saved[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)

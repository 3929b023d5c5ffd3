"""The benchmarks still run end to end (tiny sizes; the real figures need full runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import poll_sweep, polling_economy, soak


def metrics(output: str, prefix: str) -> dict[str, str]:
    lines = [line for line in output.splitlines() if line.startswith(prefix + ".")]
    return dict(line.removeprefix(prefix + ".").split("=", 1) for line in lines)


def test_poll_sweep_drives_a_real_sweep_against_the_simulator_process(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = poll_sweep.main(
        ["--messages", "120", "--delay", "0.002", "--concurrency", "8", "--per-send", "10"]
    )
    out = capsys.readouterr().out
    figures = metrics(out, "poll_sweep")
    assert code == 0
    # Every message was asked about once and answered; a tenth had changed at BSG.
    assert figures["checked"] == "120"
    assert figures["errors"] == "0"
    assert figures["changed"] == "12"
    assert float(figures["ideal_s"]) == pytest.approx(120 * 0.002 / 8)
    assert float(figures["wall_s"]) >= float(figures["ideal_s"])
    assert float(figures["ratio"]) == pytest.approx(
        float(figures["wall_s"]) / float(figures["ideal_s"]), rel=1e-3
    )
    for name in ("cpu_per_check_ms", "write_s", "fetch_s", "simulator_cpu_s"):
        assert float(figures[name]) > 0, name
    assert "wall / ideal" in out and "CPU per status check" in out
    # The naive baseline ran on the same messages (all 120: fewer than its default 200).
    assert figures["naive_checked"] == "120"
    assert float(figures["naive_extrapolated_s"]) == pytest.approx(
        float(figures["naive_measured_s"]), rel=1e-3
    )


def test_polling_economy_compares_the_policy_with_a_fixed_poller(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert polling_economy.main([]) == 0
    out = capsys.readouterr().out
    figures = metrics(out, "polling_economy")
    # The target, with the defaults in bot/settings.py.
    assert int(figures["adaptive.gets_never_changes"]) <= polling_economy.GETS_TARGET
    # A fixed poller looks every sweep until validity plus grace: (86400 + 3600) / 15.
    assert figures["fixed.gets_never_changes"] == "6000"
    # Half-way between sweeps, the fixed poller notices a change half a sweep later.
    assert float(figures["fixed.delay_12h_s"]) == 7.5
    # Early changes are seen as fast as by the fixed poller; late ones later, within the gap.
    assert float(figures["adaptive.delay_1min_s"]) == float(figures["fixed.delay_1min_s"])
    late = float(figures["adaptive.delay_12h_s"])
    assert float(figures["fixed.delay_12h_s"]) < late <= float(figures["adaptive.gap_12h_s"])
    assert "GETs, message that never changes" in out


def test_polling_economy_sizes_and_knobs_come_from_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    polling_economy.main(["--validity", "3600", "--grace", "0", "--changes", "60,600"])
    figures = metrics(capsys.readouterr().out, "polling_economy")
    assert figures["fixed.gets_never_changes"] == "240"  # 3600 / 15
    assert "adaptive.delay_10min_s" in figures and "adaptive.delay_1h_s" not in figures


def test_the_whole_benchmark_command_runs_at_smoke_sizes(tmp_path) -> None:
    """`python -m benchmarks --smoke`: every benchmark end to end, once, in a child process."""
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--results", str(results)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=420,  # every benchmark at smoke sizes (replicas: a PostgreSQL server too)
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    ack = metrics(out, "ack_load")
    # Every signed command was answered and reached BSG exactly once (sends that met while
    # BSG held a create shared one: fewer create requests than sends).
    assert ack["http_failures"] == "0"
    assert ack["sent_exactly_once"] == ack["commands"] == "20"
    assert 1 <= int(ack["bsg_create_calls"]) <= 20
    assert 0 < float(ack["p50_ms"]) <= float(ack["p95_ms"]) <= float(ack["p99_ms"])
    mid = metrics(out, "ack_mid_sweep")
    # The commands were answered while the app's first sweep checked the 300 due messages.
    assert mid["http_failures"] == "0" and mid["sweep_due"] == "300"
    assert mid["sent_exactly_once"] == "20" and 1 <= int(mid["bsg_create_calls"]) <= 20
    assert int(mid["sweep_checked_during_load"]) > 0
    campaign = metrics(out, "campaign")
    assert campaign["stored_ids"] == campaign["recipients"] == "120"
    assert campaign["create_requests"] == campaign["batches_expected"] == "3"  # 50 + 50 + 20
    assert campaign["slack_parent_posts"] == "1"
    assert int(campaign["slack_updates"]) <= 3
    lists = metrics(out, "audiences")
    # A 300-number list filled, sent to, and a 300-row CSV with a text per row sent.
    assert lists["list_size"] == lists["list_send_stored"] == lists["numbers"] == "300"
    assert lists["csv_send_stored"] == lists["csv_distinct_texts"] == "300"
    assert lists["csv_send_creates"] == lists["list_send_creates"] == "6"  # 50 per create
    assert float(lists["csv_ack_ms"]) < 3000 and "list_send_ratio" in lists
    sweep = metrics(out, "poll_sweep")
    assert sweep["checked"] == "120" and sweep["naive_checked"] == "20"
    shared = metrics(out, "replicas")
    # Each run checked every due message exactly once; both replicas of the pair took part.
    assert shared["checked_exactly_once"] == "True"
    assert shared["pg1.checked"] == shared["pg2.checked"] == shared["sqlite.checked"] == "100"
    assert all(int(n) > 0 for n in shared["pg2.per_replica"].split("/"))
    assert shared["due.index_used"] == "True" and shared["due.found"] == "50"
    assert float(shared["ack.pg2.p99_ms"]) > 0 and float(shared["ack.sqlite1.p99_ms"]) > 0
    assert float(sweep["speedup_vs_naive"]) > 1
    memory = metrics(out, "memory")
    assert memory["checked"] == memory["due"] == "200"
    assert 0 < float(memory["rss_before_sweep_mb"]) <= float(memory["peak_rss_mb"])
    database = metrics(out, "database")
    assert database["uses_index"] == "True" and database["found"] == "100"
    growth = metrics(out, "growth")
    assert float(growth["n3000_vs_n300.due_ratio"]) == 10
    assert "flat.sweep_cpu_ratio" in growth
    soak = metrics(out, "soak")
    # BSG dropped connections under the client, and nothing of it reached a caller or the log.
    assert int(soak["dropped_connections"]) > 0
    assert int(soak["retried_requests"]) >= 0
    assert soak["failures_to_callers"] == soak["warnings_logged"] == "0"
    assert soak["numbers_not_sent_exactly_once"] == "0"
    assert soak["bsg_messages"] == soak["creates"] == "50"
    # callbacks: in one run, callbacks against polling, 30 % lost, and a forged flood.
    on, off = metrics(out, "callbacks.on"), metrics(out, "callbacks.off")
    lossy, flood = metrics(out, "callbacks.lossy"), metrics(out, "callbacks.flood")
    for run in (on, off, lossy):
        # Every message went through its three transitions and each reached its thread.
        assert run["all_final"] == "True" and run["reached_thread"] == run["messages"] == "20"
    assert float(on["stored_p95_s"]) < float(off["stored_p95_s"])
    assert 1 <= float(on["gets_per_message"]) <= 6
    assert int(on["callbacks_sent"]) >= 60 and off["callbacks_sent"] == "0"
    assert int(lossy["callbacks_lost"]) > 0
    assert flood["forged_404"] == "300" and float(flood["forged_counted_by_app"]) == 300
    startup = metrics(out, "startup")
    assert float(startup["python_wall_s"]) > 0 and float(startup["help_wall_s"]) > 0
    # The table follows the metric lines, and the results file describes the machine.
    assert "viber-bot benchmarks" in out.split("startup.benchmark_s=")[1]
    written = results.read_text()
    assert "| CPUs |" in written and "| Python |" in written and "1 ack under load" in written
    assert "| previous round |" in written and "1b ack mid-sweep" in written


def test_estimate_update_acks_block_actions_while_bsg_prices_slowly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import estimate_update

    code = estimate_update.main(["--changes", "12", "--in-flight", "4", "--price-delay", "0.3"])
    out = capsys.readouterr().out
    figures = metrics(out, "estimate_update")
    assert code == 0
    assert figures["changes"] == "12" and figures["http_failures"] == "0"
    # The last change's price made it into the modal, by views.update after the acks.
    assert figures["last_estimate_shown"] == "1"
    assert int(figures["bsg_price_calls"]) >= 1
    assert float(figures["p99_ms"]) > 0
    assert float(figures["ratio_p99_to_target"]) == pytest.approx(
        float(figures["p99_ms"]) / estimate_update.P99_TARGET_MS, rel=1e-3
    )
    assert "Estimate update" in out and "p99 < 300" in out


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_soak_over_dropped_connections_reaches_no_caller_and_logs_no_failure(
    capsys: pytest.CaptureFixture[str], transport: str
) -> None:
    code = soak.main(
        ["--creates", "40", "--gets", "400", "--drop", "0.3", "--concurrency", "8",
         "--transport", transport]
    )  # fmt: skip
    out = capsys.readouterr().out
    figures = metrics(out, "soak")
    assert code == 0, out
    assert int(figures["dropped_connections"]) > 0
    assert figures["failures_to_callers"] == figures["warnings_logged"] == "0"
    assert figures["numbers_not_sent_exactly_once"] == "0" and figures["bsg_messages"] == "40"
    assert "requests retried" in out


def test_poll_sweep_measures_both_transports(capsys: pytest.CaptureFixture[str]) -> None:
    code = poll_sweep.main(
        ["--messages", "60", "--delay", "0.002", "--concurrency", "8", "--per-send", "10",
         "--naive", "0", "--transport", "both"]
    )  # fmt: skip
    out = capsys.readouterr().out
    figures = metrics(out, "poll_sweep")
    assert code == 0
    assert figures["transport"] == "aiohttp" and figures["httpx.transport"] == "httpx"
    assert figures["checked"] == figures["httpx.checked"] == "60"
    assert figures["errors"] == figures["httpx.errors"] == "0"
    assert float(figures["httpx.cpu_per_check_ms"]) > 0

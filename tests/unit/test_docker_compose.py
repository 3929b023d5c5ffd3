"""docker-compose.yml (no Docker engine here to run it): two replicas on the one PostgreSQL
service, settings the bot accepts, a round-robin front that knows both replicas, and the
`local` profile's simulator reachable by the replicas."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.settings import load_settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_two_replicas_share_one_postgres_database_the_bot_accepts():
    services = _services()
    replicas = [name for name in services if name.startswith("replica-")]
    assert replicas == ["replica-1", "replica-2"]
    urls = {services[name]["environment"]["VIBER_BOT_DB"] for name in replicas}
    assert len(urls) == 1
    [url] = urls
    settings = load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN="xoxb-compose",
        SLACK_SIGNING_SECRET="compose-secret",
        BSG_API_KEY="compose-key",
        VIBER_BOT_DEFAULT_SENDER="Acme",
        VIBER_BOT_DB=url,
    )
    assert settings.postgres_url == url
    assert "@postgres:5432/" in url
    postgres = services["postgres"]
    env = postgres["environment"]
    assert url == (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/"
        f"{env['POSTGRES_DB']}"
    )
    assert postgres["image"].startswith("postgres:15")
    for name in replicas:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_front_sends_requests_to_both_replicas():
    compose = yaml.safe_load(COMPOSE.read_text())
    config = compose["configs"]["front"]["content"]
    for name in ("replica-1", "replica-2"):
        assert f"server {name}:3000" in config
    assert compose["services"]["front"]["ports"] == ["3000:3000"]


def _interpolated(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME:-default}`, as `docker compose` resolves it from the shell or .env."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)


def test_the_local_profile_points_the_replicas_at_the_simulator_it_starts():
    services = _services()
    simulator = services["bsg-simulator"]
    assert simulator["profiles"] == ["local"]
    command = simulator["command"]
    assert command[0] == "simulate-bsg"  # a real subcommand of the image's entrypoint
    build_parser(command).parse_args(command)  # and its options parse
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    setting = services["replica-1"]["environment"]["BSG_API_URL"]
    assert _interpolated(setting, {}) == "https://api.bsg.world/rest"
    local = _interpolated(setting, {"BSG_API_URL": f"http://bsg-simulator:{port}/rest"})
    assert local == f"http://bsg-simulator:{port}/rest"
    assert f"BSG_API_URL={local}" in COMPOSE.read_text()  # the header says how


def test_nginx_sees_its_own_variables_not_compose_interpolation():
    config = yaml.safe_load(COMPOSE.read_text())["configs"]["front"]["content"]
    # A lone `$` is compose's: nginx's `$host` must be written `$$host`.
    assert "$$host" in config
    assert not re.search(r"(?<!\$)\$(?!\$)", config)

"""docker-compose.yml (no Docker engine here to run it): two replicas on the one PostgreSQL
service, settings the bot accepts, and a round-robin front that knows both replicas."""

from __future__ import annotations

from pathlib import Path

import yaml

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

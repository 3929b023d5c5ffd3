"""The test PostgreSQL server itself: it starts unprivileged, gives each test its own database."""

from __future__ import annotations

import psycopg

from tests.postgres import PostgresServer


def test_each_test_gets_a_fresh_database_on_a_real_server(pg_server: PostgresServer, pg_url):
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
        user = conn.execute("SELECT current_user").fetchone()[0]
    assert int(version) >= 150000
    assert tables == 0
    assert user == "viber"
    assert pg_server.create_database() != pg_url


def test_the_server_can_be_stopped_and_comes_back(own_pg_server: PostgresServer):
    url = own_pg_server.create_database()
    with own_pg_server.paused():
        try:
            psycopg.connect(url, connect_timeout=2).close()
        except psycopg.OperationalError:
            pass
        else:
            raise AssertionError("the server still answered while stopped")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_servers_listen_on_their_own_socket_only_so_no_port_can_clash(
    pg_server: PostgresServer, own_pg_server: PostgresServer
):
    # Two servers at once (as parallel test workers run them), each restartable at will:
    # neither has a TCP port that something else could take between choosing and binding.
    urls = [pg_server.create_database(), own_pg_server.create_database()]
    with own_pg_server.paused():
        pass
    for server, url in zip((pg_server, own_pg_server), urls, strict=True):
        assert f"host={server.sockets}" in url
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
            assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)  # a socket

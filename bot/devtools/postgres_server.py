"""A throw-away PostgreSQL server (initdb + pg_ctl in a temp dir), for the tests and the
benchmarks: nothing in the bot imports this.

It listens on a Unix socket in its own directory and on no TCP port: a port picked free and
bound later by the server can be taken meanwhile by a parallel test (or, while the server is
paused for an outage, by anything), and the socket directory is this server's alone, so start
and restart can never clash. URLs name it as `postgresql://viber@/DB?host=DIR`.

The binaries come from PATH or /usr/lib/postgresql/*/bin. initdb refuses to run as root, so as
root the server runs as the `postgres` system user through runuser.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"  # the unprivileged account the server runs as when we are root
# With no TCP listener the port only names the socket file (DIR/.s.PGSQL.5432), which lives
# in this server's own directory: every server may use the same one.
SOCKET_PORT = 5432


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started on this machine (the reason says why)."""


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresUnavailable("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")


class PostgresServer:
    """One throw-away cluster: start(), stop(), a fresh database per test, pause() for outages."""

    def __init__(self, base: Path | None = None):
        self.bindir = _bindir()
        self.as_user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no '{SERVER_USER}' user to run the server as"
                ) from None
            self.as_user = SERVER_USER
        self.root = Path(tempfile.mkdtemp(prefix="viber-pg-", dir=base))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = SOCKET_PORT
        self.user = "viber"
        self.running = False

    # ------------------------------------------------------------ processes

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _check(self, *args: str, timeout: float = 60.0) -> None:
        done = self._run(*args, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-1500:]}\n{log}"
            )

    def init(self) -> None:
        self.sockets.mkdir()
        if self.as_user is not None:
            entry = pwd.getpwnam(self.as_user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._check(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",  # loopback only, a throw-away cluster
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        """Start (or restart after stop()) on the same socket and data."""
        # fsync costs seconds per test on a busy disk and only matters if the machine itself
        # dies. Commits stay synchronous: a server stopped abruptly keeps every commit, as a
        # real one does (the outage and kill tests rely on it).
        options = (
            f"-p {self.port} -h '' -k {self.sockets} -c fsync=off "
            "-c full_page_writes=off -c max_connections=300 "
            "-c shared_buffers=32MB -c log_min_messages=warning"
        )
        self._check(
            str(self.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run(str(self.bindir / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))
            self.running = False

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The server away (as in a network drop) for the body of the with-block."""
        self.stop("immediate")
        try:
            yield
        finally:
            self.start()

    # ------------------------------------------------------------ databases

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.sockets}&port={self.port}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


def start_server(base: Path | None = None) -> PostgresServer:
    """A started server, or PostgresUnavailable with the reason."""
    server = PostgresServer(base)
    try:
        server.init()
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server

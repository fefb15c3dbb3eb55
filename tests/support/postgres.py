"""A throwaway PostgreSQL for the tests, and the audience store on either engine (a pytest plugin:
``tests/conftest.py`` names it in ``pytest_plugins``).

One cluster per test session (``initdb`` and ``pg_ctl`` in a temporary folder, a unix socket only, no
durability: nothing in it outlives the session), one fresh schema per test. Where PostgreSQL is not
installed, the tests that need it skip, saying so; in CI they fail, as the other missing requirements do.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"  # the cluster's own superuser (initdb -U), whoever runs it
DATABASE = "audience"
_SERVER_OPTIONS = ("-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")  # a socket only; a throwaway cluster needs no durability
_schemas = itertools.count()


@dataclass(frozen=True)
class PostgresCluster:
    socket_folder: Path
    port: int  # names the socket (.s.PGSQL.<port>); nothing listens on TCP

    def url(self, schema: str | None = None, database: str = DATABASE) -> str:
        """A libpq URL to ``database``; with ``schema``, tables are made and found there (its search_path)."""
        options = f"&options=-csearch_path%3D{schema}" if schema else ""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_folder}&port={self.port}{options}"


def postgres_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest /usr/lib/postgresql/<n>/bin."""
    if found := shutil.which("initdb"):
        return Path(found).parent
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[4]))
    return Path(installed[-1]).parent if installed else None


@contextmanager
def postgres_cluster_in(binaries: Path, port: int = 5432) -> Iterator[PostgresCluster]:
    """Start a new cluster in a temporary folder; stop it and delete the folder afterwards.

    PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (which owns the folder).
    """
    folder = Path(tempfile.mkdtemp(prefix="mnist-postgres-"))
    as_user = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
    data = folder / "data"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True, timeout=120)

    try:
        if as_user:
            shutil.chown(folder, SUPERUSER)  # LookupError where there is no such user
        run(str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
            "-o", f"{_SERVER_OPTIONS} -k {folder} -p {port}", "start")
        try:
            cluster = PostgresCluster(folder, port)
            import psycopg

            with psycopg.connect(cluster.url(database="postgres"), autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}")
            yield cluster
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as error:
        log = folder / "server.log"
        raise RuntimeError(f"{' '.join(error.cmd)} failed:\n{error.stderr}"
                           + (log.read_text()[-2000:] if log.exists() else "")) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL (started by the first test that needs it)."""
    binaries = postgres_binaries()
    if binaries is None:
        message = ("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
                   "the PostgreSQL half of the audience store's tests needs it (apt-get install -y postgresql).")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        with postgres_cluster_in(binaries) as cluster:
            yield cluster
    except LookupError:
        pytest.skip(f"Running as root, PostgreSQL needs a '{SUPERUSER}' user to run as (useradd {SUPERUSER}).")


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty schema of the session's cluster, as the URL a store opens."""
    import psycopg

    schema = f"test_{next(_schemas)}"
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return postgres_cluster.url(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> Path | str:
    """Where a new audience store is, on each engine: a file in tmp_path, or a fresh PostgreSQL schema."""
    return tmp_path / "a.sqlite3" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def open_store():
    """``open_store(location, wait_seconds=30)``: an audience store, closed after the test."""
    from mnist_core.audience import open_audience_store

    opened = []

    def open_(location: Path | str, wait_seconds: float = 30):
        opened.append(open_audience_store(location, wait_seconds))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store, store_location):
    """A new, empty audience store on each engine (SQLite, PostgreSQL)."""
    return open_store(store_location)

"""Shared fixtures: a real Redis and real databases (SQLite always, PostgreSQL when reachable).

Each test session starts its own Redis server (``flask_clawhooks.embedded_redis``) so the
suite never touches the machine's Redis and passes where none runs; set
``CLAWHOOKS_TEST_REDIS_URL`` to use another one. Every test gets that Redis flushed before
and after.

The suite is hermetic: settings a developer's shell may hold (``FLASK_*``, ``CLAWHOOKS_*``,
``RECEIVER_KIT_*``, ``RQ_*``, ``REDIS_URL``, ``DATABASE_URL``, e.g. after working with the
example app) are removed from this process's environment before any test runs, so neither
the tests nor anything they start reads them. Only the test knobs below survive.

PostgreSQL is ``CLAWHOOKS_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database ``test``);
each session works in a schema of its own. When it is unreachable the PostgreSQL variants
are skipped, unless ``CLAWHOOKS_REQUIRE_POSTGRES=1`` (as ``.ci/run`` sets), which fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping

import pytest
import redis

from flask_clawhooks.embedded_redis import EmbeddedRedis

#: What a developer may set to steer the suite itself; every other setting is cleared.
SUITE_KNOBS = frozenset({
    "CLAWHOOKS_TEST_REDIS_URL", "CLAWHOOKS_TEST_POSTGRES_URL", "CLAWHOOKS_REQUIRE_POSTGRES",
})
#: Prefixes of variables that configure the package, its example app, RQ or redis-py.
HOST_SETTING_PREFIXES = ("FLASK_", "CLAWHOOKS_", "RECEIVER_KIT_", "RQ_")
HOST_SETTING_NAMES = frozenset({"REDIS_URL", "DATABASE_URL", "SQLALCHEMY_DATABASE_URI"})


def scrub_environment(environ: MutableMapping[str, str]) -> list[str]:
    """Remove the host settings from ``environ``; return their names."""
    removed = sorted(
        name for name in environ
        if name not in SUITE_KNOBS
        and (name.startswith(HOST_SETTING_PREFIXES) or name in HOST_SETTING_NAMES)
    )
    for name in removed:
        del environ[name]
    return removed


# At import, before any fixture, so that every process the tests start inherits it.
SCRUBBED = scrub_environment(os.environ)

pytest_plugins = ["tests.fixtures", "tests.processes"]

#: The test files that take longest, longest first (measured on 2026-12-07, 37-137 s
#: each). pytest-xdist hands whole files to its workers in collection order (tox.ini
#: keeps it from reordering them), so these go first and the workers finish together
#: instead of one of them running a long file alone at the end.
LONGEST_FIRST = (
    "tests/api/test_openapi.py",
    "tests/sender/test_delivery_control_processes.py",
    "tests/dashboard/test_browser.py",
    "tests/dashboard/test_demo.py",
    "tests/security/test_fault_drill.py",
    "tests/dashboard/test_layout.py",
    "tests/sender/test_worker_processes.py",
    "tests/dashboard/test_browser_recovery.py",
    "tests/interop/test_receiver_frameworks.py",
    "tests/upgrade/test_host_migrations.py",
    "tests/sender/test_sentinel.py",
    "tests/docs/test_build.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``--numprocesses=auto`` (tox.ini): one test process more than the machine has
    cores. Many tests spend their time waiting (on receivers, worker processes, retry
    delays and browsers), and a process waiting leaves its core idle; on 2 cores the
    whole suite took 472 s with 2 processes and 360 s with 3 (on a slower machine, 576 s
    with 3 and 557 s with 4: not worth the busier cores)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    # A stable sort: the files' own order and the order inside each file are kept.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("CLAWHOOKS_TEST_REDIS_URL"):
        yield None
        return
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis | None) -> str:
    if redis_server is None:
        return os.environ["CLAWHOOKS_TEST_REDIS_URL"]
    return redis_server.url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()

"""Shared fixtures: a real Redis and real databases (SQLite always, PostgreSQL when reachable).

Each test session starts its own Redis server (``flask_clawhooks.embedded_redis``) so the
suite never touches the machine's Redis and passes where none runs; set
``CLAWHOOKS_TEST_REDIS_URL`` to use another one. Every test gets that Redis flushed before
and after.

PostgreSQL is ``CLAWHOOKS_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, database ``test``);
each session works in a schema of its own. When it is unreachable the PostgreSQL variants
are skipped, unless ``CLAWHOOKS_REQUIRE_POSTGRES=1`` (as ``.ci/run`` sets), which fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from flask_clawhooks.embedded_redis import EmbeddedRedis

pytest_plugins = ["tests.fixtures", "tests.processes"]


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

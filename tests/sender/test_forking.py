"""A process forked by a worker keeps none of its parent's connections and dies with it
(flask_clawhooks.forking)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import sqlalchemy as sa

from ..processes import group_members, wait_for

# The parent opens a PostgreSQL transaction and a Redis connection, forks a child that
# just sleeps, then lets go of both sockets without a word (as a SIGKILLed process
# does). The server sees them close only if the child holds no copy.
PARENT = textwrap.dedent("""
    import os, sys, time
    import redis, sqlalchemy as sa
    from flask_clawhooks import forking

    engine = sa.create_engine(sys.argv[1])
    forking.install()
    forking.protect_engine(engine, "clawhooks-forktest-{pid}")
    conn = engine.connect()
    conn.execute(sa.text("SELECT 1"))  # a transaction is open now
    client = redis.Redis.from_url(sys.argv[2], client_name=f"forktest-{os.getpid()}")
    forking.protect_redis(client)
    client.ping()
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    os.close(conn.connection.dbapi_connection.fileno())
    os.close(client.connection_pool._available_connections[0]._sock.fileno())
    print(pid, flush=True)
    time.sleep(60)
""")


def test_a_forked_child_holds_no_copy_of_the_parents_database_or_redis_connection(
    postgres_schema_url, redis_url, redis_conn, spawn
):
    parent = spawn([sys.executable, "-c", PARENT, postgres_schema_url, redis_url],
                   stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert child in group_members(parent.pid)
    engine = sa.create_engine(postgres_schema_url)

    def pg_sessions() -> list[str]:
        with engine.connect() as conn:
            return list(conn.scalars(sa.text(
                "SELECT state FROM pg_stat_activity WHERE application_name = :name"),
                {"name": f"clawhooks-forktest-{parent.pid}"}))

    def redis_clients() -> list[dict]:
        return [c for c in redis_conn.client_list() if c["name"] == f"forktest-{parent.pid}"]

    try:
        wait_for(lambda: not pg_sessions(), 5, "the parent's PostgreSQL session ended")
        wait_for(lambda: not redis_clients(), 5, "the parent's Redis connection closed")
        assert child in group_members(parent.pid)  # while the child still runs
    finally:
        engine.dispose()


def test_a_forked_child_stops_when_its_parent_is_sigkilled(spawn):
    parent = spawn([sys.executable, "-c", textwrap.dedent("""
        import os, time
        from flask_clawhooks import forking
        forking.install()
        if os.fork() == 0:
            time.sleep(60)  # SIGTERM from the kernel ends this sleep (default action)
            os._exit(0)
        print("forked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "forked"
    assert len(group_members(parent.pid)) == 2
    parent.kill()
    parent.wait(5)
    wait_for(lambda: not group_members(parent.pid), 3, "the child gone with its parent")


def test_a_forked_child_that_ignores_sigterm_is_ended_after_the_grace(spawn):
    parent = spawn([sys.executable, "-c", textwrap.dedent("""
        import os, signal, time
        from flask_clawhooks import forking
        forking.install()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            forking.die_with_parent(grace=1.0)
            time.sleep(60)
            os._exit(0)
        print("forked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "forked"
    parent.kill()
    parent.wait(5)
    wait_for(lambda: not group_members(parent.pid), 4, "the child ended after its grace")



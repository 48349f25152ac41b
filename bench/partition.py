"""``python -m bench.partition``: what partitioning the attempts costs and saves
(PostgreSQL).

``partition_enable``: fills an unpartitioned log, in SQL, to each of ``--sizes``
attempts (as :mod:`bench.scale` does: one event, delivery and attempt each, over the
last 6.5 days), then runs ``flask --app bench.app clawhooks partition enable --interval
day`` in a process of its own and prints what it said (the time of the id check, during
which writes go on, and of the exclusive lock) and its wall time.

``partition_prune``: fills two logs to ``--prune-size`` attempts, one plain and one
partitioned by day (as if enabled ten days before), and times ``flask clawhooks prune
--older-than 1d`` on each, alone (no worker running).

The work is the PostgreSQL server's, so the figures are wall times: on a shared
machine, noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time

from flask_clawhooks import partitions
from flask_clawhooks.timeutil import utcnow

from . import app as bench_app
from . import harness
from .run import note
from .scale import Log


def enable(size: int, redis_url: str) -> None:
    with harness.database("postgresql") as url:
        log = Log("postgresql", url, redis_url, "http://127.0.0.1:9/unused")
        try:
            took = log.fill(size, size)
            note(f"log filled to {size} attempts in {took:.0f} s")
            env = _env(url, redis_url)
            command = ["flask", "--app", "bench.app", "clawhooks", "partition", "enable",
                       "--interval", "day"]
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", *command], env=env,
                                  capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            note(f"$ {' '.join(command)}")
            for line in (done.stdout + done.stderr).splitlines():
                note(f"  {line}")
            if done.returncode != 0:
                raise SystemExit(f"partition enable failed ({done.returncode})")
            print(f"figure=partition_enable attempts={size} wall_s={wall:.2f} "
                  "(process start and ANALYZE included)", flush=True)
        finally:
            log.close()


def _env(url: str, redis_url: str) -> dict[str, str]:
    return {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url,
            "FLASK_CLAWHOOKS_REDIS_URL": redis_url}


def prune(size: int, redis_url: str) -> None:
    took = {}
    with harness.database("postgresql") as plain_url, \
            harness.database("postgresql") as part_url:
        logs = [Log("postgresql", url, redis_url, "http://127.0.0.1:9/unused")
                for url in (plain_url, part_url)]
        try:
            with logs[1].host.app.app_context():
                engine = bench_app.db.engine
                partitions.enable(engine, "day", now=utcnow() - dt.timedelta(days=10))
                partitions.create_ahead(engine)
            for log in logs:
                log.fill(size, size)
            for label, log in zip(("plain", "partitioned"), logs, strict=True):
                command = ["flask", "--app", "bench.app", "clawhooks", "prune",
                           "--older-than", "1d"]
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", *command],
                                      env=_env(log.url, redis_url), capture_output=True,
                                      text=True, check=False)
                took[label] = time.perf_counter() - started
                note(f"{label}: $ {' '.join(command)}")
                for line in done.stdout.splitlines():
                    if not line.startswith("Pruning events"):
                        note(f"  {line}")
                if done.returncode != 0:
                    raise SystemExit(f"prune failed ({done.returncode}): {done.stderr}")
        finally:
            for log in logs:
                log.close()
    print(f"figure=partition_prune attempts={size} plain_s={took['plain']:.1f} "
          f"partitioned_s={took['partitioned']:.1f} "
          f"ratio={took['partitioned'] / took['plain']:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.partition", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000],
                        help="attempts in the log before it is partitioned")
    parser.add_argument("--prune-size", type=int, default=300_000,
                        help="attempts in each log the prune is timed on (0: none)")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    if not harness.postgres_available():
        raise SystemExit(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")
    note(f"bench.partition: {os.cpu_count()} cores, load average "
         f"{os.getloadavg()[0]:.1f}")
    with harness.redis() as redis_url:
        for size in args.sizes:
            enable(size, redis_url)
        if args.prune_size:
            prune(args.prune_size, redis_url)


if __name__ == "__main__":
    main()

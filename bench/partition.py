"""``python -m bench.partition``: what ``flask clawhooks partition enable`` costs on a
filled log (PostgreSQL).

Fills an unpartitioned log, in SQL, to each of ``--sizes`` attempts (as
:mod:`bench.scale` does: one event, delivery and attempt each, over the last 6.5 days),
then runs ``flask --app bench.app clawhooks partition enable --interval day`` in a
process of its own and prints what it said (the time of the id check, during which
writes go on, and of the exclusive lock) and its wall time. The work is the PostgreSQL
server's, so the figures are wall times: on a shared machine, noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from . import harness
from .run import note
from .scale import Log


def enable(size: int, redis_url: str) -> None:
    with harness.database("postgresql") as url:
        log = Log("postgresql", url, redis_url, "http://127.0.0.1:9/unused")
        try:
            took = log.fill(size, size)
            note(f"log filled to {size} attempts in {took:.0f} s")
            env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url,
                   "FLASK_CLAWHOOKS_REDIS_URL": redis_url}
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.partition", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000],
                        help="attempts in the log before it is partitioned")
    args = parser.parse_args()
    if not harness.postgres_available():
        raise SystemExit(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")
    note(f"bench.partition: {os.cpu_count()} cores, load average "
         f"{os.getloadavg()[0]:.1f}")
    with harness.redis() as redis_url:
        for size in args.sizes:
            enable(size, redis_url)


if __name__ == "__main__":
    main()

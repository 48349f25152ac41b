"""The bench's baselines: what the same POSTs cost without the project around them.

``aiohttp``: an asyncio client (aiohttp, a bench-only dependency: ``pip install aiohttp``)
keeping ``concurrency`` POSTs in flight, each with the body an ``emit()`` makes and the
worker's headers, signed per request, as the worker does. It runs in a process of its own
(``python -m bench.baselines``) and reports its own CPU time for the POSTs alone (the
bodies are built before the clock starts, as ``emit()`` builds them in the host).

``wrk``: the C load generator, where installed (``apt-get install wrk``), posting one
signed envelope with the same headers over ``concurrency`` connections: the receiver's
ceiling. Its CPU is that of the ``wrk`` process, start-up included.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from flask_clawhooks.ids import new_id
from flask_clawhooks.signing import envelope_bytes, request_headers
from flask_clawhooks.timeutil import isoformat, utcnow

from . import app as bench_app

SECRET = "your-webhook-secret"
EVENT = "message.received"


@dataclass
class Run:
    """One baseline run: POSTs per second and CPU microseconds per POST."""

    rate: float
    cpu_us: float


def aiohttp_missing() -> str | None:
    """Why the aiohttp baseline cannot run, or None."""
    if importlib.util.find_spec("aiohttp") is None:
        return "aiohttp is not installed (pip install aiohttp): aiohttp baseline skipped"
    return None


def wrk_missing() -> str | None:
    """Why the wrk baseline cannot run, or None."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk): wrk baseline skipped"
    return None


def _bodies(count: int) -> list[tuple[str, str, bytes]]:
    created = isoformat(utcnow()) or ""
    work = []
    for seq in range(count):
        event_id = new_id("evt")
        work.append((event_id, new_id("del"),
                     envelope_bytes(event_id, EVENT, created, bench_app.message(seq))))
    return work


def run_aiohttp(url: str, count: int, concurrency: int) -> Run:
    """Run the aiohttp baseline in a process of its own; raises SystemExit on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.baselines", "--url", url, "--n", str(count),
         "--concurrency", str(concurrency)],
        capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the aiohttp baseline failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(result["rate"], result["cpu_us"])


async def _post_all(url: str, work: list[tuple[str, str, bytes]],
                    concurrency: int) -> tuple[float, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Open the connections before the clock starts, as the worker's warm-up does.
        await asyncio.gather(*(_post(session, url, item) for item in work[:concurrency]))
        todo = iter(work[concurrency:])

        async def lane() -> None:
            for item in todo:
                await _post(session, url, item)

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return time.process_time() - cpu, time.perf_counter() - wall


async def _post(session: object, url: str, item: tuple[str, str, bytes]) -> None:
    event_id, delivery_id, body = item
    headers = request_headers([SECRET], body, event_id, EVENT, delivery_id, int(time.time()))
    async with session.post(url, data=body, headers=headers) as response:  # type: ignore[attr-defined]
        await response.read()
        if response.status != 200:
            raise SystemExit(f"the aiohttp baseline got HTTP {response.status}")


def run_wrk(url: str, seconds: float, concurrency: int, threads: int = 2) -> Run:
    """Run wrk for ``seconds`` against ``url``; raises SystemExit on failure."""
    event_id, delivery_id, body = _bodies(1)[0]
    headers = request_headers([SECRET], body, event_id, EVENT, delivery_id, int(time.time()))
    script = "\n".join([
        'wrk.method = "POST"',
        f"wrk.body = {_lua(body.decode())}",
        *(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()),
    ])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency),
             "-d", f"{seconds:g}s", "-s", lua.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(lua.name)
    requests = rate = None
    for line in done.stdout.splitlines():
        words = line.split()
        if line.strip().startswith("Requests/sec:"):
            rate = float(words[1])
        elif "requests in" in line:
            requests = int(words[0])
        elif "Non-2xx" in line:
            raise SystemExit(f"wrk got answers other than 2xx:\n{done.stdout}")
    if done.returncode != 0 or not rate or not requests:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(rate, cpu / requests * 1e6)


def _lua(text: str) -> str:
    """``text`` as a Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    args = parser.parse_args()
    missing = aiohttp_missing()
    if missing:
        raise SystemExit(missing)
    work = _bodies(args.n + args.concurrency)
    cpu, wall = asyncio.run(_post_all(args.url, work, args.concurrency))
    print(json.dumps({"rate": args.n / wall, "cpu_us": cpu / args.n * 1e6}))


if __name__ == "__main__":
    main()

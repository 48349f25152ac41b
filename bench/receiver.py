"""A fast HTTP/1.1 webhook receiver for benchmarks: asyncio, keep-alive, optional delay.

``python -m bench.receiver --port P [--delay 0.1]`` answers every POST with 200 after
``delay`` seconds, serving any number of requests at once, and counts what it got.
``GET /count`` returns the number of POSTs received and the number of distinct bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK"


class Stats:
    posts = 0
    bodies: set[bytes] = set()
    arrivals: list[tuple[float, bytes]] = []


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float,
                 record_times: bool) -> None:
    loop = asyncio.get_running_loop()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, rest = head.partition(b"\r\n")
            length = 0
            for line in rest.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if request_line.startswith(b"GET /count"):
                text = f"{Stats.posts} {len(Stats.bodies)}".encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
                await writer.drain()
                continue
            if request_line.startswith(b"GET /arrivals"):
                text = "\n".join(f"{t:.6f} {d.decode()}" for t, d in Stats.arrivals).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
                await writer.drain()
                continue
            Stats.posts += 1
            digest = hashlib.blake2b(body, digest_size=12).digest()
            Stats.bodies.add(digest)
            if record_times:
                import time

                marker = b'"seq":'
                at = body.find(marker)
                seq = body[at + len(marker):].split(b",")[0].split(b"}")[0] if at >= 0 else b"?"
                Stats.arrivals.append((time.time(), seq))
            if delay:
                await asyncio.sleep(delay)
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
    del loop


async def serve(port: int, delay: float, record_times: bool) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, delay, record_times), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--record-times", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay, args.record_times))


if __name__ == "__main__":
    main()

"""A loopback TCP relay that delays every request by a fixed time: 20 ms before each response.

The fallback of `run_all.py` when the kernel has no `netem` queueing discipline (so a network
namespace with `tc qdisc ... netem delay` cannot add latency). Bytes from the client to the server
are held for `--delay` seconds (in order) before they are forwarded; bytes from the server to the
client pass at once. With keep-alive, every request therefore reaches nginx `--delay` later, and
each response starts `--delay` later, whatever the client. Unlike netem it adds no delay to the
TCP handshake or to slow start, and it costs CPU (a Python process on the same cores): both
clients being compared pay the same.

    python delay_proxy.py --listen-port P --upstream-port Q --delay 0.02 [--lifetime 3600]

It prints `listening` once ready and exits by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

LOOPBACK = "127.0.0.1"
CHUNK = 256 * 1024


async def forward_delayed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy reader → writer, each chunk sent `delay` seconds after it arrived (order kept)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await sender
    finally:
        sender.cancel()


async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


async def relay(
    client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, port: int, delay: float
) -> None:
    try:
        server_r, server_w = await asyncio.open_connection(LOOPBACK, port)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(
            forward_delayed(client_r, server_w, delay), forward(server_r, client_w)
        )
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        for writer in (server_w, client_w):
            writer.close()


async def serve(listen_port: int, upstream_port: int, delay: float, lifetime: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await relay(reader, writer, upstream_port, delay)

    server = await asyncio.start_server(handle, LOOPBACK, listen_port, backlog=256)
    print("listening", flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.serve_forever(), lifetime)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen_port, args.upstream_port, args.delay, args.lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())

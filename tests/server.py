"""A real HTTP server on 127.0.0.1 whose routes can misbehave on purpose.

Each route is a Responder: a callable that writes a whole raw response (or none) to the socket,
so tests can send truncated bodies, stall mid-body, reset the connection or redirect anywhere.
"""

from __future__ import annotations

import io
import random
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


Responder = Callable[[BaseHTTPRequestHandler], None]


def jpeg_bytes(
    color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=90)
    return out.getvalue()


def noisy_jpeg(size: tuple[int, int] = (160, 120), seed: int = 7) -> bytes:
    """A JPEG whose scan data is incompressible noise, so any cut lands inside the pixels."""
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def gif_canvas(width: int, height: int, frames: int) -> bytes:
    """A GIF of `frames` 1x1 frames on a width x height canvas: ~23 bytes a frame.

    Written by hand because that is what makes it hostile: the file stays tiny while every
    frame is decoded onto the whole canvas.
    """
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # a 2-colour global palette
    out += b"\x00\x00\x00\xff\xff\xff"
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for i in range(frames):
        out += b"\x21\xf9\x04\x04\x02\x00\x00\x00"  # graphic control: 20 ms, keep the canvas
        x, y = i % max(1, width - 1), (i // max(1, width - 1)) % height
        out += b"\x2c" + struct.pack("<HHHHB", x, y, 1, 1, 0)
        out += b"\x02\x02\x44\x01\x00"  # LZW with 3-bit codes: clear, pixel 0, end
    out += b"\x3b"
    return bytes(out)


def png_bytes(
    color: tuple[int, int, int] = (30, 200, 30), size: tuple[int, int] = (40, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims a picture far larger than any sane decoder limit."""
    small = png_bytes(size=(1, 1))
    ihdr_at = small.index(b"IHDR")
    patched = bytearray(small)
    patched[ihdr_at + 4 : ihdr_at + 12] = struct.pack(">II", width, height)

    crc = zlib.crc32(bytes(patched[ihdr_at : ihdr_at + 17])) & 0xFFFFFFFF
    patched[ihdr_at + 17 : ihdr_at + 21] = struct.pack(">I", crc)
    return bytes(patched)


def send(
    status: int = 200,
    body: bytes = b"",
    content_type: str = "image/jpeg",
    headers: dict[str, str] | None = None,
    declared_length: int | None = None,
) -> Responder:
    """A plain response; `declared_length` may lie about the body (truncation)."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        length = len(body) if declared_length is None else declared_length
        handler.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        if declared_length is not None and declared_length != len(body):
            handler.close_connection = True

    return respond


def image(body: bytes, content_type: str = "image/jpeg", etag: str | None = None) -> Responder:
    headers = {"Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT"}
    if etag:
        headers["ETag"] = etag
    return send(200, body, content_type, headers)


def conditional_image(body: bytes, etag: str) -> Responder:
    """Answers 304 when the client's If-None-Match matches, else the image."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
        else:
            image(body, etag=etag)(handler)

    return respond


def stall(
    body: bytes, after: int, seconds: float, started: threading.Event | None = None
) -> Responder:
    """Sends `after` bytes of the body, sets `started` (if given), then nothing for `seconds`."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:after])
        handler.wfile.flush()
        if started is not None:
            started.set()
        time.sleep(seconds)
        handler.close_connection = True

    return respond


def silent(seconds: float) -> Responder:
    """Takes the request and answers nothing for `seconds`: not even a status line."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        handler.close_connection = True

    return respond


def too_many_requests(retry_after: str) -> Responder:
    """429 with a Retry-After header, every time."""
    return send(429, b"slow down", "text/plain", {"Retry-After": retry_after})


def trickle(body: bytes, pieces: int, pause: float) -> Responder:
    """The whole body in `pieces` parts, `pause` seconds apart: a slow download."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        size = -(-len(body) // pieces)
        for start in range(0, len(body), size):
            handler.wfile.write(body[start : start + size])
            handler.wfile.flush()
            time.sleep(pause)

    return respond


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Closes the connection with a TCP RST before any answer."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


def redirect(location: str, status: int = 302) -> Responder:
    return send(status, b"", "text/plain", {"Location": location})


def sequence(*responders: Responder) -> Responder:
    """One responder per request in turn; the last one repeats."""
    queue = list(responders)
    lock = threading.Lock()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            current = queue.pop(0) if len(queue) > 1 else queue[0]
        current(handler)

    return respond


@dataclass
class LoopbackServer:
    host: str
    port: int
    routes: dict[str, Responder] = field(default_factory=dict)
    seen: list[SeenRequest] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, responder: Responder) -> str:
        self.routes[path] = responder
        return self.url(path)

    def requests_for(self, path: str) -> list[SeenRequest]:
        return [r for r in self.seen if r.path == path]


def serve(server_state: LoopbackServer) -> Iterator[LoopbackServer]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with lock:
                server_state.seen.append(SeenRequest(self.path, dict(self.headers.items())))
            responder = server_state.routes.get(self.path.split("?")[0])
            if responder is None:
                send(404, b"<html>not found</html>", "text/html")(self)
            else:
                responder(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((server_state.host, 0), Handler)
    httpd.daemon_threads = True
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


def unsized(body: bytes, chunked: bool, content_type: str = "image/jpeg") -> Responder:
    """A 200 with no Content-Length: chunked, or a body that ends when the connection closes."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if chunked:
            for start in range(0, len(body), 4096):
                piece = body[start : start + 4096]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.write(b"0\r\n\r\n")
        else:
            handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = not chunked

    return respond

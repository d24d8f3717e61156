"""The demo's loopback server: sample images whose pixels change on every request.

Each request of a path draws a new version: a big version number and the time it was drawn,
so a force refresh visibly changes both the picture and the file's timestamp.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import threading
import time
from collections import Counter
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw, ImageFont

DEMO_IMAGES: dict[str, list[str]] = {
    "events": [
        "summer-gala.jpg",
        "jazz-night.jpg",
        "opening-ceremony.png",
        "food-festival.jpg",
        "film-premiere.webp",
        "charity-run.jpg",
        "book-fair.jpg",
        "new-year-countdown.avif",
    ],
    "performers": [
        "the-midnight-echoes.jpg",
        "dj-aurora.jpg",
        "string-quartet.png",
        "comedian-lee-park.jpg",
        "soprano-maria-vale.jpg",
        "the-brass-collective.webp",
        "poet-sam-okoro.jpg",
        "drummer-kai.jpg",
    ],
    "venues": [
        "grand-hall.jpg",
        "riverside-stage.jpg",
        "old-town-theatre.png",
        "city-arena.jpg",
        "rooftop-garden.jpg",
        "harbour-pavilion.jpg",
        "jazz-cellar.jpg",
        "open-air-park.jpg",
    ],
}
_FORMATS = {
    ".jpg": ("JPEG", "image/jpeg"),
    ".png": ("PNG", "image/png"),
    ".webp": ("WEBP", "image/webp"),
    ".avif": ("AVIF", "image/avif"),
}
SIZE = (640, 400)


def draw_version(name: str, version: int, extension: str) -> bytes:
    """A picture of `name` at `version`: colour, big number and time all change per version."""
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
    hue = ((seed % 360) + version * 47) % 360 / 360
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.95))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.08) % 1, 0.75, 0.55))
    image = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):
        t = y / SIZE[1]
        draw.line(
            [(0, y), (SIZE[0], y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    big = ImageFont.load_default(size=150)
    small = ImageFont.load_default(size=34)
    label = name.rsplit(".", 1)[0].replace("-", " ").title()
    draw.text((32, 24), label, font=small, fill="white", stroke_width=2, stroke_fill="black")
    draw.text(
        (SIZE[0] // 2, SIZE[1] // 2 + 10),
        f"v{version}",
        font=big,
        fill="white",
        anchor="mm",
        stroke_width=4,
        stroke_fill="black",
    )
    stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
    draw.text(
        (SIZE[0] - 32, SIZE[1] - 28),
        stamp,
        font=small,
        fill="white",
        anchor="rs",
        stroke_width=2,
        stroke_fill="black",
    )
    pil_format, _mime = _FORMATS[extension]
    out = io.BytesIO()
    image.save(out, pil_format, quality=82)
    return out.getvalue()


class DemoServer:
    """Serves /<category>/<name> on 127.0.0.1; start() then url_for(); stop() when done."""

    def __init__(self) -> None:
        self.versions: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        demo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                category, _, name = self.path.lstrip("/").partition("/")
                extension = "." + name.rsplit(".", 1)[-1] if "." in name else ""
                if name not in DEMO_IMAGES.get(category, []) or extension not in _FORMATS:
                    self.send_error(404)
                    return
                with demo._lock:
                    demo.versions[self.path] += 1
                    version = demo.versions[self.path]
                body = draw_version(name, version, extension)
                self.send_response(200)
                self.send_header("Content-Type", _FORMATS[extension][1])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"v{version}"')
                self.send_header("Last-Modified", formatdate(time.time(), usegmt=True))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name="demo-server").start()

    def url_for(self, category: str, name: str) -> str:
        if self._httpd is None:
            raise RuntimeError("the demo server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{category}/{name}"

    def urls(self) -> dict[str, list[str]]:
        return {c: [self.url_for(c, n) for n in names] for c, names in DEMO_IMAGES.items()}

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

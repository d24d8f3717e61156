"""Pictures for the safety net's tests: real-looking ones, their re-encodes, and placeholders."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def encode(picture: Image.Image, image_format: str = "JPEG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if image_format == "JPEG":
        picture.convert("RGB").save(out, "JPEG", quality=quality)
    else:
        picture.save(out, image_format)
    return out.getvalue()


def photo_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A picture with detail everywhere: coarse noise over a gradient (like the bench corpus)."""
    rng = random.Random(seed)
    grid = (size[0] // 8, size[1] // 8)
    noise = Image.frombytes("RGB", grid, rng.randbytes(grid[0] * grid[1] * 3))
    noise = noise.resize(size, Image.Resampling.BILINEAR)
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    return Image.blend(gradient, noise, 0.5)


def photo(seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    return encode(photo_picture(seed, size), quality=quality)


def reencoded(data: bytes, quality: int, scale: float = 1.0, image_format: str = "JPEG") -> bytes:
    """The same picture saved again at another quality, resized by `scale`."""
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    size = (round(picture.width * scale), round(picture.height * scale))
    return encode(picture.resize(size, Image.Resampling.LANCZOS), image_format, quality)


def palette_blocks(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """Blocks of the same four colours in an order set by `seed`: pictures of one size and one
    palette that are different pictures."""
    colours = [(200, 40, 40), (40, 160, 60), (30, 60, 200), (240, 220, 60)]
    rng = random.Random(seed)
    picture = Image.new("RGB", size)
    draw = ImageDraw.Draw(picture)
    step = 40
    for top in range(0, size[1], step):
        for left in range(0, size[0], step):
            draw.rectangle((left, top, left + step - 1, top + step - 1), fill=rng.choice(colours))
    return encode(picture, "PNG")


def flat(
    colour: tuple[int, int, int] = (128, 128, 128), size: tuple[int, int] = (600, 400)
) -> bytes:
    """A grey box: the plainest placeholder."""
    return encode(Image.new("RGB", size, colour), quality=85)


def pixel() -> bytes:
    """A 1 × 1 tracking pixel, as PNG."""
    return encode(Image.new("RGB", (1, 1), (255, 255, 255)), "PNG")


def removed_picture(size: tuple[int, int] = (600, 400)) -> Image.Image:
    """An "image removed" placeholder: light grey, a crossed-out frame and a caption."""
    picture = Image.new("RGB", size, (225, 225, 225))
    draw = ImageDraw.Draw(picture)
    w, h = size
    frame = (w * 0.35, h * 0.2, w * 0.65, h * 0.6)
    draw.rectangle(frame, outline=(150, 150, 150), width=max(2, w // 100))
    draw.line((frame[0], frame[1], frame[2], frame[3]), fill=(190, 60, 60), width=max(2, w // 80))
    draw.line((frame[0], frame[3], frame[2], frame[1]), fill=(190, 60, 60), width=max(2, w // 80))
    draw.text(
        (w * 0.36, h * 0.7), "image removed", fill=(110, 110, 110), font_size=max(10, w // 24)
    )
    return picture


def removed(size: tuple[int, int] = (600, 400), quality: int = 92) -> bytes:
    return encode(removed_picture(size), quality=quality)

"""Derived sizes of an adopted folder's originals (`original_:thumb_:250x250:crop`).

A web app's uploads keep each original beside smaller versions made from it. A rule names the
original's prefix, the variant's prefix, the size and the fit: after an original is refreshed,
each of its variants is made anew from the new original, so no thumbnail stays old.
"""

from __future__ import annotations

import enum
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

_RULE = re.compile(r"([^:/\\]+):([^:/\\]+):(\d{1,5})x(\d{1,5}):(crop|fit)")
_JPEG_QUALITY = 88


class Fit(enum.StrEnum):
    CROP = "crop"  # fill the size, cut the centre out
    FIT = "fit"  # shrink to fit inside the size


class VariantRuleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class VariantRule:
    source_prefix: str
    variant_prefix: str
    width: int
    height: int
    fit: Fit

    @classmethod
    def parse(cls, text: str) -> VariantRule:
        """`SRC_PREFIX:DST_PREFIX:WxH:FIT`, e.g. `original_:thumb_:250x250:crop`."""
        match = _RULE.fullmatch(text.strip())
        if match is None:
            raise VariantRuleError(
                f"not a variant rule: {text!r} (expected SRC_PREFIX:DST_PREFIX:WxH:crop|fit,"
                " e.g. original_:thumb_:250x250:crop)"
            )
        source, variant, width, height, fit = match.groups()
        if source == variant or not (int(width) > 0 and int(height) > 0):
            raise VariantRuleError(f"not a usable variant rule: {text!r}")
        return cls(source, variant, int(width), int(height), Fit(fit))

    def __str__(self) -> str:
        return f"{self.source_prefix}:{self.variant_prefix}:{self.width}x{self.height}:{self.fit}"

    def variant_of(self, original: Path) -> Path | None:
        """The variant's path for an original this rule applies to."""
        if not original.name.startswith(self.source_prefix):
            return None
        return original.with_name(self.variant_prefix + original.name[len(self.source_prefix) :])

    def original_of(self, path: Path) -> Path | None:
        """The original a file would be the variant of, by its name (it may not exist)."""
        if not path.name.startswith(self.variant_prefix):
            return None
        return path.with_name(self.source_prefix + path.name[len(self.variant_prefix) :])


RULES_FILE = "variant-rules.json"  # in an adopted folder's state dir


def load_rules(state_dir: Path) -> list[VariantRule]:
    """The rules remembered with an adopted folder (none when there are none, or unreadable)."""
    try:
        texts = json.loads((state_dir / RULES_FILE).read_text("utf-8"))
        return [VariantRule.parse(text) for text in texts]
    except (OSError, ValueError, TypeError):
        return []


def save_rules(state_dir: Path, rules: list[VariantRule]) -> None:
    (state_dir / RULES_FILE).write_text(json.dumps([str(rule) for rule in rules]), "utf-8")


def variants_of(original: Path, rules: list[VariantRule]) -> list[tuple[VariantRule, Path]]:
    found = []
    for rule in rules:
        variant = rule.variant_of(original)
        if variant is not None:
            found.append((rule, variant))
    return found


def make_variant(original: Path, rule: VariantRule, destination: Path, like: Path) -> None:
    """Write `rule`'s version of `original` to `destination`, in the format `like`'s name
    says (thumb_x.jpg is a JPEG whatever the original is). Raises OSError or ValueError."""
    image_format = Image.registered_extensions().get(like.suffix.lower())
    if image_format is None:
        raise ValueError(f"no image format is known for {like.name}")
    with Image.open(original) as opened:
        opened.draft("RGB", (2 * rule.width, 2 * rule.height))
        picture = ImageOps.exif_transpose(opened)
        if rule.fit is Fit.CROP:
            made = ImageOps.fit(picture, (rule.width, rule.height), Image.Resampling.LANCZOS)
        else:
            made = picture.copy()
            made.thumbnail((rule.width, rule.height), Image.Resampling.LANCZOS)
    if image_format == "JPEG" and made.mode not in ("RGB", "L"):
        made = made.convert("RGB")
    options = {"quality": _JPEG_QUALITY} if image_format in ("JPEG", "WEBP") else {}
    with destination.open("xb") as out:
        made.save(out, image_format, **options)
        out.flush()
        os.fsync(out.fileno())  # on disk before it may replace the old variant

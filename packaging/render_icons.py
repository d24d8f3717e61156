"""Renders resources/icons/app.svg into the PNG sizes of the hicolor icon theme.

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py OUTPUT_DIR

writes OUTPUT_DIR/<N>x<N>/apps/image-refresh.png for each size and
OUTPUT_DIR/scalable/apps/image-refresh.svg, the layout of /usr/share/icons/hicolor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib.resources import files
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICON_NAME = "image-refresh"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def source_svg() -> Path:
    return Path(str(files("resources.icons").joinpath("app.svg")))


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def write_theme(svg: Path, output: Path) -> list[Path]:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    written = []
    for size in SIZES:
        target = output / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(renderer, size).save(str(target)):  # PNG, by the suffix
            raise OSError(f"cannot write {target}")
        written.append(target)
    scalable = output / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    return [*written, scalable]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the hicolor icons of Image Refresh.")
    parser.add_argument("output", type=Path, help="folder laid out as /usr/share/icons/hicolor")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(sys.argv[:1])
    for path in write_theme(source_svg(), args.output):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the bundled program can do, as JSON: run by packaging/test_package.py inside the bundle."""

from __future__ import annotations

import json
import sqlite3
import ssl
import sys
from typing import Any

from PIL import features
from PySide6.QtCore import QCollator, QLocale
from PySide6.QtGui import QFontDatabase, QFontInfo, QImageReader
from PySide6.QtWidgets import QApplication

from core import __version__
from gui.icons import icon

PILLOW_FEATURES = ("avif", "webp", "jpg", "zlib", "freetype2")
QT_FORMATS = ("svg", "jpeg", "gif", "ico", "webp", "png")


def qt_report(app: QApplication) -> dict[str, Any]:
    families = QFontDatabase.families()
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    collator = QCollator(QLocale("de_DE"))
    words = sorted(["Zebra", "Äpfel", "apfel", "Birne"], key=collator.sortKey)
    return {
        "platform": app.platformName(),
        "font_families": len(families),
        "font_sample": families[:5],
        "default_font": QFontInfo(app.font()).family(),
        "image_formats": {name: name in formats for name in QT_FORMATS},
        "app_icon": not icon("app").pixmap(64, 64).isNull(),
        "collation_de": words,
    }


def report() -> dict[str, Any]:
    app = QApplication(sys.argv[:1])
    return {
        "version": __version__,
        **qt_report(app),
        "pillow": {name: bool(features.check(name)) for name in PILLOW_FEATURES},
        "sqlite": sqlite3.sqlite_version,
        "ssl": ssl.OPENSSL_VERSION,
    }


def healthy(facts: dict[str, Any]) -> bool:
    return (
        facts["font_families"] > 0
        and all(facts["image_formats"].values())
        and facts["app_icon"]
        and all(facts["pillow"].values())
    )


def main() -> int:
    facts = report()
    print(json.dumps(facts, indent=2, ensure_ascii=False))
    return 0 if healthy(facts) else 1

"""The safety net on the command line (contract: "Safety net"): `refresh --allow-placeholder`,
`revert TARGET...` and `placeholders add FILE...`, and the change badge of the table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from core.models import RefreshError, RefreshResult
from core.placeholders import PlaceholderList
from core.settings import RefreshSettings

BADGE_WIDTH = len("[same-picture]")


ByteCount = Callable[[str], int]


def add_kept_versions_option(parser: argparse.ArgumentParser, byte_count: ByteCount) -> None:
    parser.add_argument(
        "--kept-versions-bytes",
        type=byte_count,
        default=RefreshSettings().kept_versions_bytes,
        metavar="N",
        help="total size of the replaced versions kept to revert to; the oldest are dropped"
        " first, 0 keeps none (%(default)s)",
    )


def add_refresh_options(refresh: argparse.ArgumentParser, byte_count: ByteCount) -> None:
    """`byte_count`: the command line's parser of a whole number at least 0."""
    refresh.add_argument(
        "--allow-placeholder",
        action="store_true",
        help="let a placeholder (a flat colour, a tiny image, a picture marked with"
        " `placeholders add`) replace the cached picture",
    )
    add_kept_versions_option(refresh, byte_count)


def add_commands(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
    byte_count: ByteCount,
) -> list[argparse.ArgumentParser]:
    """The `revert` and `placeholders` subcommands; returns their parsers."""
    revert = commands.add_parser(
        "revert",
        parents=[common],
        help="put back the version the last refresh replaced",
        description="Put back, atomically, the version of each image that its last replacement"
        " kept. The version replaced by the revert is kept in turn: revert again to undo it.",
    )
    revert.add_argument(
        "targets", nargs="+", metavar="TARGET", help="a URL in the manifest or a cached file's path"
    )
    revert.add_argument("--json", action="store_true", help="one JSON object per target on stdout")
    add_kept_versions_option(revert, byte_count)
    revert.set_defaults(all=False, category=None)

    placeholders = commands.add_parser(
        "placeholders",
        parents=[common],
        help="the pictures a refresh may not put in place of a real one",
        description="Placeholders are kept for the user, for every cache (in the user data"
        " folder). A refresh whose new picture looks like one of them is refused.",
    )
    actions = placeholders.add_subparsers(dest="placeholders_command", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="mark the pictures in these files as placeholders")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="the marked placeholders")
    listing.add_argument("--json", action="store_true")
    remove = actions.add_parser("remove", help="unmark placeholders by name")
    remove.add_argument("names", nargs="+", metavar="NAME")
    return [revert, placeholders]


def run_placeholders(args: argparse.Namespace) -> int:
    """`placeholders add|list|remove`: 0 when every file or name was taken, else 1."""
    marked = PlaceholderList()
    status = 0
    if args.placeholders_command == "add":
        max_pixels = RefreshSettings().max_pixels
        for file in args.files:
            record: dict[str, object] = {"path": str(file.resolve()), "ok": True, "error": None}
            try:
                placeholder, new = marked.add(file, max_pixels)
            except RefreshError as error:
                record.update(ok=False, error=error.message)
                status = 1
            else:
                record.update(name=placeholder.name, added=new)
            _print_record(record, args.json, _add_line)
    elif args.placeholders_command == "list":
        for item in marked.items():
            record = {
                "name": item.name,
                "width": item.fingerprint.width,
                "height": item.fingerprint.height,
                "added_at": item.added_at,
                "source": item.source,
            }
            _print_record(
                record,
                args.json,
                lambda r: f"{r['name']}  {r['width']}×{r['height']}  {r['source']}",
            )
        if not args.json:
            print(f"{len(marked.items())} placeholder(s) in {marked.path}", file=sys.stderr)
    else:
        for name in args.names:
            if marked.remove(name):
                print(f"removed {name}")
            else:
                print(f"image-refresh: no placeholder named {name!r}", file=sys.stderr)
                status = 1
    return status


def _add_line(record: dict[str, object]) -> str:
    if not record["ok"]:
        return f"not added  {record['path']}: {record['error']}"
    if record["added"]:
        return f"added      {record['path']} (as {record['name']})"
    return f"known      {record['path']} (looks like {record['name']}, already marked)"


def _print_record(
    record: dict[str, object], as_json: bool, line: Callable[[dict[str, object]], str]
) -> None:
    if as_json:
        print(json.dumps(record, ensure_ascii=False), flush=True)
    else:
        print(line(record), flush=True)


def change_badge(result: RefreshResult) -> str:
    """The table's column beside before → after: how a replacement changed the picture."""
    text = f"[{result.change.value}]" if result.change is not None else ""
    return f"{text:<{BADGE_WIDTH}}"

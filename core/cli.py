"""The `image-refresh` command line (contract: shared/docs/cli-contract.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from core import __version__, health_cli, safety_cli
from core.cache import ImageCache
from core.executor import Backend, fork_is_safe
from core.http_client import check_url
from core.logging_setup import configure_logging
from core.manifest import ManifestError
from core.models import Action, ImageEntry, RefreshError, RefreshMode, RefreshResult
from core.naming import InvalidCategoryError, normalize_category
from core.reports import ReportError, check_report_path
from core.secrets import redact, redacted
from core.settings import (
    DEFAULT_CATEGORY,
    RefreshSettings,
    default_cache_dir,
)
from core.sources import SourceRow, SourcesFileError, import_sources, read_sources
from core.storage import STATE_DIR_NAME, CacheDirError, is_image_cache
from core.timestamps import format_mtime
from core.variants import VariantRule, VariantRuleError

EXIT_OK, EXIT_FAILED = 0, 1  # usage errors exit 2 through argparse
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a program the signal ended
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # exit 130 and 143: 128 + the signal
SIGNAL_GRACE = 0.6  # seconds: the longest a stop waits for running refreshes to end
INTERRUPTED = "image-refresh: interrupted; finished images are kept, the rest are untouched"
WindowOpener = Callable[[argparse.Namespace], int]
NETWORK_OPTIONS = ("jobs", "timeout", "max_time", "max_bytes", "retries", "kept_versions_bytes")
# A big batch runs in worker processes, forked on Linux (see Backend.FORKED_PROCESSES): on the
# 1000-image force refresh they cost about the CPU of threads in one process and take 15-30 %
# less time, since threads wait on each other for the GIL. A small batch gains nothing from them.
WORKER_PROCESS_MIN_TARGETS = 64


class UsageError(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _category(text: str) -> str:
    try:
        return normalize_category(text)
    except InvalidCategoryError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _common_options(defaults: bool, with_cache_dir: bool = True) -> argparse.ArgumentParser:
    """--cache-dir and -v; without `defaults` (the subcommands' copy) an option left out does not
    overwrite the same option given before the subcommand (argparse copies every default)."""
    common = argparse.ArgumentParser(add_help=False)
    if with_cache_dir:
        common.add_argument(
            "--cache-dir",
            type=Path,
            default=None if defaults else argparse.SUPPRESS,
            help="cache folder (default: $IMAGE_REFRESH_CACHE_DIR or the user cache)",
        )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="log records on stderr",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    limits = RefreshSettings()  # the contract's defaults live there
    network = argparse.ArgumentParser(add_help=False)
    network.add_argument("--json", action="store_true", help="one JSON object per target on stdout")
    network.add_argument(
        "--jobs", type=_positive_int, default=limits.jobs, help="downloads at once (%(default)s)"
    )
    network.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=limits.timeout,
        help="seconds to connect and between bytes (%(default)s)",
    )
    network.add_argument(
        "--max-time",
        type=_positive_seconds,
        default=limits.max_time,
        help="seconds one download may take in all (%(default)s)",
    )
    network.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=limits.max_bytes,
        help="largest accepted image in bytes (%(default)s)",
    )
    network.add_argument(
        "--retries",
        type=_non_negative_int,
        default=limits.retries,
        help="retries of transient failures (%(default)s)",
    )

    parser = argparse.ArgumentParser(
        prog="image-refresh",
        description="List cached web images and force-refresh them without ever losing one.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"image-refresh {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", parents=[common], help="open the window (the default)")
    gui.add_argument("--demo", action="store_true", help="open on generated sample images")
    gui.add_argument(
        "--screenshot",
        type=Path,
        metavar="FILE",
        help="run the demo by itself: force-refresh all, save screenshots beside FILE, exit",
    )

    add = commands.add_parser(
        "add", parents=[common, network], help="record URLs and download the new ones"
    )
    add.add_argument("urls", nargs="*", metavar="URL")
    add.add_argument("--category", type=_category, default=DEFAULT_CATEGORY)
    add.add_argument(
        "--from-file",
        type=Path,
        metavar="FILE",
        help="read URLs from FILE, one a line ('-': stdin)",
    )

    refresh = commands.add_parser(
        "refresh", parents=[common, network], help="download missing, force-refresh or check images"
    )
    refresh.add_argument(
        "targets", nargs="*", metavar="TARGET", help="a URL in the manifest or a cached file's path"
    )
    refresh.add_argument("--all", action="store_true", help="every image in the cache")
    refresh.add_argument("--category", type=_category, help="only images of this category")
    mode = refresh.add_mutually_exclusive_group()
    mode.add_argument(
        "--force", action="store_true", help="delete and download again, unconditionally"
    )
    mode.add_argument(
        "--check", action="store_true", help="conditional request; replace only if changed"
    )
    safety_cli.add_refresh_options(refresh, _non_negative_int)  # --allow-placeholder, ...

    refresh.add_argument(
        "--report", type=Path, metavar="FILE", help="also write the run to FILE (.csv or .html)"
    )

    scan = commands.add_parser(
        "scan",
        parents=[common, network],
        help="check the cached files (no request); --repair refreshes the broken ones",
    )
    scan.add_argument(
        "targets", nargs="*", metavar="TARGET", help="a URL in the manifest or a cached file's path"
    )
    scan.add_argument("--all", action="store_true", help="every image in the cache")
    scan.add_argument("--category", type=_category, help="only images of this category")
    scan.add_argument(
        "--repair",
        action="store_true",
        help="force-refresh every file that is not ok and has a source URL",
    )
    scan.add_argument(
        "--report", type=Path, metavar="FILE", help="also write the run to FILE (.csv or .html)"
    )
    scan.add_argument(
        "--thorough",
        action="store_true",
        help="decode every JPEG's picture data too, as a download's check does (slower)",
    )

    listing = commands.add_parser("list", parents=[common], help="list the cached images")
    listing.add_argument("--category", type=_category)
    listing.add_argument("--json", action="store_true")

    adopt = commands.add_parser(
        "adopt",
        parents=[_common_options(defaults=False, with_cache_dir=False)],
        help="make an existing folder of images a cache, in place",
    )
    adopt.add_argument("folder", type=Path, metavar="DIR")
    adopt.add_argument("--sources", type=Path, metavar="FILE", help="source URLs (CSV or JSON)")
    adopt.add_argument(
        "--variant",
        type=_variant_rule,
        action="append",
        metavar="SPEC",
        help="a derived size remade with its original, e.g. original_:thumb_:250x250:crop",
    )
    adopt.add_argument("--json", action="store_true")

    sources = commands.add_parser("sources", help="source URLs of an adopted folder's files")
    sources_commands = sources.add_subparsers(dest="sources_command", metavar="COMMAND")
    sources_commands.required = True
    import_sources = sources_commands.add_parser(
        "import", parents=[common], help="set source URLs from a CSV or JSON-lines export"
    )
    import_sources.add_argument("file", type=Path, metavar="FILE")
    import_sources.add_argument("--json", action="store_true")
    safety = safety_cli.add_commands(commands, common, _non_negative_int)  # revert, placeholders
    for subcommand in (gui, add, refresh, scan, listing, adopt, sources, import_sources, *safety):
        subcommand.set_defaults(command_parser=subcommand)
    return parser


def main(argv: Sequence[str] | None = None, open_window: WindowOpener | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the bare command (the desktop entry's) opens the window
        args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "gui"])
    command = args.command
    if command == "gui":
        if open_window is None:
            print("image-refresh: the window is not available in this build", file=sys.stderr)
            return EXIT_FAILED
        return open_window(args)
    log_output = configure_logging(args.verbose)
    try:
        with _stopped_by_signals():
            status = _run(args)
            sys.stdout.flush()  # here, where a closed pipe is still ours to handle
            return status
    except UsageError as error:
        command_parser: argparse.ArgumentParser = args.command_parser
        command_parser.error(str(error))
    except (CacheDirError, ManifestError, ReportError) as error:
        print(f"image-refresh: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except StopRequested as stop:
        print(INTERRUPTED, file=sys.stderr)
        return stop.exit_status
    except BrokenPipeError:
        # The reader of our output is gone (`list --json | head -1`): stop quietly. Later
        # writes, such as the interpreter's own flush at exit, go nowhere instead of failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    finally:
        log_output.close()


class StopRequested(BaseException):
    """Ctrl+C or SIGTERM: the running refreshes are cancelled, and the program ends."""

    def __init__(self, exit_status: int) -> None:
        super().__init__(exit_status)
        self.exit_status = exit_status


class _Forking:
    """Whether this process is inside os.fork: worker processes are forked (refresh, scan), and
    a fork runs the logging module's hooks, in Python. A stop raised in one of them is printed
    as "Exception ignored" with a traceback, and lost; so a signal that lands there is sent
    again once the fork is over. Registered after logging's hooks: `before` runs ahead of them
    and `after_in_parent` behind them."""

    done = threading.Event()
    done.set()

    @classmethod
    def starts(cls) -> None:
        cls.done.clear()

    @classmethod
    def ends(cls) -> None:
        cls.done.set()

    @classmethod
    def ends_in_child(cls) -> None:
        cls.done = threading.Event()  # the parent's may be locked by a thread the child lacks
        cls.done.set()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=_Forking.starts, after_in_parent=_Forking.ends, after_in_child=_Forking.ends_in_child
    )


def _signal_again_after_fork(signum: int) -> None:
    _Forking.done.wait()
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise StopRequested, which cancels the batch (its `finally`).

    Every wait of a refresh ends on a cancel at once; should one not (a connection still being
    made), the program ends SIGNAL_GRACE seconds after the signal all the same: every image is
    old or new whatever moment it stops, and its temporaries are removed at the next start.
    """

    def stop(signum: int, _frame: object) -> None:
        if not _Forking.done.is_set():
            threading.Thread(target=_signal_again_after_fork, args=(signum,), daemon=True).start()
            return
        status = 128 + signum
        threading.Thread(target=_exit_after_grace, args=(status,), daemon=True).start()
        raise StopRequested(status)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _exit_after_grace(status: int) -> None:
    time.sleep(SIGNAL_GRACE)
    with contextlib.suppress(Exception):
        print(INTERRUPTED, file=sys.stderr, flush=True)
        sys.stdout.flush()
    os._exit(status)


def _run(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in NETWORK_OPTIONS if hasattr(args, name)}
    settings = RefreshSettings(**given)
    if args.command == "adopt":
        return _adopt(args, settings)
    root = args.cache_dir or default_cache_dir()
    if args.command == "placeholders":  # the user's, for every cache: no cache is opened
        return safety_cli.run_placeholders(args)
    urls = _checked_urls(args) if args.command == "add" else []
    if args.command != "add" and args.cache_dir is not None and not is_image_cache(root):
        raise UsageError(
            f"{root} is not an image cache: run `image-refresh adopt {root}` to use the images"
            f" in it, or `image-refresh add URL --cache-dir {root}` to start a new cache"
        )
    report = getattr(args, "report", None)
    if report is not None:
        try:
            check_report_path(report)
        except ReportError as error:
            raise UsageError(str(error)) from error
    with ImageCache(root, settings) as cache:
        if cache.rebuilt:
            print(f"image-refresh: {cache.rebuilt}", file=sys.stderr)
        if args.command == "list":
            return _list(cache, args)
        if args.command == "sources":
            return _print_records(import_sources(cache, _sources(args.file)), args.json)
        if args.command == "scan":
            return health_cli.scan(cache, _resolve_targets(cache, args), args)
        entries = cache.add_urls(urls, args.category) if urls else _targets(cache, args)
        if len(entries) < WORKER_PROCESS_MIN_TARGETS:
            return _report(
                health_cli.reported(cache, entries, _refresh(cache, entries, args), args), args.json
            )
    # A batch big enough to repay starting them runs in worker processes, on every core.
    backend = Backend.FORKED_PROCESSES if fork_is_safe() else Backend.PROCESSES
    with ImageCache(root, settings, backend=backend) as cache:
        return _report(
            health_cli.reported(cache, entries, _refresh(cache, entries, args), args), args.json
        )


def _adopt(args: argparse.Namespace, settings: RefreshSettings) -> int:
    folder: Path = args.folder
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    if (folder / STATE_DIR_NAME).is_dir():
        raise UsageError(f"{folder} is already an image cache of its own; use --cache-dir")
    rows = _sources(args.sources) if args.sources is not None else None
    started = time.monotonic()
    with ImageCache(folder, settings, adopt=True) as cache:
        summary = cache.adopt(args.variant)
        records = import_sources(cache, rows) if rows is not None else []
        status = _print_records(records, args.json)
        rules = ", ".join(str(rule) for rule in summary.rules) or "none"
        with_source = sum(1 for entry in cache.entries() if entry.url is not None)
        print(
            f"adopted {cache.root}: {summary.images} image(s), {summary.added} new,"
            f" {summary.removed} gone; {with_source} with a source URL;"
            f" variants: {rules}; in {time.monotonic() - started:.2f} s",
            file=sys.stderr,
        )
    return status


def _sources(file: Path) -> list[SourceRow]:
    try:
        return read_sources(file)
    except SourcesFileError as error:
        raise UsageError(str(error)) from error


def _print_records(records: list[dict[str, object]], as_json: bool) -> int:
    for record in records:
        if as_json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            state = record["action"] if record["ok"] else f"failed: {record['error']}"
            print(f"{state}  {record['path']}  {record['url'] or ''}", flush=True)
    failed = sum(1 for record in records if not record["ok"])
    if records:
        print(f"{len(records) - failed} source URL(s) set, {failed} refused", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _variant_rule(text: str) -> VariantRule:
    try:
        return VariantRule.parse(text)
    except VariantRuleError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _read_urls(args: argparse.Namespace) -> list[str]:
    urls = list(args.urls)
    if args.from_file is not None:
        try:
            text = (
                sys.stdin.read()
                if str(args.from_file) == "-"
                else args.from_file.read_text("utf-8")
            )
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read {args.from_file}: {error}") from error
        urls += [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    if not urls:
        raise UsageError("no URLs given: name them, or use --from-file")
    return list(dict.fromkeys(urls))


def _checked_urls(args: argparse.Namespace) -> list[str]:
    """The URLs to add; a usage error naming every one that cannot be downloaded."""
    refused = []
    urls = _read_urls(args)
    for url in urls:
        try:
            check_url(url)
        except RefreshError as error:
            refused.append(error.message)
    if refused:
        raise UsageError("nothing was added: " + "; ".join(refused))
    return urls


def _targets(cache: ImageCache, args: argparse.Namespace) -> list[ImageEntry]:
    entries = _resolve_targets(cache, args)
    skipped = [e for e in entries if e.url is None and not args.targets]
    if skipped:
        print(
            f"{len(skipped)} file(s) found on disk without a source URL are skipped",
            file=sys.stderr,
        )
        entries = [e for e in entries if e.url is not None or args.targets]
    return entries


def _refresh(
    cache: ImageCache, entries: list[ImageEntry], args: argparse.Namespace
) -> Iterator[RefreshResult]:
    if args.command == "add":
        return cache.refresh_many(entries, RefreshMode.MISSING)
    if args.command == "revert":
        return cache.refresh_many(entries, RefreshMode.REVERT)
    return cache.refresh_many(
        entries,
        RefreshMode.from_flags(args.force, args.check),
        allow_placeholder=args.allow_placeholder,
    )


def _resolve_targets(cache: ImageCache, args: argparse.Namespace) -> list[ImageEntry]:
    if not args.targets and not args.all and not args.category:
        raise UsageError("no targets: name URLs or cached files, or use --all or --category")
    if args.targets:
        entries = []
        for target in args.targets:
            entry = cache.find(target)
            if entry is None:
                raise UsageError(
                    f"unknown target {target!r}: not a URL or file in the cache {cache.root}"
                )
            entries.append(entry)
        if args.category:
            entries = [e for e in entries if e.category == args.category]
    else:
        entries = cache.entries(args.category)
    return list({e.key: e for e in entries}.values())


def _report(results: Iterable[RefreshResult], as_json: bool) -> int:
    started = time.monotonic()
    counts: Counter[Action] = Counter()
    for result in results:
        counts[result.action] += 1
        if as_json:
            print(json.dumps(result.to_json_dict(), ensure_ascii=False), flush=True)
        else:
            _print_result_line(result, sys.stdout)
    summary = ", ".join(f"{n} {action.value}" for action, n in sorted(counts.items()))
    print(f"{summary or 'nothing to do'} in {time.monotonic() - started:.2f} s", file=sys.stderr)
    return EXIT_OK if all(action.ok for action in counts) else EXIT_FAILED


def _print_result_line(result: RefreshResult, out: TextIO) -> None:
    mtimes = f"{format_mtime(result.before_mtime)} → {format_mtime(result.after_mtime)}"
    size = "" if result.after_size is None else f"{result.after_size:>9,}"
    where = str(result.path) if result.path else redact(result.url) or ""
    # The window says the same: a file replaced by identical bytes (the JSON keeps "refreshed").
    label = f"{result.action.value} (same bytes)" if result.same_bytes else result.action.value
    badge = safety_cli.change_badge(result)
    line = f"{label:<10} {mtimes}  {badge}  {size:>9}  {where}"
    if result.variants:
        remade = ", ".join(variant.path.name for variant in result.variants)
        line += f"\n{'':<10} remade: {remade}"
    if result.note:
        line += f"\n{'':<10} note: {result.note}"
    if result.error:
        line += f"\n{'':<10} error: {result.error}"
        if result.url and result.path:
            line += f"\n{'':<10} url: {redact(result.url)}"
    print(line, file=out, flush=True)


def _list(cache: ImageCache, args: argparse.Namespace) -> int:
    entries = cache.entries(args.category)
    for entry in entries:
        path = cache.path_of(entry)
        try:
            stat = path.stat() if path else None
        except OSError:
            stat = None
        if args.json:
            print(
                json.dumps(
                    {
                        "url": redact(entry.url),
                        "path": str(path) if path else None,
                        "category": entry.category,
                        "exists": stat is not None,
                        "mtime": stat.st_mtime if stat else None,
                        "bytes": stat.st_size if stat else None,
                        "sha256": entry.sha256,
                        "width": entry.width,
                        "height": entry.height,
                        "content_type": entry.content_type,
                        "last_outcome": entry.last_outcome,
                        "last_error": entry.last_error,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            dims = f"{entry.width}×{entry.height}" if entry.width else "?"
            state = format_mtime(stat.st_mtime) if stat else "(missing)"
            size = f"{stat.st_size:,}" if stat else ""
            where = f"{entry.rel_path or '-'}  {redacted(entry.url)}"
            print(f"{entry.category:<12} {state:<23} {size:>11} {dims:>11}  {where}")
    if not args.json:
        print(f"{len(entries)} image(s) in {cache.root}", file=sys.stderr)
    return EXIT_OK

"""The command line's `scan` and its `--report FILE` (contract: cli-contract.md, "Health").

Kept apart from core.cli, which calls in here: `scan` prints one record per target (a table,
or JSON lines with --json), a summary on stderr with how many files were decoded and how many
verdicts were remembered, and exits 1 when a file is not whole (after --repair: still not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.health import Health
from core.health_scan import HealthRecord, repair
from core.models import ImageEntry, RefreshResult
from core.reports import pictures_of, report_rows, wants_pictures, write_report
from core.secrets import redact
from core.timestamps import format_mtime

EXIT_OK, EXIT_FAILED = 0, 1


def scan(cache: ImageCache, entries: Sequence[ImageEntry], args: argparse.Namespace) -> int:
    started = time.monotonic()
    cancel = Cancellation()
    progress = _Progress(sys.stderr) if sys.stderr.isatty() and len(entries) > 200 else None
    # The command line's only other thread is its log writer, which a forked worker never
    # uses: forking costs milliseconds where a fresh interpreter costs a third of a second.
    health_scan = cache.scan_health(
        entries, thorough=args.thorough, fork=True, cancel=cancel, progress=progress
    )
    report: Path | None = args.report
    pictures = report is not None and wants_pictures(report)
    records: Iterable[HealthRecord] = health_scan
    before: dict[str, bytes | None] = {}
    try:
        if args.repair or pictures:
            scanned = list(health_scan)  # every verdict before any file changes
            if progress is not None:
                progress.done()
            if pictures:
                found = pictures_of([record.path for record in scanned])
                before = {r.entry.key: picture for r, picture in zip(scanned, found, strict=True)}
            records = repair(cache, scanned, cancel=cancel) if args.repair else scanned
        done = list(_printed(records, args.json))
    finally:
        cancel.set()  # a Ctrl+C ends the workers' batches rather than waiting for them
    if progress is not None:
        progress.done()
    counts = health_scan.counts
    found_health = Counter(record.health for record in done)
    summary = ", ".join(f"{n} {h.value}" for h, n in sorted(found_health.items()))
    repaired = Counter(record.repair.action.value for record in done if record.repair)
    repairs = ", ".join(f"{n} {action}" for action, n in sorted(repaired.items()))
    print(
        f"{len(done)} scanned: {summary or 'nothing'}"
        + (f"; repair: {repairs}" if args.repair else "")
        + f"; {counts.decoded} file(s) read, {counts.remembered} unchanged since the last scan"
        f" in {time.monotonic() - started:.2f} s",
        file=sys.stderr,
    )
    if report is not None:
        items = [(record.to_json_dict(), before.get(record.entry.key)) for record in done]
        title = (
            "Image Refresh: health scan and repair" if args.repair else "Image Refresh: health scan"
        )
        write_report(report, report_rows(items, pictures=pictures), title, cache_root=cache.root)
        print(f"report written to {report}", file=sys.stderr)
    return EXIT_OK if all(record.ok for record in done) else EXIT_FAILED


def _printed(records: Iterable[HealthRecord], as_json: bool) -> Iterator[HealthRecord]:
    for record in records:
        if as_json:
            print(json.dumps(record.to_json_dict(), ensure_ascii=False))
        else:
            _print_record(record, sys.stdout)
        yield record


def _print_record(record: HealthRecord, out: TextIO) -> None:
    verdict, result = record.verdict, record.repair
    where = record.file or redact(record.entry.url) or ""
    size = "" if verdict.size is None else f"{verdict.size:,}"
    line = f"{verdict.health.value:<15} {size:>11}  {where}"
    if not verdict.health.ok:
        line += f"\n{'':<15} {verdict.detail}"
        if record.entry.url is None:
            line += " (no source URL: cannot be repaired)"
    if result is not None:
        after = record.after
        mtimes = f"{format_mtime(result.before_mtime)} → {format_mtime(result.after_mtime)}"
        line += f"\n{'':<15} repair: {result.action.value} {mtimes}"
        if result.path and str(result.path) != record.file:
            line += f"  now {result.path}"
        if result.error:
            line += f"\n{'':<15} error: {result.error}"
        elif after is not None and after.health is not Health.OK:
            line += f"\n{'':<15} still {after.health.value}: {after.detail}"
        elif after is not None:
            line += ", now ok"
    print(line, file=out)


def reported(
    cache: ImageCache,
    entries: Sequence[ImageEntry],
    results: Iterable[RefreshResult],
    args: argparse.Namespace,
) -> Iterator[RefreshResult]:
    """`results`, passed on as they come; with --report, the report is written after the
    last (pictures of the files before the run are taken first, for an HTML report)."""
    report: Path | None = getattr(args, "report", None)
    if report is None:
        yield from results
        return
    pictures = wants_pictures(report)
    before: dict[str, bytes | None] = {}
    if pictures:
        found = pictures_of([cache.path_of(entry) for entry in entries])
        before = {entry.key: picture for entry, picture in zip(entries, found, strict=True)}
    done = []
    for result in results:
        done.append(result)
        yield result
    items = [(result.to_json_dict(), before.get(_key(result))) for result in done]
    mode = "force refresh" if args.force else "check" if args.check else "refresh"
    write_report(
        report,
        report_rows(items, pictures=pictures),
        f"Image Refresh: {mode}",
        cache_root=cache.root,
    )
    print(f"report written to {report}", file=sys.stderr)


def _key(result: RefreshResult) -> str:
    if result.entry is not None:
        return result.entry.key
    return result.url or ""


class _Progress:
    """`scanned N/M` on one line of a terminal, rewritten at most ten times a second."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown >= 0.1 or done == total:
            self.shown = now
            print(f"\rscanned {done:,}/{total:,}", end="", file=self.out, flush=True)

    def done(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=self.out, flush=True)
            self.shown = 0.0

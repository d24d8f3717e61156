"""Reports of a run, to hand over: CSV for a spreadsheet, or one self-contained HTML page.

The HTML page needs nothing but a browser: its style, its sorting script and its pictures
(small JPEG or PNG thumbnails, old and new) are inside the file, and its Content-Security-Policy
forbids it to load anything from anywhere. Every URL in a report has its secrets hidden
(core.secrets).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from core.health import Health
from core.models import Action
from core.secrets import redact
from core.timestamps import format_mtime

REPORT_SUFFIXES = (".csv", ".html", ".htm")
PICTURE_EDGE = 120  # pixels on the longer side of a report's thumbnails

_ACTION_MEANINGS = {
    Action.DOWNLOADED.value: "the image was not on disk and has been downloaded",
    Action.CACHED.value: "the image was already on disk; nothing was downloaded",
    Action.REFRESHED.value: "the file was replaced by a fresh download from its source",
    Action.UNCHANGED.value: "the source said the image has not changed; the file was kept",
    Action.UPDATED.value: "the source had a newer image, which replaced the file",
    Action.FAILED.value: "the refresh failed; the previous file was kept exactly as it was",
    Action.CANCELLED.value: "the run was stopped before this image was done; the file was kept",
    "scanned": "the file was read and checked, and left as it was",
}


class ReportError(Exception):
    """The report cannot be written (an unknown kind of file, a folder that cannot be written)."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One target of a run: its record (the command line's JSON object) and its pictures."""

    record: dict[str, object]
    before_picture: bytes | None = None  # a small JPEG or PNG of the file before the run
    after_picture: bytes | None = None  # and after it, when the run replaced the file


def check_report_path(path: Path) -> None:
    """Raise ReportError unless `path` names a kind of report we write (before any work)."""
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ReportError(f"cannot write a report to {path}: the name must end in .csv or .html")


def wants_pictures(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")


def picture_of(path: Path | None, edge: int = PICTURE_EDGE) -> bytes | None:
    """A small JPEG (PNG when it has transparency) of the image at `path`; None when it is not
    a picture that can be shown (missing, broken, an SVG)."""
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft("RGB", (edge * 2, edge * 2))
            image.thumbnail((edge, edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
            out = io.BytesIO()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                image.convert("RGBA").save(out, "PNG", optimize=True)
            else:
                image.convert("RGB").save(out, "JPEG", quality=82)
            return out.getvalue()
    except MemoryError:
        raise
    except Exception:  # a broken file has no picture; the report says why in words
        return None


def pictures_of(paths: Sequence[Path | None]) -> list[bytes | None]:
    """`picture_of` for many files, on a few threads (Pillow decodes without the GIL)."""
    if len(paths) < 8:
        return [picture_of(path) for path in paths]
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        return list(pool.map(picture_of, paths))


def write_report(path: Path, rows: Sequence[ReportRow], title: str, *, cache_root: Path) -> None:
    """Write the report atomically (a temporary file renamed over `path`)."""
    check_report_path(path)
    text = (
        _csv(rows)
        if path.suffix.lower() == ".csv"
        else _html(rows, title, cache_root, datetime.now())
    )
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        # Created as any new file is (0666 less the umask), then renamed over `path`.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise ReportError(f"cannot write the report {path}: {error.strerror or error}") from error


def _hidden(record: dict[str, object]) -> dict[str, object]:
    url = record.get("url")
    return {**record, "url": redact(url)} if isinstance(url, str) else dict(record)


def _csv(rows: Sequence[ReportRow]) -> str:
    records = [_hidden(row.record) for row in rows]
    columns = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _csv_value(record.get(key)) for key in columns})
    return out.getvalue()


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return value


# --- HTML -----------------------------------------------------------------------------------

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
.lead { color: #4a5468; margin: 0 0 16px; max-width: 60em; }
.summary span { display: inline-block; margin: 0 8px 8px 0; padding: 3px 10px;
                border-radius: 12px; background: #eef1f6; }
details { margin: 0 0 16px; } summary { cursor: pointer; color: #2456a6; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dt { font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th { position: sticky; top: 0; background: #f4f6fa; text-align: left; padding: 8px;
     border-bottom: 2px solid #cfd6e3; cursor: pointer; user-select: none; white-space: nowrap; }
th::after { content: " \\2195"; color: #9aa3b5; }
th[aria-sort=ascending]::after { content: " \\2191"; color: #1d2330; }
th[aria-sort=descending]::after { content: " \\2193"; color: #1d2330; }
td { padding: 6px 8px; border-bottom: 1px solid #e3e7ef; vertical-align: top; }
tr.bad td { background: #fff6f5; }
.pics { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.pics figure { margin: 0; text-align: center; font-size: 11px; color: #66708a; }
.pics img { display: block; max-width: 96px; max-height: 96px; border: 1px solid #d5dae4;
            background: repeating-conic-gradient(#eee 0 25%, #fff 0 50%) 0 0 / 12px 12px; }
.nopic { width: 80px; height: 56px; display: flex; align-items: center; justify-content: center;
         border: 1px dashed #c3c9d6; color: #8a93a6; font-size: 11px; text-align: center; }
.arrow { color: #8a93a6; font-size: 18px; }
.tag { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
       font-size: 12px; white-space: nowrap; }
.good { background: #e3f5e8; color: #17692f; } .broken { background: #fde4e1; color: #a3231a; }
.neutral { background: #eef1f6; color: #3b4458; }
.times { white-space: nowrap; font-variant-numeric: tabular-nums; }
.url, .path { word-break: break-all; font-size: 12px; color: #4a5468; min-width: 10em; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
"""

_SCRIPT = """
(function () {
  var table = document.getElementById("report");
  var heads = table.tHead.rows[0].cells;
  function key(row, i) {
    var cell = row.cells[i];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    if (!isNaN(x) && !isNaN(y) && String(x) === a.trim() && String(y) === b.trim()) return x - y;
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  Array.prototype.forEach.call(heads, function (head, i) {
    head.addEventListener("click", function () {
      var up = head.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      head.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) { var c = compare(key(a, i), key(b, i)); return up ? c : -c; });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  window.addEventListener("load", function () {
    var wanted = /^#sort=(.+)$/.exec(location.hash);  // a link may open the page sorted
    Array.prototype.forEach.call(heads, function (head) {
      if (wanted && head.textContent === decodeURIComponent(wanted[1])) head.click();
    });
    var pictures = Array.prototype.slice.call(document.images);
    var shown = pictures.filter(function (p) { return p.complete && p.naturalWidth > 0; });
    document.body.setAttribute("data-pictures", shown.length + "/" + pictures.length);
  });
})();
"""

_COLUMNS = (
    ("Picture", "before → after"),
    ("File", "the image's file name and category"),
    ("Health", "what the file was found to be"),
    ("What happened", "what this run did, and why"),
    ("Modified", "the file's modification time before → after the run"),
    ("Size", "bytes on disk"),
    ("Source URL", "where the image is downloaded from (secrets hidden)"),
    ("Path", "where the file is"),
)


def _html(rows: Sequence[ReportRow], title: str, cache_root: Path, when: datetime) -> str:
    records = [_hidden(row.record) for row in rows]
    has_health = any("health" in record for record in records)
    columns = [c for c in _COLUMNS if has_health or c[0] != "Health"]
    ok_count = sum(1 for record in records if record.get("ok") is True)
    actions = Counter(str(record.get("action")) for record in records)
    healths = Counter(str(record["health"]) for record in records if "health" in record)
    chips = [f"<span><b>{len(records)}</b> image(s)</span>"]
    chips.append(f"<span><b>{ok_count}</b> ok now</span>")
    chips.append(f"<span><b>{len(records) - ok_count}</b> not ok</span>")
    chips += [f"<span>{n} {html.escape(name)}</span>" for name, n in sorted(healths.items())]
    chips += [f"<span>{n} {html.escape(name)}</span>" for name, n in sorted(actions.items())]
    legend = "".join(
        f"<dt>{html.escape(h.value)}</dt><dd>{html.escape(h.meaning)}</dd>"
        for h in Health
        if h.value in healths
    ) + "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(_ACTION_MEANINGS[name])}</dd>"
        for name in sorted(actions)
        if name in _ACTION_MEANINGS
    )
    head = "".join(
        f'<th scope="col" title="{html.escape(hint)}">{html.escape(name)}</th>'
        for name, hint in columns
    )
    body = "\n".join(
        _html_row(row, record, has_health) for row, record in zip(rows, records, strict=True)
    )
    stamp = when.strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline';
               script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="lead">Written by Image Refresh on {stamp} for the image folder
<code>{html.escape(str(cache_root))}</code>. Image Refresh keeps a folder of pictures downloaded
from the web and replaces a file only with a whole new download, so a picture is never lost.
Each row below is one image: its picture (before → after when the file was replaced), what was
found and done, and its file's modification time before → after. Click a column title to sort.
</p>
<div class="summary">{"".join(chips)}</div>
<details><summary>What the words mean</summary><dl>{legend}</dl></details>
<table id="report">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _html_row(row: ReportRow, record: dict[str, object], has_health: bool) -> str:
    esc = html.escape
    action = str(record.get("action") or "")
    ok = record.get("ok") is True
    path = str(record.get("path") or "")
    name = Path(path).name if path else "—"
    before, after = record.get("before_mtime"), record.get("after_mtime")
    replaced = action in (Action.REFRESHED.value, Action.UPDATED.value, Action.DOWNLOADED.value)
    pictures = _picture(row.before_picture, "before" if replaced else "")
    if replaced:
        pictures += '<span class="arrow">→</span>' + _picture(row.after_picture, "after")
    error = record.get("error")
    detail = record.get("detail")
    scanned = action == "scanned"
    tone = "neutral" if scanned else "good" if ok else "broken"
    said = [f'<span class="tag {tone}">{esc(action)}</span>']
    if scanned:
        if not ok:
            why = "no source URL" if not record.get("url") else "no repair was asked for"
            said.append(f"<div>left as it was ({why})</div>")
    elif error:
        said.append(f"<div>{esc(str(error))}</div>")
    elif detail and not has_health:
        said.append(f"<div>{esc(str(detail))}</div>")
    if record.get("health_after"):
        said.append(f"<div>now: {esc(str(record['health_after']))}</div>")
    cells = [
        f'<td data-sort="{esc(name)}"><div class="pics">{pictures}</div></td>',
        f'<td data-sort="{esc(name)}"><b>{esc(name)}</b><br>{esc(str(record.get("category")))}'
        "</td>",
    ]
    if has_health:
        health = str(record.get("health") or "")
        tone = "good" if health == Health.OK.value else "broken" if health else "neutral"
        cells.append(
            f'<td data-sort="{esc(health)}"><span class="tag {tone}">{esc(health or "—")}</span>'
            f"<div>{esc(str(detail or ''))}</div></td>"
        )
    cells += [
        f'<td data-sort="{esc(action)}">{"".join(said)}</td>',
        f'<td class="times" data-sort="{_number(after if after is not None else before)}">'
        f"{esc(format_mtime(_float(before)))}<br>→ {esc(format_mtime(_float(after)))}</td>",
        f'<td class="num" data-sort="{_number(record.get("bytes"))}">{_size(record.get("bytes"))}'
        "</td>",
        f'<td class="url">{esc(str(record.get("url") or "(no source URL)"))}</td>',
        f'<td class="path">{esc(path)}</td>',
    ]
    return f'<tr class="{"ok" if ok else "bad"}">{"".join(cells)}</tr>'


def _picture(data: bytes | None, caption: str) -> str:
    label = f"<figcaption>{caption}</figcaption>" if caption else ""
    if data is None:
        return f'<figure><div class="nopic">no picture</div>{label}</figure>'
    kind = "png" if data.startswith(b"\x89PNG") else "jpeg"
    encoded = base64.b64encode(data).decode("ascii")
    alt = f"{caption} picture" if caption else "picture"
    return f'<figure><img alt="{alt}" src="data:image/{kind};base64,{encoded}">{label}</figure>'


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _number(value: object) -> str:
    return repr(float(value)) if isinstance(value, int | float) else ""


def _size(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def report_rows(
    items: Sequence[tuple[dict[str, object], bytes | None]], *, pictures: bool
) -> list[ReportRow]:
    """Report rows for records, each with the picture of its file taken before the run; the
    picture after is read from the file now, for the records whose file the run replaced."""
    if not pictures:
        return [ReportRow(record) for record, _ in items]
    replaced = [
        Path(str(record["path"]))
        if record.get("path") and record.get("action") in _REPLACING and record.get("ok")
        else None
        for record, _ in items
    ]
    return [
        ReportRow(record, before, after)
        for (record, before), after in zip(items, pictures_of(replaced), strict=True)
    ]


_REPLACING = (Action.REFRESHED.value, Action.UPDATED.value, Action.DOWNLOADED.value)

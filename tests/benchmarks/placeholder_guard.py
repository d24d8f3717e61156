"""Benchmark: the safety net over the bench corpus: the placeholder guard's false positives, and
the time the safety net adds to `image-refresh refresh --force --all`.

Not a pytest test. Uses refresh_vs_curl's deterministic corpus (1,000 JPEGs 1024×768, noise over
a gradient) and its nginx, GNU time and `image-refresh` (the one beside this Python).

1. Judging (in this process, with the refresh's own code: validate_image's fingerprint of the
   new file, a draft decode of the old one, core.placeholders.placeholder_reason): each corpus
   JPEG as the new picture replacing the corpus' previous one, with two pictures marked as
   placeholders (tests/pictures.py's "image removed" at 600×400 and 1024×768). Refused ones are
   false positives. Also reported: each JPEG re-encoded at quality 55 and 90 % of its size must
   be `same-picture`, and each against its neighbour `changed`.
2. Time, median of rounds, paired (same cache size and server): a force refresh of all images
   when the server sends the same bytes (refresh_vs_curl's case: nothing to judge) and when it
   sends every picture re-encoded at quality 70 (every image fingerprinted twice, judged, and
   its old version kept). Run it once with this tree's `image-refresh` and once with a tree
   without the safety net (another venv's Python) to get the added time.

    .venv/bin/python -m tests.benchmarks.placeholder_guard [--count 1000] [--rounds 3]
        [--skip-judging]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from core.models import PictureChange
from core.picture_change import classify, fingerprint_file
from core.placeholders import PlaceholderList, placeholder_reason
from core.settings import RefreshSettings
from core.validation import validate_image
from tests.benchmarks import refresh_vs_curl as rvc
from tests.pictures import removed

REENCODE_QUALITY = 70


def reencode(data: bytes, quality: int, scale: float = 1.0) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    size = (round(picture.width * scale), round(picture.height * scale))
    out = io.BytesIO()
    picture.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return out.getvalue()


def judge(corpus: rvc.Corpus, workdir: Path) -> dict[str, object]:
    """The guard and the change over the corpus, with the refresh's own functions."""
    max_pixels = RefreshSettings().max_pixels
    marked_list = PlaceholderList(workdir / "placeholders.json")
    for size in ((600, 400), (1024, 768)):
        picture = workdir / f"removed-{size[0]}.jpg"
        picture.write_bytes(removed(size))
        marked_list.add(picture, max_pixels)
    marked = marked_list.items()
    paths = [corpus.web_root / name for name in corpus.names]
    olds = [fingerprint_file(path, max_pixels) for path in paths]
    refused, same_picture, changed, unjudged = [], 0, 0, 0
    new_cost = old_cost = 0.0
    scratch = workdir / "reencoded.jpg"
    for index, path in enumerate(paths):
        started = time.process_time()
        new = validate_image(path, max_pixels, fingerprint=True).fingerprint
        new_cost += time.process_time() - started
        started = time.process_time()
        fingerprint_file(paths[index - 1], max_pixels)
        old_cost += time.process_time() - started
        if new is None or olds[index - 1] is None:
            unjudged += 1
            continue
        reason = placeholder_reason(new, olds[index - 1], marked)
        if reason is not None:
            refused.append(f"{path.name}: {reason}")
        if classify("a", "b", olds[index - 1], new) is PictureChange.CHANGED:
            changed += 1
        scratch.write_bytes(reencode(path.read_bytes(), 55, 0.9))
        again = validate_image(scratch, max_pixels, fingerprint=True).fingerprint
        if classify("a", "b", olds[index], again) is PictureChange.SAME_PICTURE:
            same_picture += 1
    count = len(paths)
    return {
        "images": count,
        "refused as placeholders (false positives)": len(refused),
        "false-positive rate": len(refused) / count,
        "refused": refused[:10],
        "re-encoded q55 at 90 % judged same-picture": f"{same_picture} of {count}",
        "neighbours judged changed": f"{changed} of {count}",
        "not judged (no fingerprint)": unjudged,
        "new fingerprint on top of validation, CPU ms per image (validate+fingerprint)": round(
            1000 * new_cost / count, 3
        ),
        "old file's draft-decode fingerprint, CPU ms per image": round(1000 * old_cost / count, 3),
    }


def timed_refreshes(
    tools: rvc.Tools, corpus: rvc.Corpus, served: Path, workdir: Path, rounds: int
) -> dict[str, list[rvc.Measurement]]:
    """The force refresh, per case, over `rounds` (after one warm-up): wall and CPU seconds."""
    # Two folders beside the served one, renamed into place: what the server sends.
    originals, changed = served / "img-originals", served / "img-changed"
    originals.mkdir()
    changed.mkdir()
    for name in corpus.names:
        data = (corpus.web_root / name).read_bytes()
        (originals / Path(name).name).write_bytes(data)
        (changed / Path(name).name).write_bytes(reencode(data, REENCODE_QUALITY))
    link = served / "img"

    def serve_from(folder: Path) -> None:
        if link.exists():
            link.rename(originals if not originals.exists() else changed)
        folder.rename(link)

    walls: dict[str, list[rvc.Measurement]] = {"same bytes": [], "changed bytes": []}
    with rvc.serve_with_nginx(tools.nginx, served, workdir / "nginx") as base_url:
        for number in range(rounds + 1):
            for case, values in walls.items():
                run = workdir / f"run-{number}-{case.replace(' ', '-')}"
                run.mkdir()
                serve_from(originals)
                cache_dir = run / "cache"
                urls = run / "urls.txt"
                urls.write_text("".join(f"{base_url}/{name}\n" for name in corpus.names))
                rvc.add_urls(tools, urls, cache_dir, 8, run)
                if case == "changed bytes":
                    serve_from(changed)
                command = [tools.image_refresh, "refresh", "--force", "--all", "--jobs", "8"]
                command += ["--cache-dir", str(cache_dir), "--json"]
                out, err = run / "refresh.jsonl", run / "refresh.stderr"
                measured = rvc.run_measured(tools, command, out, err, rvc.child_env(workdir))
                lines = [json.loads(line) for line in out.read_text().splitlines()]
                bad = [line for line in lines if line["action"] != "refreshed"]
                if measured.exit_code != 0 or len(lines) != len(corpus.names) or bad:
                    raise rvc.BenchmarkError(f"{case}: {bad[:3]} {rvc.tail(err)}")
                if number:  # the first round warms up
                    values.append(measured)
    return walls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-judging", action="store_true", help="only the timed refreshes")
    args = parser.parse_args(argv)
    tools = rvc.find_tools()
    with tempfile.TemporaryDirectory(prefix="guard-bench-") as temp:
        workdir = Path(temp)
        workdir.chmod(0o755)  # nginx workers run as an unprivileged user when we are root
        corpus = rvc.generate_corpus(workdir / "corpus", args.count)
        if not args.skip_judging:
            for key, value in judge(corpus, workdir).items():
                print(f"{key}: {value}")
        served = workdir / "served"
        served.mkdir()
        walls = timed_refreshes(tools, corpus, served, workdir, args.rounds)
    print(f"image-refresh: {tools.image_refresh}")
    for case, values in walls.items():
        for what, numbers in (
            ("wall", [v.wall for v in values]),
            ("CPU (user+sys, with the worker processes)", [v.cpu for v in values]),
        ):
            shown = ", ".join(f"{n:.2f}" for n in numbers)
            median = statistics.median(numbers)
            print(f"force refresh of {args.count}, {case}, {what}: median {median:.2f} s ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: adopting an existing uploads folder of 10,000 images, and the window's first screen.

Not a pytest test. A tree like a web app's uploads (three kinds, nested slug folders, 10,000
`original_` images of 400×300, each with its `thumb_`) is built once in the work folder; each round
adopts it anew (fresh user folders) with `image-refresh adopt DIR --variant ...` and measures the
wall time, the CPU time and the peak RSS of that process, then opens the window on the adopted
folder (gui_responsiveness.py's start-up child: the real launcher and MainWindow) and measures the
time to its first screen of real thumbnails. Targets: adopt < 2 s, first screen < 1 s.

    .venv/bin/python -m tests.benchmarks.adopt_folder [--rounds 3] [--count 10000] [--workdir D]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks import gui_responsiveness as gr
from tests.benchmarks import refresh_vs_curl as rvc

KINDS = ("venues", "performers", "google_place_images")
DISTINCT_PICTURES = 200  # the rest are hard links: adopting reads names and sizes, not pixels
ADOPT_TARGET_S = 2.0
FIRST_SCREEN_TARGET_S = 1.0


@dataclass
class Figures:
    adopt_wall: list[float] = field(default_factory=list)
    adopt_cpu: list[float] = field(default_factory=list)
    adopt_rss_mb: list[float] = field(default_factory=list)
    first_screen: list[float] = field(default_factory=list)


def build_tree(root: Path, count: int) -> None:
    """`count` originals, each with a thumbnail, over three kinds of nested folders."""
    if (root / ".complete").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    pictures = root.parent / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    for index in range(DISTINCT_PICTURES):
        (pictures / f"{index}.jpg").write_bytes(gr.small_jpeg(index))
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        folder = root / kind / f"slug-{index // 3:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        source = pictures / f"{index % DISTINCT_PICTURES}.jpg"
        os.link(source, folder / f"original_{index}.jpg")
        os.link(source, folder / f"thumb_{index}.jpg")
    (root / ".complete").write_text("built\n")


def adopt(root: Path, data_home: Path) -> tuple[float, float, float, str]:
    """Wall s, CPU s and peak RSS MB of `image-refresh adopt`, and what it printed.

    The peak RSS is GNU time's, exact for the program: os.wait4's ru_maxrss would count this
    process's own size before the child's exec (see gui_responsiveness.py)."""
    env = dict(os.environ, XDG_DATA_HOME=str(data_home))
    env["XDG_STATE_HOME"] = str(data_home.parent / "state")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as an installed program has it
    env["PYTHONPYCACHEPREFIX"] = str(data_home.parent / "pycache")
    peak = data_home.parent / f"{data_home.name}.peak-kib"
    peak.parent.mkdir(parents=True, exist_ok=True)
    command = [rvc.find_gnu_time(), "-o", str(peak), "-f", "%M"]
    command += [str(Path(sys.executable).with_name("image-refresh")), "adopt", str(root)]
    command += ["--variant", "original_:thumb_:250x250:crop"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    said = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise gr.BenchmarkError(f"adopt failed: {said}")
    peak_mb = int(peak.read_text().split()[-1]) / 1024
    return wall, usage.ru_utime + usage.ru_stime, peak_mb, said.strip()


def measure(count: int, rounds: int, workdir: Path) -> Figures:
    root = workdir / "uploads"
    build_tree(root, count)
    figures = Figures()
    runs = workdir / "rounds"
    shutil.rmtree(runs, ignore_errors=True)
    # A first start compiles the bytecode into the work folder, as an installed program has it.
    warm_up = runs / "data-warm-up"
    adopt(root, warm_up)
    gr.run_child("startup", root, runs / "window-warm-up", None, [], data_home=warm_up)
    for number in range(1, rounds + 1):
        data_home = runs / f"data-{number}"
        wall, cpu, rss, said = adopt(root, data_home)
        figures.adopt_wall.append(wall)
        figures.adopt_cpu.append(cpu)
        figures.adopt_rss_mb.append(rss)
        run = gr.run_child(
            "startup", root, runs / f"window-{number}", None, [], data_home=data_home
        )
        if run.result["rows"] != count:
            raise gr.BenchmarkError(f"the window shows {run.result['rows']} rows")
        figures.first_screen.append(run.result["marks"]["first_screen"])
        print(
            f"adopt round {number}: {wall:.2f} s ({cpu:.2f} CPU-s, {rss:.0f} MB);"
            f" first screen {figures.first_screen[-1]:.3f} s; {said}",
            file=sys.stderr,
        )
    if (root / ".image-refresh").exists():
        raise gr.BenchmarkError("something of ours was left in the adopted folder")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="adopt-bench-"))
    report(measure(args.count, args.rounds, workdir), args.count)
    return 0


def report(figures: Figures, count: int) -> None:
    adopt_s = statistics.median(figures.adopt_wall)
    first_s = statistics.median(figures.first_screen)
    print(f"Adopting {count} images (+ as many thumbnails), median of {len(figures.adopt_wall)}:")
    print(f"  adopt wall          {adopt_s:.3f} s   target < {ADOPT_TARGET_S} s  "
          f"{'ok' if adopt_s < ADOPT_TARGET_S else 'MISSED'}")  # fmt: skip
    print(f"  adopt CPU           {statistics.median(figures.adopt_cpu):.3f} s")
    print(f"  adopt peak RSS      {statistics.median(figures.adopt_rss_mb):.0f} MB")
    print(f"  window first screen {first_s:.3f} s   target < {FIRST_SCREEN_TARGET_S} s  "
          f"{'ok' if first_s < FIRST_SCREEN_TARGET_S else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

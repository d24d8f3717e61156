"""Benchmark: `image-refresh refresh --force --all` against `curl --parallel` on the same images.

Not a pytest test (no `test_` prefix, no test functions). It generates a deterministic corpus of
JPEGs in a temporary folder, serves it with nginx on 127.0.0.1, then runs, after an untimed warm-up
round, paired and alternating (A B A B ...), for each round:

  A. `image-refresh add` of every URL into a fresh cache (set-up, not timed), then the timed
     `image-refresh refresh --force --all --jobs J --cache-dir D --json`;
  B. the timed `curl --parallel --parallel-max J -K config` fetching the same URLs to a folder.

Wall time is measured here; peak RSS and CPU time of each timed child come from GNU time
(`/usr/bin/time`, exact per child; the CPU counts the worker processes the command waited for).
After each timed refresh its cached files are proven again by the validation code alone
(`core.validation.validate_image`, in this process, CPU from `time.process_time`): the yardstick
of "the CPU of a force refresh ≤ 2.5× the decode that proves the same images". Outputs are
checked (every JSON line ok and `refreshed`, every cached file and every curl file byte-equal to
the served one, every cached file rewritten during the timed run) so a fast wrong answer cannot
pass. Each timed run starts after `sync`; outputs are deleted only at the end, since a deletion
between rounds (ext4 discards, journal commits) would slow down the next timed run.

    .venv/bin/python tests/benchmarks/refresh_vs_curl.py [--rounds 3] [--count 1000] [--jobs 8]

Needs Pillow (from the venv), curl, GNU time and nginx (installed with apt-get when missing
and root).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from core.settings import RefreshSettings
from core.validation import validate_image

IMAGE_SIZE = (1024, 768)
# Low-resolution noise upscaled over a gradient, at these grid sizes and JPEG qualities, lands
# between about 70 and 140 KB per 1024 x 768 image.
NOISE_GRIDS = ((112, 84), (128, 96), (144, 108))
QUALITIES = (70, 75, 80)
CHILD_TIME_LIMIT = 900.0  # seconds; a hung child is killed, never waited for forever
NGINX_START_LIMIT = 10.0
NGINX_TEMP_MODULES = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class BenchmarkError(Exception):
    """The benchmark cannot run, or a tool produced a wrong result."""


@dataclass(frozen=True, slots=True)
class Corpus:
    web_root: Path
    names: list[str]
    sha256: dict[str, str]
    sizes: list[int]


@dataclass(frozen=True, slots=True)
class Measurement:
    wall: float
    max_rss_kib: int
    cpu_user: float
    cpu_sys: float
    exit_code: int
    # CPU seconds of validate_image alone over the same cached files (refreshes run with prove)
    decode_cpu: float | None = None

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys


@dataclass(frozen=True, slots=True)
class Tools:
    image_refresh: str
    curl: str
    nginx: str
    gnu_time: str


# --- corpus -----------------------------------------------------------------------------------


def make_jpeg(index: int) -> bytes:
    """A deterministic 1024×768 JPEG of roughly 100 KB, different for every index."""
    rng = random.Random(-index)
    return noisy_jpeg(index, IMAGE_SIZE, rng.choice(NOISE_GRIDS), rng.choice(QUALITIES))


def noisy_jpeg(index: int, size: tuple[int, int], grid: tuple[int, int], quality: int) -> bytes:
    """A deterministic JPEG: low-resolution noise upscaled over a gradient, unique per index."""
    rng = random.Random(index)
    noise = Image.frombytes("RGB", grid, rng.randbytes(grid[0] * grid[1] * 3))
    noise = noise.resize(size, Image.Resampling.BILINEAR)
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    if rng.random() < 0.5:
        gradient = gradient.transpose(Image.Transpose.ROTATE_180)
    out = io.BytesIO()
    Image.blend(gradient, noise, 0.5).save(out, "JPEG", quality=quality)
    return out.getvalue()


def generate_corpus(web_root: Path, count: int) -> Corpus:
    folder = web_root / "img"
    folder.mkdir(parents=True)
    names, digests, sizes = [], {}, []
    for index in range(count):
        name = f"img/photo-{index:05d}.jpg"
        data = make_jpeg(index)
        (web_root / name).write_bytes(data)
        names.append(name)
        digests[name] = hashlib.sha256(data).hexdigest()
        sizes.append(len(data))
    return Corpus(web_root, names, digests, sizes)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- tools --------------------------------------------------------------------------------------


def find_image_refresh() -> str:
    beside_python = Path(sys.executable).parent / "image-refresh"
    found = str(beside_python) if beside_python.exists() else shutil.which("image-refresh")
    if not found:
        raise BenchmarkError("image-refresh is not installed (pip install -e '.[test]')")
    return found


def find_or_install(program: str, packages: Sequence[str]) -> str:
    """The path of a program, installing the first Debian package that provides it if missing."""
    where = f"/usr/sbin:/usr/bin:/sbin:/bin:{os.environ.get('PATH', '')}"
    found = shutil.which(program, path=where)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchmarkError(f"{program} is missing: install the Debian package {packages[0]}")
    print(f"installing {program} with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    for package in packages:
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
        if subprocess.run(install, check=False, env=env, timeout=600).returncode == 0:
            break
    found = shutil.which(program, path=where)
    if not found:
        raise BenchmarkError(f"apt-get could not install {program}")
    return found


def find_gnu_time() -> str:
    """GNU time measures the peak RSS of its child exactly.

    `os.wait4` in this script would not: the kernel keeps the larger of a process's peak RSS
    before and after exec, and before exec the child is a copy of this Python process.
    """
    path = Path("/usr/bin/time")
    if not path.exists():
        find_or_install("time", ["time"])
    if not path.exists():
        raise BenchmarkError("GNU time (/usr/bin/time) is missing: install the Debian package time")
    return str(path)


def find_tools() -> Tools:
    return Tools(
        image_refresh=find_image_refresh(),
        curl=find_or_install("curl", ["curl"]),
        nginx=find_or_install("nginx", ["nginx-light", "nginx"]),
        gnu_time=find_gnu_time(),
    )


def source_revision() -> str:
    """The git commit of the code under test, marked dirty when the work tree has changes."""
    repo = Path(__file__).resolve().parents[2]
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        return tool_version(["git", "-C", str(repo), "describe", "--always", "--dirty"])
    return "unknown"


def tool_version(command: Sequence[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    return (done.stdout or done.stderr).strip().splitlines()[0]


# --- nginx --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nginx_config(nginx: str, web_root: Path, workdir: Path, port: int) -> str:
    built = subprocess.run(
        [nginx, "-V"], capture_output=True, text=True, check=False, timeout=30
    ).stderr  # nginx prints its build flags on stderr
    temp_paths = "".join(
        f"    {module}_temp_path {workdir / (module + '_temp')};\n"
        for module in NGINX_TEMP_MODULES
        if f"--without-http_{module}_module" not in built
    )
    return (
        "worker_processes 1;\n"
        "daemon off;\n"
        "master_process on;\n"
        f"pid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        "    access_log off;\n"
        "    types { image/jpeg jpg; }\n"
        "    default_type application/octet-stream;\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        "    keepalive_requests 100000;\n"
        f"{temp_paths}"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        f"        root {web_root};\n"
        "        location / { }\n"
        "    }\n"
        "}\n"
    )


def wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + NGINX_START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"nginx exited at start with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise BenchmarkError(f"nginx did not listen on 127.0.0.1:{port} within {NGINX_START_LIMIT} s")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a child started in its own session: SIGTERM, then SIGKILL of its group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def serve_with_nginx(nginx: str, web_root: Path, workdir: Path) -> Iterator[str]:
    """Serve `web_root` on 127.0.0.1; yield the base URL; stop nginx whatever happens."""
    workdir.mkdir()
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(nginx_config(nginx, web_root, workdir, port))
    command = [nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(config)]
    log = (workdir / "stderr.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    try:
        wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)
        log.close()


# --- timed children -----------------------------------------------------------------------------


def wait_with_watchdog(process: subprocess.Popen[bytes], limit: float) -> os.struct_rusage:
    """Wait for a child started in its own session; kill its whole group after `limit` seconds.

    Sets `process.returncode` and returns the child's resource usage (from wait4).
    """
    watchdog = threading.Timer(limit, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def run_measured(
    tools: Tools,
    command: Sequence[str],
    stdout: Path,
    stderr: Path,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run a child to its end under GNU time: its wall time, peak RSS and CPU time."""
    usage_file = stdout.with_name(stdout.name + ".rusage")
    timed = [tools.gnu_time, "-f", "%M %U %S", "-o", str(usage_file), *command]
    os.sync()  # the previous run's dirty pages are written back now, not during this run
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(timed, stdout=out, stderr=err, env=env, start_new_session=True)
        wait_with_watchdog(process, CHILD_TIME_LIMIT)
        wall = time.perf_counter() - started
    max_rss_kib, user, system = usage_file.read_text().splitlines()[-1].split()
    return Measurement(wall, int(max_rss_kib), float(user), float(system), process.returncode)


def child_env(workdir: Path) -> dict[str, str]:
    """The environment of image-refresh: its log file and user dirs inside the work folder, and
    its bytecode cached there, as an installed program's is (the untimed warm-up compiles it):
    otherwise, with PYTHONDONTWRITEBYTECODE set, every process, each worker too, would compile
    the sources of the checkout again."""
    env = dict(os.environ)
    for variable in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[variable] = str(workdir / "user" / variable.lower())
    env.pop("IMAGE_REFRESH_CACHE_DIR", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


# --- A: image-refresh ---------------------------------------------------------------------------


def add_urls(tools: Tools, urls_file: Path, cache_dir: Path, jobs: int, workdir: Path) -> None:
    """Set-up, not timed: record the URLs (this first download fills the cache)."""
    command = [tools.image_refresh, "add", "--from-file", str(urls_file)]
    command += ["--cache-dir", str(cache_dir), "--jobs", str(jobs), "--json"]
    stdout, stderr = workdir / "add.jsonl", workdir / "add.stderr"
    done = run_measured(tools, command, stdout, stderr, child_env(workdir.parent))
    if done.exit_code != 0:
        raise BenchmarkError(f"image-refresh add failed ({done.exit_code}): {tail(stderr)}")


def run_image_refresh(
    tools: Tools,
    corpus: Corpus,
    base_url: str,
    jobs: int,
    workdir: Path,
    add_jobs: int | None = None,
    one_by_one: bool = False,
    prove: bool = False,
) -> Measurement:
    """The timed force refresh; the untimed `add` before it uses `add_jobs` (default `jobs`).

    `one_by_one`: the seed's loop (one_by_one.py) instead of `image-refresh refresh`.
    `prove`: also measure the CPU of the decode that proves the cached files (`decode_cpu`).
    """
    workdir.mkdir()
    cache_dir = workdir / "cache"
    urls_file = workdir / "urls.txt"
    urls_file.write_text("".join(f"{base_url}/{name}\n" for name in corpus.names))
    add_urls(tools, urls_file, cache_dir, add_jobs or jobs, workdir)
    if one_by_one:
        command = [sys.executable, str(Path(__file__).with_name("one_by_one.py"))]
        command += ["--cache-dir", str(cache_dir)]
    else:
        command = [tools.image_refresh, "refresh", "--force", "--all", "--jobs", str(jobs)]
        command += ["--cache-dir", str(cache_dir), "--json"]
    stdout, stderr = workdir / "refresh.jsonl", workdir / "refresh.stderr"
    # The same bodies as served, proven right before the refresh, and as cached, right after.
    served = [corpus.web_root / name for name in corpus.names]
    decoded_before = proving_decode_cpu(served) if prove else 0.0
    started_at = time.time()
    measured = run_measured(tools, command, stdout, stderr, child_env(workdir.parent))
    if measured.exit_code != 0:
        raise BenchmarkError(f"image-refresh refresh failed ({measured.exit_code}): {tail(stderr)}")
    check_refresh_output(stdout, cache_dir, corpus, base_url, started_at)
    if prove:
        lines = stdout.read_text("utf-8").splitlines()
        decoded_after = proving_decode_cpu([Path(json.loads(line)["path"]) for line in lines])
        return replace(measured, decode_cpu=(decoded_before + decoded_after) / 2)
    return measured


def proving_decode_cpu(paths: Sequence[Path]) -> float:
    """CPU seconds of validate_image alone over `paths`, in this process.

    The same validation code and limit as the refresh, on the same bodies (page cache warm),
    without the thumbnail a refresh does not ask for either. A shared machine's speed drifts by
    a fifth within seconds (measured: the same 1000 decodes took 1.64 to 2.26 CPU-s in one
    process), so the yardstick is the mean of the decode right before and right after the
    refresh it is compared with.
    """
    max_pixels = RefreshSettings().max_pixels
    started = time.process_time()
    for path in paths:
        validate_image(path, max_pixels)
    return time.process_time() - started


def check_refresh_output(
    jsonl: Path, cache_dir: Path, corpus: Corpus, base_url: str, started_at: float
) -> None:
    """Every URL refreshed exactly once, ok, and its cached file byte-equal to the served one."""
    expected = {f"{base_url}/{name}": corpus.sha256[name] for name in corpus.names}
    seen: set[str] = set()
    root = cache_dir.resolve()
    for number, line in enumerate(jsonl.read_text("utf-8").splitlines(), 1):
        record = json.loads(line)
        url = record["url"]
        where = f"{jsonl.name} line {number} ({url})"
        if url not in expected or url in seen:
            raise BenchmarkError(f"{where}: unexpected or repeated URL")
        seen.add(url)
        if record["ok"] is not True or record["action"] != "refreshed":
            raise BenchmarkError(f"{where}: {record['action']}, error {record['error']!r}")
        check_cached_file(record, root, expected[url], started_at, where)
    if len(seen) != len(expected):
        raise BenchmarkError(f"{jsonl.name}: {len(seen)} results for {len(expected)} URLs")


def check_cached_file(
    record: dict[str, object], root: Path, digest: str, started_at: float, where: str
) -> None:
    path = Path(str(record["path"]))
    if not path.is_relative_to(root) or not path.is_file():
        raise BenchmarkError(f"{where}: no cached file at {path}")
    if sha256_of(path) != digest or record["sha256"] != digest:
        raise BenchmarkError(f"{where}: the cached bytes differ from the served file")
    # The refresh must have rewritten the file (coarse kernel clock: allow 20 ms).
    mtime = path.stat().st_mtime
    before = record["before_mtime"]
    if mtime < started_at - 0.02 or not isinstance(before, float) or before >= started_at:
        raise BenchmarkError(f"{where}: the file was not rewritten by this refresh")


# --- B: curl ------------------------------------------------------------------------------------


def curl_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_curl(tools: Tools, corpus: Corpus, base_url: str, jobs: int, workdir: Path) -> Measurement:
    out_dir = workdir / "out"
    out_dir.mkdir(parents=True)
    config = workdir / "curl.config"
    config.write_text(
        "".join(
            f"url = {curl_quote(f'{base_url}/{name}')}\n"
            f"output = {curl_quote(str(out_dir / Path(name).name))}\n"
            for name in corpus.names
        )
    )
    command = [tools.curl, "--parallel", "--parallel-max", str(jobs), "-s", "-S", "--fail"]
    command += ["-K", str(config)]
    stdout, stderr = workdir / "curl.stdout", workdir / "curl.stderr"
    measured = run_measured(tools, command, stdout, stderr)
    if measured.exit_code != 0:
        raise BenchmarkError(f"curl failed ({measured.exit_code}): {tail(stderr)}")
    check_curl_output(out_dir, corpus)
    return measured


def check_curl_output(out_dir: Path, corpus: Corpus) -> None:
    for name in corpus.names:
        path = out_dir / Path(name).name
        if not path.is_file() or sha256_of(path) != corpus.sha256[name]:
            raise BenchmarkError(f"curl: {path} is missing or differs from the served file")
    found = sum(1 for _ in out_dir.iterdir())
    if found != len(corpus.names):
        raise BenchmarkError(f"curl: {found} files for {len(corpus.names)} URLs")


def tail(path: Path, lines: int = 5) -> str:
    return " | ".join(path.read_text("utf-8", "replace").strip().splitlines()[-lines:])


# --- report -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    runs: list[Measurement]

    def walls(self) -> list[float]:
        return [m.wall for m in self.runs]


def format_row(row: Row, count: int) -> str:
    walls = row.walls()
    wall = statistics.median(walls)
    rss_mib = statistics.median(m.max_rss_kib for m in row.runs) / 1024
    cpu = statistics.median(m.cpu for m in row.runs)
    spread = f"{wall:7.3f} s ({min(walls):.3f}–{max(walls):.3f})"
    return (
        f"{row.name:<14} {spread:<28} {rss_mib:8.1f} MiB {count / wall:9.1f}"
        f" {cpu:8.2f} s {cpu / wall:6.0%}"
    )


def print_report(ours: Row, curl: Row, count: int, jobs: int) -> None:
    ratios = [a.wall / b.wall for a, b in zip(ours.runs, curl.runs, strict=True)]
    header = (
        f"{'tool':<14} {'wall median (min–max)':<28} {'peak RSS':>12} {'images/s':>9}"
        f" {'CPU u+s':>10} {'CPU/wall':>6}"
    )
    print()
    print(f"{count} images, --jobs {jobs}, {len(ratios)} paired rounds (medians)")
    print(header)
    print("-" * len(header))
    print(format_row(ours, count))
    print(format_row(curl, count))
    print(
        f"ratio image-refresh/curl (median of paired wall ratios): "
        f"{statistics.median(ratios):.2f}× (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    rss_each = ", ".join(f"{m.max_rss_kib / 1024:.1f}" for m in ours.runs)
    print(f"image-refresh peak RSS per round: {rss_each} MiB")
    print_cpu_ratio(ours, curl, count, jobs)


def print_cpu_ratio(ours: Row, curl: Row, count: int, jobs: int) -> None:
    """The CPU of the force refresh (all processes) against the decode proving the same files."""
    proven = [m for m in ours.runs if m.decode_cpu is not None]
    if not proven:
        return
    total = statistics.median(m.cpu for m in proven)
    decode = statistics.median(m.decode_cpu or 0.0 for m in proven)
    ratios = [m.cpu / m.decode_cpu for m in proven if m.decode_cpu]
    print(
        f"CPU of the force refresh, all processes: {total:.2f} s ({total / count * 1e3:.2f} ms"
        f" per image); the proving decode alone (validate_image, 1 process): {decode:.2f} s"
        f" ({decode / count * 1e3:.2f} ms per image)"
    )
    print(
        f"ratio refresh CPU / proving decode CPU (median of rounds): "
        f"{statistics.median(ratios):.2f}× (target ≤ 2.5×; rounds:"
        f" {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    wall = statistics.median(curl.walls())
    curl_cpu = statistics.median(m.cpu for m in curl.runs)
    print(
        f"curl --parallel-max {jobs}, the {count} images on this machine: {wall:.3f} s wall,"
        f" {curl_cpu:.2f} s CPU ({curl_cpu / count * 1e3:.2f} ms per image)"
    )


def describe_corpus(corpus: Corpus, seconds: float) -> str:
    sizes = sorted(corpus.sizes)
    return (
        f"corpus: {len(sizes)} JPEG {IMAGE_SIZE[0]}×{IMAGE_SIZE[1]},"
        f" {sum(sizes) / 1e6:.1f} MB, sizes {sizes[0] / 1e3:.0f}/"
        f"{statistics.median(sizes) / 1e3:.0f}/{sizes[-1] / 1e3:.0f} KB (min/median/max),"
        f" generated in {seconds:.1f} s"
    )


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds A B (3)")
    parser.add_argument("--count", type=int, default=1000, help="images in the corpus (1000)")
    parser.add_argument("--jobs", type=int, default=8, help="concurrent downloads (8)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (1)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder, print it")
    args = parser.parse_args(argv)
    if min(args.rounds, args.count, args.jobs) < 1 or args.warmup < 0:
        parser.error("--rounds, --count and --jobs must be at least 1, --warmup at least 0")
    return args


def run_pair(
    tools: Tools, corpus: Corpus, base_url: str, jobs: int, workdir: Path, label: str
) -> tuple[Measurement, Measurement]:
    """One round: A (image-refresh) then B (curl), both verified."""
    folder = label.split(" (", maxsplit=1)[0].replace(" ", "-")
    run_a = run_image_refresh(tools, corpus, base_url, jobs, workdir / f"{folder}-a", prove=True)
    run_b = run_curl(tools, corpus, base_url, jobs, workdir / f"{folder}-b")
    print(
        f"{label}: image-refresh {run_a.wall:.3f} s {run_a.max_rss_kib / 1024:.1f} MiB"
        f" {run_a.cpu:.2f} s CPU (proving decode {run_a.decode_cpu or 0.0:.2f} s),"
        f" curl {run_b.wall:.3f} s {run_b.max_rss_kib / 1024:.1f} MiB (outputs verified)",
        file=sys.stderr,
    )
    return run_a, run_b


def benchmark(args: argparse.Namespace, tools: Tools, workdir: Path) -> None:
    os.chmod(workdir, 0o755)  # nginx workers run as an unprivileged user when we are root
    started = time.perf_counter()
    corpus = generate_corpus(workdir / "www", args.count)
    print(describe_corpus(corpus, time.perf_counter() - started), file=sys.stderr)
    ours, curl = Row("image-refresh", []), Row("curl", [])
    with serve_with_nginx(tools.nginx, corpus.web_root, workdir / "nginx") as base_url:
        for number in range(1, args.warmup + 1):
            run_pair(tools, corpus, base_url, args.jobs, workdir, f"warm-up {number} (not counted)")
        for number in range(1, args.rounds + 1):
            run_a, run_b = run_pair(tools, corpus, base_url, args.jobs, workdir, f"round {number}")
            ours.runs.append(run_a)
            curl.runs.append(run_b)
    print_report(ours, curl, args.count, args.jobs)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tools = find_tools()
        versions = [
            tool_version([tools.image_refresh, "--version"]),
            tool_version([tools.curl, "-V"]),
            tool_version([tools.nginx, "-v"]),
        ]
        versions.append(f"source {source_revision()}")
        print(f"{'; '.join(versions)}; {os.cpu_count()} CPUs", file=sys.stderr)
        workdir = Path(tempfile.mkdtemp(prefix="refresh-vs-curl-"))
        try:
            benchmark(args, tools, workdir)
        finally:
            if args.keep:
                print(f"work folder kept: {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

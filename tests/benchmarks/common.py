"""Helpers shared by the benchmarks: the machine and versions, summaries, a delayed server."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks import refresh_vs_curl as rvc

DELAY_PROXY = Path(__file__).with_name("delay_proxy.py")
PROBE_VETH = "irbench0"


# --- the machine and the versions ---------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def ram_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {platform.platform()}"


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def command_version(command: Sequence[str]) -> str:
    try:
        return rvc.tool_version(command)
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not installed"


def versions(tools: rvc.Tools) -> dict[str, str]:
    return {
        "Python": sys.version.split()[0],
        "PySide6": package_version("PySide6_Essentials"),
        "Pillow": package_version("Pillow"),
        "requests": package_version("requests"),
        "curl": command_version([tools.curl, "--version"]).split(" (")[0].removeprefix("curl "),
        "nginx": command_version([tools.nginx, "-v"]).rsplit("/", 1)[-1],
        "vips": command_version(["vips", "--version"]).removeprefix("vips-"),
        "image-refresh": command_version([tools.image_refresh, "--version"]).rsplit(" ", 1)[-1],
        "source": rvc.source_revision(),
    }


# --- summaries ----------------------------------------------------------------------------------


@dataclass
class Sample:
    """Values of one figure over several whole runs."""

    values: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self) -> str:
        low, high = min(self.values), max(self.values)
        return f"{number(self.median())} ({number(low)}–{number(high)})"


def number(value: float) -> str:
    """Three significant digits, without exponents."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) >= 0.001 else f"{value:.4f}"


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> Sample:
    return Sample([x / y for x, y in zip(a, b, strict=True)])


# --- latency ------------------------------------------------------------------------------------


def netem_available() -> bool:
    """Whether `tc ... netem` works here: tried on a throw-away veth pair (no addresses)."""
    add = ["ip", "link", "add", PROBE_VETH, "type", "veth", "peer", "name", PROBE_VETH + "p"]
    netem = ["tc", "qdisc", "add", "dev", PROBE_VETH, "root", "netem", "delay", "10ms"]
    try:
        if subprocess.run(add, capture_output=True, check=False, timeout=30).returncode != 0:
            return False
        done = subprocess.run(netem, capture_output=True, check=False, timeout=30)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            delete = ["ip", "link", "del", PROBE_VETH]
            subprocess.run(delete, capture_output=True, check=False, timeout=30)


@contextlib.contextmanager
def delayed(base_url: str, delay: float) -> Iterator[str]:
    """A relay on 127.0.0.1 in front of `base_url` delaying each request; yield its base URL."""
    upstream_port = int(base_url.rsplit(":", 1)[1])
    port = rvc.free_port()
    command = [sys.executable, str(DELAY_PROXY), "--listen-port", str(port)]
    command += ["--upstream-port", str(upstream_port), "--delay", str(delay)]
    command += ["--lifetime", str(rvc.CHILD_TIME_LIMIT * 4)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        rvc.wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        rvc.stop_process_group(process)

"""Child processes of the tests that are killed mid-way (`kill -9`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator

DEADLINE = 60.0


@contextlib.contextmanager
def reaped(victim: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """The child, killed and waited for when the block ends early (a failed assertion)."""
    try:
        yield victim
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def kill_9(victim: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child now and check that it died of it."""
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=DEADLINE) == -signal.SIGKILL

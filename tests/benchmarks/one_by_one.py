"""The floor of the download benchmark: the seed's way, one refresh after the other.

    python tests/benchmarks/one_by_one.py --cache-dir DIR

Force-refreshes every image of the cache in this thread, one at a time: no worker processes, no
download slots, no other threads (the in-process `Refresher`, as the seed's helpers ran it). It
prints the command line's `--json` lines, so the benchmark checks its output the same way.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from core.manifest import Manifest
from core.models import RefreshMode, RefreshRequest
from core.refresh import Refresher
from core.settings import RefreshSettings
from core.storage import CacheStorage


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    storage = CacheStorage(args.cache_dir)
    storage.open()
    manifest = Manifest(storage.manifest_path)
    manifest.open()
    refresher = Refresher(storage, manifest, RefreshSettings())
    try:
        for entry in manifest.entries():
            result = refresher.refresh(RefreshRequest(entry, RefreshMode.FORCE))
            print(json.dumps(result.to_json_dict(), ensure_ascii=False), flush=True)
    finally:
        manifest.close()
        storage.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

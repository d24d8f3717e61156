"""Builds dist/image-refresh_<version>_<arch>.deb from the one-folder bundle (`make package`).

    python packaging/build_deb.py --bundle build/bundle/image-refresh --icons build/icons

The bundle goes to /opt/image-refresh, /usr/bin/image-refresh links to it, the menu entry and the
hicolor icons go under /usr/share. Depends is computed by dpkg-shlibdeps from every ELF file of the
bundle (the system libraries the spec left out: xcb, X11, fontconfig, glib, dbus, OpenSSL, ...),
plus the fonts, which no library names.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from core import __version__

PACKAGE = "image-refresh"
INSTALL_DIR = Path("opt") / PACKAGE
HERE = Path(__file__).resolve().parent
# Qt finds fonts through fontconfig; no library of the bundle names a font package.
EXTRA_DEPENDS = ("fontconfig", "fonts-dejavu-core")
DESCRIPTION = """\
List cached web images and force-refresh them without ever losing one
 Image Refresh lists a local cache of web images with thumbnails and file
 timestamps and force-refreshes the ones you pick: the cached file is replaced
 by a fresh download only once the new one is complete and decodes as an
 image, and the before and after modification times are shown.
 .
 The window (image-refresh gui) and the command line (image-refresh add,
 refresh, list) share the same engine. The program is a self-contained
 bundle in /opt/image-refresh."""


def run(command: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True)
    return result.stdout


def architecture() -> str:
    return run(["dpkg", "--print-architecture"]).strip()


def is_elf(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(4) == b"\x7fELF"


def regular_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def lay_out(tree: Path, bundle: Path, icons: Path) -> None:
    """The files of the package, as they are installed, under `tree`."""
    shutil.copytree(bundle, tree / INSTALL_DIR, symlinks=True)
    launcher = tree / "usr" / "bin" / PACKAGE
    launcher.parent.mkdir(parents=True)
    launcher.symlink_to(Path("/") / INSTALL_DIR / PACKAGE)
    applications = tree / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    shutil.copyfile(HERE / f"{PACKAGE}.desktop", applications / f"{PACKAGE}.desktop")
    shutil.copytree(icons, tree / "usr" / "share" / "icons" / "hicolor")


def fix_permissions(tree: Path) -> None:
    """0755 folders, 0755 for the program, 0644 for everything else (libraries included)."""
    program = tree / INSTALL_DIR / PACKAGE
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path == program else 0o644)


def shlib_depends(work: Path, tree: Path, log: Path) -> str:
    """`${shlibs:Depends}` of the ELF files under `tree` (a debian/<package> folder in `work`)."""
    (work / "debian" / "control").write_text(
        f"Source: {PACKAGE}\nMaintainer: {maintainer()}\n\n"
        f"Package: {PACKAGE}\nArchitecture: any\nDescription: stub for dpkg-shlibdeps\n"
    )
    elf_files = [path for path in regular_files(tree) if is_elf(path)]
    private_dirs = sorted({path.parent for path in elf_files})
    command = ["dpkg-shlibdeps", "-O", *(f"-l{d.relative_to(work)}" for d in private_dirs)]
    command += [f"-e{path.relative_to(work)}" for path in elf_files]
    result = subprocess.run(command, check=False, cwd=work, capture_output=True, text=True)
    log.write_text(result.stderr)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"dpkg-shlibdeps failed (log: {log})")
    for line in result.stdout.splitlines():
        if line.startswith("shlibs:Depends="):
            return line.removeprefix("shlibs:Depends=")
    raise SystemExit("dpkg-shlibdeps printed no shlibs:Depends")


def maintainer() -> str:
    return os.environ.get("DEB_MAINTAINER", "Image Refresh developers <image-refresh@example.org>")


def installed_size_kib(tree: Path) -> int:
    """Installed-Size as dpkg-gencontrol counts it: a KiB per started KiB of a file, 1 per link."""
    total = 0
    for path in tree.rglob("*"):
        if path.is_symlink() or path.is_dir():
            total += 1
        else:
            total += -(-path.stat().st_size // 1024)
    return total


def write_control(tree: Path, depends: str, arch: str) -> None:
    debian = tree / "DEBIAN"
    fields = {
        "Package": PACKAGE,
        "Version": __version__,
        "Architecture": arch,
        "Maintainer": maintainer(),
        "Installed-Size": str(installed_size_kib(tree)),
        "Depends": ", ".join([depends, *EXTRA_DEPENDS]),
        "Section": "graphics",
        "Priority": "optional",
        "Description": DESCRIPTION,
    }
    (debian / "control").write_text("".join(f"{k}: {v}\n" for k, v in fields.items()))
    sums = [
        f"{hashlib.md5(path.read_bytes()).hexdigest()}  {path.relative_to(tree)}\n"
        for path in regular_files(tree)
        if debian not in path.parents
    ]
    (debian / "md5sums").write_text("".join(sums))
    for path in debian.iterdir():
        path.chmod(0o644)


def validate_desktop_entry(tree: Path) -> None:
    entry = tree / "usr" / "share" / "applications" / f"{PACKAGE}.desktop"
    command = ["desktop-file-validate", str(entry)]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0 or "error" in result.stdout:
        raise SystemExit(f"desktop-file-validate: {result.stdout}{result.stderr}")


def build(bundle: Path, icons: Path, work: Path, output: Path, level: int) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "debian" / PACKAGE
    (tree / "DEBIAN").mkdir(parents=True)  # dpkg-shlibdeps resolves $ORIGIN through it
    lay_out(tree, bundle, icons)
    validate_desktop_entry(tree)
    fix_permissions(tree)
    depends = shlib_depends(work, tree, work / "dpkg-shlibdeps.log")
    arch = architecture()
    write_control(tree, depends, arch)
    output.mkdir(parents=True, exist_ok=True)
    deb = output / f"{PACKAGE}_{__version__}_{arch}.deb"
    deb.unlink(missing_ok=True)
    compression = ["-Zzstd", f"-z{level}"]
    run(["dpkg-deb", "--root-owner-group", *compression, "--build", str(tree), str(deb)])
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the .deb of Image Refresh.")
    parser.add_argument("--bundle", type=Path, default=Path("build/bundle") / PACKAGE)
    parser.add_argument("--icons", type=Path, default=Path("build/icons"))
    parser.add_argument("--work", type=Path, default=Path("build/deb"))
    parser.add_argument("--output", type=Path, default=Path("dist"))
    parser.add_argument("--level", type=int, default=19, help="zstd level (1-22)")
    args = parser.parse_args(argv)
    deb = build(args.bundle, args.icons, args.work, args.output, args.level)
    control = run(["dpkg-deb", "--field", str(deb), "Installed-Size", "Depends"])
    print(control, end="")
    print(f"{deb}: {deb.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rebuilds the bundle's libicudata without the ICU data Qt never reads (Linux bundles only).

Qt's wheels ship ICU 73 whole: 31 MB of data, most of it display names (languages, regions,
currencies, units, time zones), number spell-out and transliteration, which Qt does not use: QLocale
formats with Qt's own CLDR tables. ICU is kept for what Qt asks of it (collation for QCollator and
QFileSystemModel, codecs for QStringConverter, break iterators and the locale tree), so those trees
stay. The library is rebuilt with binutils (`as`, `ld`): one read-only symbol, `icudtNN_dat`,
holding an ICU common-data package ("CmnD") with fewer items.

    python packaging/slim_icu.py build/bundle/image-refresh
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DROPPED_TREES = ("lang/", "region/", "curr/", "unit/", "zone/", "rbnf/", "translit/")
ALIGNMENT = 16
SHT_DYNSYM = 11


@dataclass(frozen=True)
class DataSymbol:
    name: str
    file_offset: int
    size: int


def _section_headers(elf: bytes) -> list[tuple[int, int, int, int, int, int]]:
    """(type, addr, offset, size, link, entsize) of each section of a little-endian ELF64 file."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a little-endian 64-bit ELF file")
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    headers = []
    for index in range(shnum):
        fields = struct.unpack_from("<IIQQQQIIQQ", elf, shoff + index * shentsize)
        _name, kind, _flags, addr, offset, size, link, _info, _align, entsize = fields
        headers.append((kind, addr, offset, size, link, entsize))
    return headers


def find_data_symbol(elf: bytes) -> DataSymbol:
    """The exported `icudtNN_dat` symbol: where its bytes are in the file and how many."""
    sections = _section_headers(elf)
    for kind, _addr, offset, size, link, entsize in sections:
        if kind != SHT_DYNSYM:
            continue
        strings = sections[link][2]
        for start in range(offset, offset + size, entsize):
            name_at, _info, _other, shndx, value, length = struct.unpack_from("<IBBHQQ", elf, start)
            name = elf[strings + name_at : elf.index(b"\0", strings + name_at)].decode()
            if name.startswith("icudt") and name.endswith("_dat") and length:
                _kind, addr, section_offset, *_rest = sections[shndx]
                return DataSymbol(name, value - addr + section_offset, length)
    raise ValueError("no icudtNN_dat symbol: not an ICU data library")


def _align(size: int) -> int:
    return -size % ALIGNMENT


def filter_package(package: bytes, dropped: tuple[str, ...]) -> tuple[bytes, int, int]:
    """The package without items under `dropped` trees; also the item counts before and after."""
    header_size = struct.unpack_from("<H", package, 0)[0]
    if package[2:4] != b"\xda\x27" or package[12:16] != b"CmnD" or header_size % ALIGNMENT:
        raise ValueError("not an ICU common data package")
    toc = header_size
    count = struct.unpack_from("<I", package, toc)[0]
    entries = [struct.unpack_from("<II", package, toc + 4 + 8 * i) for i in range(count)]
    ends = [offset for _name, offset in entries[1:]] + [len(package) - toc]
    kept: list[tuple[bytes, bytes]] = []
    for (name_at, offset), end in zip(entries, ends, strict=True):
        name = package[toc + name_at : package.index(b"\0", toc + name_at)]
        tree = name.decode("ascii").split("/", 1)[-1]
        if not tree.startswith(dropped):
            kept.append((name, package[toc + offset : toc + end]))
    names = b"".join(name + b"\0" for name, _item in kept)
    names_start = 4 + 8 * len(kept)
    body_start = names_start + len(names) + _align(names_start + len(names))
    table, body, name_at = [], bytearray(), names_start
    for name, item in kept:
        table.append(struct.pack("<II", name_at, body_start + len(body)))
        name_at += len(name) + 1
        body += item + b"\0" * _align(len(item))
    padding = b"\0" * (body_start - names_start - len(names))
    rebuilt = struct.pack("<I", len(kept)) + b"".join(table) + names + padding + bytes(body)
    return package[:header_size] + rebuilt, count, len(kept)


ASSEMBLY = """\
    .section .rodata
    .globl {symbol}
    .type {symbol}, @object
    .balign 16
{symbol}:
    .incbin "{data}"
    .size {symbol}, . - {symbol}
    .section .note.GNU-stack,"",@progbits
"""


def build_library(package: bytes, symbol: str, soname: str, output: Path) -> None:
    """A shared library exporting `symbol` = `package`, linked with binutils."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "data.dat").write_bytes(package)
        (work / "data.s").write_text(ASSEMBLY.format(symbol=symbol, data=work / "data.dat"))
        subprocess.run(["as", "-o", str(work / "data.o"), str(work / "data.s")], check=True)
        command = ["ld", "-shared", "-soname", soname, "-z", "noexecstack", "-s"]
        subprocess.run([*command, "-o", str(output), str(work / "data.o")], check=True)


def find_icu_data(bundle: Path) -> list[Path]:
    return sorted(p for p in bundle.rglob("libicudata.so*") if p.is_file() and not p.is_symlink())


def slim(library: Path) -> None:
    elf = library.read_bytes()
    symbol = find_data_symbol(elf)
    package = elf[symbol.file_offset : symbol.file_offset + symbol.size]
    smaller, before, after = filter_package(package, DROPPED_TREES)
    replacement = library.with_name(library.name + ".slim")
    build_library(smaller, symbol.name, library.name, replacement)
    check = find_data_symbol(replacement.read_bytes())
    if check.name != symbol.name or check.size != len(smaller):
        raise RuntimeError(f"the rebuilt {library.name} does not export {symbol.name} whole")
    mode = library.stat().st_mode
    replacement.replace(library)
    library.chmod(mode)
    print(
        f"{library}: ICU data {len(package) / 1e6:.1f} MB -> {len(smaller) / 1e6:.1f} MB "
        f"({before} -> {after} items; dropped {', '.join(DROPPED_TREES)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle made by PyInstaller")
    args = parser.parse_args(argv)
    libraries = find_icu_data(args.bundle)
    if not libraries:
        print(f"{args.bundle}: no libicudata in the bundle, nothing to slim")
    for library in libraries:
        slim(library)
    return 0


if __name__ == "__main__":
    sys.exit(main())

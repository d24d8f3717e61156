#!/usr/bin/env bash
# The package tests in a clean room: a minimal Debian made by debootstrap, where only the .deb's
# Depends (no Recommends) are installed. This is what catches a library missing from Depends.
#
#   bash packaging/test-cleanroom.sh [DEB]        (`make test-cleanroom`; root, debootstrap)
#
# The minimal system is made once and kept as build/cleanroom/<suite>-minbase.tar, the packages apt
# downloads are kept in build/cleanroom/apt-archives: a rerun only unpacks and installs. Each run
# starts from a fresh copy, removed at the end. The web server, the X server and the checks run
# outside the chroot (packaging/test_package.py --root).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=${CLEANROOM_SUITE:-bookworm}
# The mirrors this machine's apt already uses (deb822 or one-line sources), unless given.
apt_uri() { # $1: the last path part of the archive, e.g. debian or debian-security
    cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v '^[[:space:]]*#' | grep -oE '(https?|file)://[^ ]*/'"$1"'/?( |$)' | tr -d ' ' \
        | sed -n 1p || true
}
MIRROR=${DEBIAN_MIRROR:-$(apt_uri debian)}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_uri debian-security)}
[ -n "$MIRROR" ] || { echo "no Debian mirror in the apt sources: set DEBIAN_MIRROR" >&2; exit 2; }
WORK=$PWD/build/cleanroom
BASE=$WORK/$SUITE-minbase.tar
ARCHIVES=$WORK/apt-archives
ROOT=$WORK/root
DEB=${1:-$(ls -t dist/image-refresh_*.deb 2>/dev/null | head -n 1)}
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "no .deb: run \`make package\` first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root: debootstrap and chroot need it" >&2; exit 2; }

started=$SECONDS
mkdir -p "$WORK" "$ARCHIVES"

make_base() {
    local bootstrap=$WORK/bootstrap
    echo "== debootstrap --variant=minbase $SUITE (once; kept as $BASE)"
    rm -rf --one-file-system "$bootstrap"
    debootstrap --variant=minbase "$SUITE" "$bootstrap" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
    tar -C "$bootstrap" -cf "$BASE.partial" .
    mv "$BASE.partial" "$BASE"
    rm -rf --one-file-system "$bootstrap"
}

mounted() { # the mount points under $ROOT, deepest first
    awk -v root="$ROOT" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

cleanup() {
    local point
    for point in $(mounted); do umount "$point" 2>/dev/null || umount -l "$point"; done
    if [ -n "$(mounted)" ]; then
        echo "still mounted under $ROOT, not removing it:" $(mounted) >&2
        return 1
    fi
    if [ -d "$ROOT/var/cache/apt/archives" ]; then
        cp -u "$ROOT"/var/cache/apt/archives/*.deb "$ARCHIVES"/ 2>/dev/null || true
    fi
    rm -rf --one-file-system "$ROOT"
}

prepare_root() {
    echo "== a fresh $SUITE from $BASE"
    cleanup
    mkdir -p "$ROOT"
    tar -C "$ROOT" -xf "$BASE"
    cp -L /etc/hosts "$ROOT/etc/hosts" # the name of the mirror may be known only here
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    {
        echo "deb $MIRROR $SUITE main"
        echo "deb $MIRROR $SUITE-updates main"
        [ -z "$SECURITY_MIRROR" ] || echo "deb $SECURITY_MIRROR $SUITE-security main"
    } >"$ROOT/etc/apt/sources.list"
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" # no services start in here
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    cp "$ARCHIVES"/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null || true
    mount -t proc proc "$ROOT/proc"
    mount -t tmpfs tmpfs "$ROOT/dev/shm" 2>/dev/null || true
    chroot "$ROOT" apt-get update -qq
}

[ -f "$BASE" ] || make_base
trap cleanup EXIT
prepare_root
echo "== packaging/test_package.py --root $ROOT"
status=0
.venv/bin/python packaging/test_package.py --root "$ROOT" --deb "$DEB" --startup-runs 0 || status=$?
echo "clean room ($SUITE): $([ $status = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
exit $status

#!/usr/bin/env bash
# Build (or reuse) the bench's Linux anchor guest (issue 8): Debian bookworm's
# cloud kernel as a PVH guest with a busybox initramfs. Usage:
#
#   build-linux-guest.sh [--force]
#
# Prints the directory on stdout (progress on stderr); it holds
#   vmlinux.gz   the kernel as a gzip'd ELF. Xen's PVH loader needs the ELF
#                with the XEN_ELFNOTE_PHYS32_ENTRY note; a bzImage wraps it in
#                a real-mode setup header plus a compressed payload, which
#                libxenguest does not unwrap for PVH (the guest dies silently).
#                The ELF is the payload after the setup header, decompressed
#                (LZ4 in Debian's 6.1 kernels); gzip'd because libxenguest
#                gunzips kernels and the 50+ MB ELF is heavy to ship.
#   initrd.gz    busybox-static, xen-netfront.ko (a module in the cloud
#                kernel), dropbear (the SSH server, with the shared
#                libraries it links: Debian's is not static) and
#                harness/linux-guest/{init,udhcpc.script,status}
#   manifest.txt package versions and sizes
# The packages are fetched with the host's `apt-get download` (Debian
# bookworm, as the rest of the harness). Kept next to the dom0 image, not in
# it: only bench runs carry it (run-xen.sh --extra), other runs stay small.
# The guest's xl config needs `hap = 0` and `tsc_mode = "native"` under the
# harness's nested TCG (see harness/scenarios/bench.sh).
set -euo pipefail
{

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)
CACHE=${XEN_HARNESS_CACHE:-$REPO/.cache/xen-harness}
LINUX_GUEST_PKGS="linux-image-cloud-amd64 busybox-static"
# dropbear-bin and what its binaries link (Debian bookworm's dependencies)
SSH_PKGS="dropbear-bin libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g"

say() { echo "build-linux-guest: $*" >&2; }

# fetch_debs DIR: the cloud kernel (the package the metapackage points at),
# busybox-static, and dropbear with its libraries
fetch_debs() {
    local kpkg
    kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [ -n "$kpkg" ] || { say "apt knows no linux-image-cloud-amd64 (apt-get update?)"; return 1; }
    # shellcheck disable=SC2086
    (cd "$1" && apt-get download -q "$kpkg" busybox-static $SSH_PKGS >&2)
}

# add_with_libs FROM ROOT FILE...: copy FILEs (paths inside the unpacked
# packages FROM) into ROOT, and every shared library they need, transitively,
# into ROOT/lib/x86_64-linux-gnu (on ld.so's built-in multiarch path)
add_with_libs() {
    local from=$1 root=$2 f lib path todo
    shift 2
    mkdir -p "$root/lib/x86_64-linux-gnu" "$root/lib64"
    todo=""
    for f in "$@"; do
        mkdir -p "$root/$(dirname "$f")"
        cp -L "$from/$f" "$root/$f"
        todo="$todo $from/$f"
    done
    cp -L "$from/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/lib/x86_64-linux-gnu/"
    ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
    while [ -n "${todo// /}" ]; do
        set -- $todo
        todo=""
        for f in "$@"; do
            for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
                [ ! -e "$root/lib/x86_64-linux-gnu/$lib" ] || continue
                path=$(find "$from" -name "$lib" -print -quit)
                [ -n "$path" ] || { say "no $lib in the unpacked packages"; return 1; }
                cp -L "$path" "$root/lib/x86_64-linux-gnu/$lib"
                todo="$todo $path"
            done
        done
    done
}

# extract_vmlinux BZIMAGE OUT: the ELF inside a bzImage (boot protocol 2.08+:
# the payload starts payload_offset bytes after the (setup_sects+1)*512 setup)
extract_vmlinux() {
    local sects off len magic
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
    [ "$sects" -ne 0 ] || sects=4
    off=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
    len=$(od -An -tu4 -j $((0x24c)) -N4 "$1" | tr -d ' ')
    off=$(((sects + 1) * 512 + off))
    magic=$(od -An -tx1 -j "$off" -N4 "$1" | tr -d ' ')
    # the decompressors complain about the payload's trailing size word: the ELF check below decides
    case "$magic" in
        02214c18) tail -c +$((off + 1)) "$1" | head -c "$len" | lz4 -dc >"$2" 2>/dev/null || true ;;
        fd377a58) tail -c +$((off + 1)) "$1" | head -c "$len" | xz -dc >"$2" 2>/dev/null || true ;;
        28b52ffd) tail -c +$((off + 1)) "$1" | head -c "$len" | zstd -dc >"$2" 2>/dev/null || true ;;
        1f8b*) tail -c +$((off + 1)) "$1" | head -c "$len" | gzip -dc >"$2" 2>/dev/null || true ;;
        *) say "unknown bzImage payload compression (magic $magic)"; return 1 ;;
    esac
    [ "$(od -An -tx1 -N4 "$2" | tr -d ' ')" = 7f454c46 ] || { say "no ELF in the bzImage payload"; return 1; }
}

# pack_initrd DIR OUT: busybox applets as links, the netfront module, init
pack_initrd() {
    local r=$1/initrd
    mkdir -p "$r"/bin "$r"/lib "$r"/proc "$r"/sys "$r"/dev "$r"/tmp
    cp "$1"/bb/bin/busybox "$r"/bin/busybox
    for a in $("$r"/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
    cp "$(find "$1"/k/lib/modules -name 'xen-netfront.ko*' | head -1)" "$r"/lib/xen-netfront.ko
    cp "$HARNESS"/linux-guest/init "$r"/init
    cp "$HARNESS"/linux-guest/udhcpc.script "$r"/bin/udhcpc.script
    cp "$HARNESS"/linux-guest/status "$r"/bin/status
    chmod +x "$r"/init "$r"/bin/udhcpc.script "$r"/bin/status
    add_with_libs "$1"/ssh "$r" usr/sbin/dropbear usr/bin/dropbearkey
    (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -9 >"$2"
}

recipe_key() {
    {
        echo "$LINUX_GUEST_PKGS"
        echo "$SSH_PKGS"
        declare -f fetch_debs add_with_libs extract_vmlinux pack_initrd
        cat "$HARNESS"/linux-guest/init "$HARNESS"/linux-guest/udhcpc.script "$HARNESS"/linux-guest/status
    } | sha256sum | cut -c1-16
}

FORCE=0
case "${1:-}" in
    --force) FORCE=1 ;;
    "") ;;
    *) echo "usage: build-linux-guest.sh [--force]" >&2; exit 2 ;;
esac
KEY=$(recipe_key)
OUT=$CACHE/linux-guest-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.linux-guest.lock"
flock 9
if [ $FORCE -eq 0 ] && [ -s "$OUT/manifest.txt" ]; then
    say "cached $OUT"
    echo "$OUT"
    exit 0
fi
command -v lz4 >/dev/null || bash "$HARNESS/install-deps.sh" >&2
TMP=$CACHE/tmp-linux-guest-$KEY
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/debs" "$TMP/k" "$TMP/bb" "$TMP/ssh"
fetch_debs "$TMP/debs"
dpkg-deb -x "$(ls "$TMP"/debs/linux-image-*.deb | head -1)" "$TMP/k"
dpkg-deb -x "$(ls "$TMP"/debs/busybox-static_*.deb | head -1)" "$TMP/bb"
for p in $SSH_PKGS; do dpkg-deb -x "$(ls "$TMP"/debs/"${p}"_*.deb | head -1)" "$TMP/ssh"; done
extract_vmlinux "$(ls "$TMP"/k/boot/vmlinuz-* | head -1)" "$TMP/vmlinux"
gzip -6 -c "$TMP/vmlinux" >"$TMP/vmlinux.gz"
pack_initrd "$TMP" "$TMP/initrd.gz"
{
    echo "key=$KEY built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for d in "$TMP"/debs/*.deb; do echo "$(dpkg-deb -f "$d" Package)=$(dpkg-deb -f "$d" Version)"; done
    echo "vmlinux_bytes=$(stat -c %s "$TMP/vmlinux") vmlinux_gz_bytes=$(stat -c %s "$TMP/vmlinux.gz") initrd_bytes=$(stat -c %s "$TMP/initrd.gz")"
} >"$TMP/manifest.txt"
mkdir -p "$TMP/out"
mv "$TMP/vmlinux.gz" "$TMP/initrd.gz" "$TMP/manifest.txt" "$TMP/out/"
rm -rf "$OUT"
mv "$TMP/out" "$OUT"
ls -dt "$CACHE"/linux-guest-* | tail -n +3 | xargs -r rm -rf
say "ready: $OUT ($(tr '\n' ' ' <"$OUT/manifest.txt"))"
echo "$OUT"
exit
}

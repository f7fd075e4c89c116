#!/usr/bin/env bash
# Build (or reuse) the real-Xen harness image. Usage:
#
#   build-dom0.sh [--force]
#
# Prints the image directory on stdout (progress goes to stderr); it holds
#   xen.elf        Xen 4.17 (multiboot ELF32, gunzipped from Debian's package)
#   vmlinuz        the Debian 6.1 kernel, dom0
#   dom0.cpio.gz   a trimmed Debian bookworm rootfs as initramfs
#   manifest.txt   key, package versions, sizes, build time
#
# The directory is $CACHE/img-KEY, KEY being a hash of the recipe below (the
# package and module lists and the bodies of the build functions, not the
# comments), so changing the recipe rebuilds it and nothing else does. Per-run
# files (init, scenario, guest) go in a separate payload archive (run-xen.sh)
# and never force a rebuild. A lock serialises concurrent builds; an image is
# built in a temporary directory and renamed into place, so a run never sees a
# half-written one.
set -euo pipefail
# The whole script is one compound command, so bash has read all of it before
# it runs: editing this file cannot derail a run in progress.
{

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)
CACHE=${XEN_HARNESS_CACHE:-$REPO/.cache/xen-harness}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=xen-utils-4.17,xen-hypervisor-4.17-amd64,linux-image-amd64,iproute2,dnsmasq-base,python3,kmod,busybox,procps,openssh-client,qemu-system-xen,hping3,tcpdump
# Kernel modules dom0 loads (with their dependencies); all others are dropped.
MODULES="xen-netback xen-blkback loop bridge xen-gntalloc xen-evtchn xen-gntdev xenfs xen-privcmd tun"

say() { echo "build-dom0: $*" >&2; }

# debootstrap ROOTFS: a minimal bookworm with the Xen tools and the dom0 kernel
bootstrap_rootfs() {
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$1" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
        { tail -30 "$CACHE/debootstrap.log" >&2; return 1; }
}

# extract_boot ROOTFS IMG: Xen and the dom0 kernel come out of the rootfs's /boot
extract_boot() {
    gunzip -c "$1"/boot/xen-4.17-amd64.gz >"$2/xen.elf"
    cp "$(ls "$1"/boot/vmlinuz-* | head -1)" "$2/vmlinuz"
}

# keep_modules ROOTFS: only the modules dom0 needs (and their dependencies)
keep_modules() {
    local root=$1 kver keep f
    kver=$(basename "$(ls -d "$root"/lib/modules/* | head -1)")
    keep=$(for m in $MODULES; do chroot "$root" modprobe --show-depends -S "$kver" "$m"; done |
        awk '$1 == "insmod" { print $2 }' | sort -u)
    mkdir -p "$root.keep"
    for f in $keep; do
        mkdir -p "$root.keep/$(dirname "$f")"
        cp "$root$f" "$root.keep/$f"
    done
    rm -rf "$root/lib/modules/$kver/kernel"
    cp -a "$root.keep/lib/modules/$kver/kernel" "$root/lib/modules/$kver/"
    rm -rf "$root.keep"
    chroot "$root" depmod "$kver"
}

# trim_rootfs ROOTFS: drop what a test dom0 never reads
trim_rootfs() {
    local r=$1
    rm -rf "$r"/boot/* "$r"/initrd.img* "$r"/vmlinuz* "$r"/usr/share/doc "$r"/usr/share/man "$r"/usr/share/info \
        "$r"/usr/share/locale "$r"/usr/share/i18n "$r"/var/cache/apt "$r"/var/lib/apt/lists \
        "$r"/var/cache/debconf/*-old "$r"/usr/lib/firmware "$r"/lib/firmware \
        "$r"/usr/share/zoneinfo "$r"/var/log/* "$r"/usr/lib/x86_64-linux-gnu/gconv \
        "$r"/usr/share/initramfs-tools
    find "$r" -name '__pycache__' -prune -exec rm -rf {} +
}

# configure_rootfs ROOTFS: xenconsoled logs each guest's console to a file
configure_rootfs() {
    cat >"$1/etc/default/xen" <<'EOF'
XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"
EOF
    mkdir -p "$1/var/log/xen/console" "$1/payload"
}

# pack_rootfs ROOTFS OUT: newc archive, gzip -1 (fast; the kernel unpacks it)
pack_rootfs() {
    (cd "$1" && find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$2"
}

recipe_key() {
    {
        echo "$SUITE $PACKAGES $MODULES"
        declare -f bootstrap_rootfs extract_boot keep_modules trim_rootfs configure_rootfs pack_rootfs
    } | sha256sum | cut -c1-16
}

FORCE=0
case "${1:-}" in
    --force) FORCE=1 ;;
    "") ;;
    *) echo "usage: build-dom0.sh [--force]" >&2; exit 2 ;;
esac

KEY=$(recipe_key)
IMG=$CACHE/img-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    say "another build holds $CACHE/.lock; waiting"
    flock 9
fi
if [ $FORCE -eq 0 ] && [ -s "$IMG/dom0.cpio.gz" ] && [ -s "$IMG/manifest.txt" ]; then
    say "cached image $IMG"
    echo "$IMG"
    exit 0
fi

t0=$SECONDS
bash "$HARNESS/install-deps.sh" >&2
TMP=$CACHE/tmp-$KEY
ROOTFS=$TMP/rootfs
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP"

say "debootstrap $SUITE into $ROOTFS (log: $CACHE/debootstrap.log)"
bootstrap_rootfs "$ROOTFS"
t_boot=$((SECONDS - t0))
say "debootstrap took ${t_boot} s"
versions=$(chroot "$ROOTFS" dpkg-query -W -f '${Package}=${Version}\n' \
    xen-hypervisor-4.17-amd64 xen-utils-4.17 'linux-image-6*' python3 iproute2 dnsmasq-base 2>/dev/null || true)
extract_boot "$ROOTFS" "$TMP"
keep_modules "$ROOTFS"
trim_rootfs "$ROOTFS"
configure_rootfs "$ROOTFS"
rootfs_kib=$(du -sk "$ROOTFS" | cut -f1)
t_pack=$SECONDS
pack_rootfs "$ROOTFS" "$TMP/dom0.cpio.gz"
say "packed the initramfs in $((SECONDS - t_pack)) s"
rm -rf "$ROOTFS"
{
    echo "key=$KEY"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$((SECONDS - t0)) debootstrap_seconds=$t_boot"
    echo "rootfs_kib=$rootfs_kib initramfs_bytes=$(stat -c %s "$TMP/dom0.cpio.gz")"
    echo "xen_bytes=$(stat -c %s "$TMP/xen.elf") vmlinuz_bytes=$(stat -c %s "$TMP/vmlinuz")"
    echo "$versions"
} >"$TMP/manifest.txt"

# Publish, then drop all but the three newest images (worktrees on different
# recipes share one cache) and the pre-keyed-directory layout.
rm -rf "$IMG"
mv "$TMP" "$IMG"
trap - EXIT
ls -dt "$CACHE"/img-* | tail -n +4 | xargs -r rm -rf
rm -rf "$CACHE"/ready-* "$CACHE"/dom0.cpio.gz "$CACHE"/xen.elf "$CACHE"/vmlinuz "$CACHE"/rootfs
say "image ready in $((SECONDS - t0)) s: rootfs $((rootfs_kib / 1024)) MiB, initramfs $(du -h "$IMG/dom0.cpio.gz" | cut -f1), $IMG"
echo "$IMG"
exit
}

#!/usr/bin/env bash
# Build (or reuse) the real-Xen harness image:
#   $CACHE/xen.elf        Xen 4.17 (multiboot ELF32, gunzipped from Debian's package)
#   $CACHE/vmlinuz        the Debian 6.1 kernel, dom0
#   $CACHE/dom0.cpio.gz   a trimmed Debian bookworm rootfs as initramfs
# Everything is keyed by a hash of this script, so changing the recipe
# rebuilds it; per-run files (init, scenario, guest) go in a separate payload
# archive (run-xen.sh) and never force a rebuild.
set -euo pipefail

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)
CACHE=${XEN_HARNESS_CACHE:-$REPO/.cache/xen-harness}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=xen-utils-4.17,xen-hypervisor-4.17-amd64,linux-image-amd64,iproute2,dnsmasq-base,python3,kmod,busybox,procps,openssh-client
# Kernel modules dom0 loads (with their dependencies); all others are dropped.
MODULES="xen-netback bridge xen-gntalloc xen-evtchn xen-gntdev xenfs xen-privcmd"

KEY=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$CACHE/ready-$KEY" ] && [ -s "$CACHE/dom0.cpio.gz" ]; then
    echo "build-dom0: cached image $CACHE (key $KEY)"
    exit 0
fi

t0=$SECONDS
bash "$HARNESS/install-deps.sh"
mkdir -p "$CACHE"
ROOTFS=$CACHE/rootfs
rm -rf "$ROOTFS" "$CACHE"/ready-*
echo "build-dom0: debootstrap bookworm into $ROOTFS"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -30 "$CACHE/debootstrap.log"; exit 1; }
echo "build-dom0: debootstrap took $((SECONDS - t0)) s"

# Xen and the dom0 kernel come out of the rootfs's /boot.
gunzip -c "$ROOTFS"/boot/xen-4.17-amd64.gz >"$CACHE/xen.elf"
cp "$(ls "$ROOTFS"/boot/vmlinuz-* | head -1)" "$CACHE/vmlinuz"
KVER=$(basename "$(ls -d "$ROOTFS"/lib/modules/* | head -1)")

# Keep only the modules dom0 needs.
keep=$(for m in $MODULES; do chroot "$ROOTFS" modprobe --show-depends -S "$KVER" "$m"; done |
    awk '$1 == "insmod" { print $2 }' | sort -u)
mkdir -p "$CACHE/keep"
for f in $keep; do
    mkdir -p "$CACHE/keep/$(dirname "$f")"
    cp "$ROOTFS$f" "$CACHE/keep/$f"
done
rm -rf "$ROOTFS/lib/modules/$KVER/kernel"
cp -a "$CACHE/keep/lib/modules/$KVER/kernel" "$ROOTFS/lib/modules/$KVER/"
rm -rf "$CACHE/keep"
chroot "$ROOTFS" depmod "$KVER"

# Trim what a test dom0 never reads.
rm -rf "$ROOTFS"/boot/* "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man "$ROOTFS"/usr/share/info \
    "$ROOTFS"/usr/share/locale "$ROOTFS"/usr/share/i18n "$ROOTFS"/var/cache/apt "$ROOTFS"/var/lib/apt/lists \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/usr/lib/firmware "$ROOTFS"/lib/firmware \
    "$ROOTFS"/usr/share/zoneinfo "$ROOTFS"/var/log/* "$ROOTFS"/usr/lib/x86_64-linux-gnu/gconv \
    "$ROOTFS"/usr/share/initramfs-tools "$ROOTFS"/usr/lib/xen-4.17/boot
find "$ROOTFS" -name '__pycache__' -prune -exec rm -rf {} +

# Xen daemons: xenconsoled logs each guest's console to a file.
cat >"$ROOTFS/etc/default/xen" <<'EOF'
XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"
EOF
mkdir -p "$ROOTFS/var/log/xen/console" "$ROOTFS/payload"

echo "build-dom0: packing initramfs"
(cd "$ROOTFS" && find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$CACHE/dom0.cpio.gz"
rm -rf "$ROOTFS"
touch "$CACHE/ready-$KEY"
echo "build-dom0: image ready in $((SECONDS - t0)) s: $(du -h "$CACHE/dom0.cpio.gz" | cut -f1) initramfs, key $KEY"

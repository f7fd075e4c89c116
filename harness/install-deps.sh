#!/usr/bin/env bash
# Install what the harness needs on Debian bookworm (as root): QEMU 9+ from
# bookworm-backports (bookworm's own 7.2 is too old for Xen under TCG here),
# debootstrap, cpio. A no-op, without touching apt, when everything is present.
set -euo pipefail

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v cpio >/dev/null || need+=(cpio)
command -v gzip >/dev/null || need+=(gzip)
command -v ssh-keygen >/dev/null || need+=(openssh-client) # cloudinit tests compare fingerprints with ssh-keygen
command -v flock >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
command -v grub-mkimage >/dev/null || need+=(grub-common)      # the disk image (image/mkimage.sh)
[ -f /usr/lib/grub/i386-pc/boot.img ] || need+=(grub-pc-bin)
command -v mformat >/dev/null || need+=(mtools)
command -v genisoimage >/dev/null || need+=(genisoimage) # seedfs/blkfront tests read ISO9660 seed disks it makes
command -v xorriso >/dev/null || need+=(xorriso)
command -v lz4 >/dev/null || need+=(lz4) # the bench's Linux guest: Debian's bzImage payload is LZ4 (build-linux-guest.sh)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null &&
    qemu-system-x86_64 --version | grep -Eq 'version (9|[1-9][0-9])\.'; then
    qemu_ok=1
fi
if [ ${#need[@]} -eq 0 ] && [ $qemu_ok -eq 1 ]; then
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "install-deps: missing ${need[*]} ${qemu_ok/1/}qemu; run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-deps.XXXXXX)
run() {
    echo "install-deps: $*"
    "$@" >>"$log" 2>&1 || { echo "install-deps: failed: $*" >&2; tail -20 "$log" >&2; exit 1; }
}
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
run apt-get update -q
if [ ${#need[@]} -gt 0 ]; then
    run apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ $qemu_ok -eq 0 ]; then
    run apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86
fi
rm -f "$log"
echo "install-deps: $(qemu-system-x86_64 --version | head -1)"

#!/usr/bin/env bash
# Install what the harness needs on Debian bookworm (as root): QEMU 10 from
# bookworm-backports, debootstrap, cpio. A no-op when everything is present.
set -euo pipefail

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v cpio >/dev/null || need+=(cpio)
command -v gzip >/dev/null || need+=(gzip)
command -v ssh-keygen >/dev/null || need+=(openssh-client) # cloudinit tests compare fingerprints with ssh-keygen
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null &&
    qemu-system-x86_64 --version | grep -Eq 'version (9|[1-9][0-9])\.'; then
    qemu_ok=1
fi
if [ ${#need[@]} -eq 0 ] && [ $qemu_ok -eq 1 ]; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -q >/dev/null
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -q "${need[@]}" >/dev/null
fi
if [ $qemu_ok -eq 0 ]; then
    apt-get install -y -q -t bookworm-backports qemu-system-x86 >/dev/null
fi
echo "install-deps: $(qemu-system-x86_64 --version | head -1)"

#!/usr/bin/env bash
# Seed disks for the real-Xen seed scenario (harness/scenarios/seed.sh),
# built on the host: a key pair, two vfat cidata disks (image/mkseed.sh, as
# `./run.sh seed` makes them), a cloud-localds-style ISO9660 cidata and an
# OpenStack config-2 ISO (genisoimage). Usage: seed-images.sh OUTDIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: seed-images.sh OUTDIR}
rm -rf "$OUT" && mkdir -p "$OUT"
ssh-keygen -q -t ed25519 -N '' -C seed@host -f "$OUT/seedkey"
cat >"$OUT/net-static.yaml" <<'NC'
version: 2
ethernets:
  eth0:
    addresses: [10.0.0.9/24]
    gateway4: 10.0.0.1
NC
bash "$ROOT/image/mkseed.sh" --key "$OUT/seedkey.pub" --network-config "$OUT/net-static.yaml" --out "$OUT/seed-static.img" >/dev/null
bash "$ROOT/image/mkseed.sh" --key "$OUT/seedkey.pub" --out "$OUT/seed-dhcp.img" >/dev/null
# cloud-localds' layout: an ISO9660 volume "cidata" with Joliet and Rock Ridge
t=$OUT/iso-tree && mkdir -p "$t"
printf 'instance-id: iid-iso-1\nlocal-hostname: isoseed\n' >"$t/meta-data"
printf '#cloud-config\nssh_authorized_keys:\n  - %s\n' "$(cat "$OUT/seedkey.pub")" >"$t/user-data"
printf 'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: static\n        address: 10.0.0.11/24\n        gateway: 10.0.0.1\n' >"$t/network-config"
genisoimage -quiet -J -R -V cidata -o "$OUT/seed-iso.iso" "$t"
# an OpenStack config drive
c=$OUT/cd2-tree/openstack/latest && mkdir -p "$c"
printf '{"uuid": "3c1bd3ad-0c4e-4f1c-9f0e-5d9c7e2f1a42", "hostname": "cd2", "public_keys": {"seedkey": "%s"}}\n' "$(cat "$OUT/seedkey.pub")" >"$c/meta_data.json"
genisoimage -quiet -J -R -V config-2 -o "$OUT/seed-cd2.iso" "$OUT/cd2-tree"
rm -rf "$t" "$OUT/cd2-tree" "$OUT/net-static.yaml"

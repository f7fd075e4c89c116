#!/usr/bin/env bash
# Build a NoCloud seed disk for the appliance on your own Xen host (no
# metadata service there): a FAT image labelled `cidata` holding
#
#   meta-data       instance-id, local-hostname, public-keys (the key)
#   user-data       the file given, else #cloud-config with ssh_authorized_keys
#   network-config  only if given
#
#   mkseed.sh --key FILE [--user-data FILE] [--network-config FILE]
#             [--instance-id ID] [--hostname NAME] [--out FILE]
#
# Attach it read-only: disk = [ "format=raw, vdev=xvdb, access=ro, target=/path/seed.img" ].
#
# Built in a file with mtools: no loop devices, no mounts, no root.
# Reproducible: fixed volume serial, every timestamp from SOURCE_DATE_EPOCH
# (default 1980-01-01, FAT's first day), files added in a fixed order; the
# default instance-id is derived from the key. Same inputs, same bytes.
set -euo pipefail
usage() { sed -n '9,10p' "$0" | sed 's/^# *//' >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEY= USER_DATA= NETWORK_CONFIG= INSTANCE_ID= HOSTNAME_=appliance OUT=$ROOT/build/seed.img
while [ $# -gt 0 ]; do
    case "$1" in
        --key) KEY=${2:?}; shift 2 ;;
        --user-data) USER_DATA=${2:?}; shift 2 ;;
        --network-config) NETWORK_CONFIG=${2:?}; shift 2 ;;
        --instance-id) INSTANCE_ID=${2:?}; shift 2 ;;
        --hostname) HOSTNAME_=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        *) usage ;;
    esac
done
[ -n "$KEY" ] || usage
VOLUME_SERIAL=5eed5eed
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
export TZ=UTC MTOOLS_SKIP_CHECK=1

die() { echo "mkseed: $*" >&2; exit 1; }
for tool in mformat mcopy sha256sum; do
    command -v $tool >/dev/null || die "$tool missing (run ./run.sh deps)"
done
for f in "$KEY" ${USER_DATA:+"$USER_DATA"} ${NETWORK_CONFIG:+"$NETWORK_CONFIG"}; do
    [ -f "$f" ] || die "no such file: $f"
done

# One public key line: a type, base64, an optional comment; nothing that
# could break out of the YAML scalar it goes into.
key=$(grep -v '^[[:space:]]*\(#\|$\)' "$KEY" | head -n 2)
[ "$(printf '%s\n' "$key" | wc -l)" -eq 1 ] || die "$KEY must hold exactly one public key line"
case "$key" in
    ssh-*\ *|ecdsa-sha2-*\ *|sk-*\ *) ;;
    *) die "$KEY does not look like an OpenSSH public key" ;;
esac
printf '%s' "$key" | LC_ALL=C grep -q '[^[:print:]]' && die "$KEY holds control characters"
[[ "$HOSTNAME_" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || die "bad hostname: $HOSTNAME_"
INSTANCE_ID=${INSTANCE_ID:-iid-seed-$(printf '%s' "$key" | sha256sum | cut -c1-16)}
[[ "$INSTANCE_ID" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "bad instance-id: $INSTANCE_ID"
# YAML single-quoted scalar: a quote is written twice
quoted="'${key//\'/\'\'}'"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkseed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/tree"
cat >"$WORK/tree/meta-data" <<META
instance-id: $INSTANCE_ID
local-hostname: $HOSTNAME_
public-keys:
  - $quoted
META
if [ -n "$USER_DATA" ]; then
    cp "$USER_DATA" "$WORK/tree/user-data"
else
    cat >"$WORK/tree/user-data" <<USER
#cloud-config
ssh_authorized_keys:
  - $quoted
USER
fi
files=(meta-data user-data)
if [ -n "$NETWORK_CONFIG" ]; then
    cp "$NETWORK_CONFIG" "$WORK/tree/network-config"
    files+=(network-config)
fi
find "$WORK/tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# 1 MiB (FAT12) unless the files need more: twice their size plus slack.
bytes=$(cat "$WORK"/tree/* | wc -c)
kib=$(( bytes * 2 / 1024 + 256 ))
[ $kib -ge 1024 ] || kib=1024
truncate -s ${kib}K "$WORK/seed.img"
mformat -i "$WORK/seed.img" -N $VOLUME_SERIAL -v cidata ::
for f in "${files[@]}"; do
    mcopy -i "$WORK/seed.img" -m -Q "$WORK/tree/$f" ::/
done
mkdir -p "$(dirname "$OUT")"
mv "$WORK/seed.img" "$OUT"
echo "mkseed: $OUT $(stat -c %s "$OUT") bytes sha256=$(sha256sum "$OUT" | cut -c1-16) label=cidata instance-id=$INSTANCE_ID files=${files[*]}"

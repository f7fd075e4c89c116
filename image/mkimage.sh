#!/usr/bin/env bash
# Build the appliance's bootable raw disk image (EC2-style HVM boot):
#
#   mkimage.sh KERNEL.elf OUT.img [CMDLINE]
#
# Layout: an MBR with GRUB's boot.img and one bootable FAT partition at 1 MiB;
# GRUB's core.img (i386-pc: biosdisk, part_msdos, fat, normal, multiboot2,
# serial) sits in the gap after the MBR; the partition holds
# /boot/appliance.elf and /boot/grub/grub.cfg, which loads it with
# `multiboot2` and the command line. Everything is built in files with
# grub-mkimage and mtools: no loop devices, no mounts, no root.
#
# Reproducible: fixed volume serial and disk signature, every FAT timestamp
# set from SOURCE_DATE_EPOCH (default: the last commit's time), files added in
# a fixed order; the same kernel, command line and GRUB give the same bytes.
set -euo pipefail
KERNEL=${1:?usage: mkimage.sh KERNEL.elf OUT.img [CMDLINE]}
OUT=${2:?usage: mkimage.sh KERNEL.elf OUT.img [CMDLINE]}
CMDLINE=${3:-}
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
PART_START=2048          # sectors: the partition starts at 1 MiB
PART_SECTORS=32768       # 16 MiB FAT partition
DISK_SIGNATURE=0x41505031
VOLUME_SERIAL=0x41505031
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}

for tool in grub-mkimage mformat mcopy mmd python3; do
    command -v $tool >/dev/null || { echo "mkimage: $tool missing (run ./run.sh deps)" >&2; exit 1; }
done
[ -f "$GRUB_DIR/boot.img" ] || { echo "mkimage: $GRUB_DIR/boot.img missing (grub-pc-bin)" >&2; exit 1; }
case "$CMDLINE" in *$'\n'*|*'"'*|*'\'*) echo "mkimage: the command line may not hold newlines, quotes or backslashes" >&2; exit 1 ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# GRUB: core.img finds its partition on the boot drive, then normal mode
# reads grub.cfg from it.
grub-mkimage -O i386-pc -o "$WORK/core.img" -p '(,msdos1)/boot/grub' \
    biosdisk part_msdos fat normal multiboot2 boot serial terminal echo
core_sectors=$(( ($(stat -c %s "$WORK/core.img") + 511) / 512 ))
[ $core_sectors -lt $PART_START ] || { echo "mkimage: core.img does not fit before the partition" >&2; exit 1; }

# grub.cfg: serial first (EC2's console output is COM1), no menu, no wait.
cat >"$WORK/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
echo "grub: loading /boot/appliance.elf"
multiboot2 /boot/appliance.elf $CMDLINE
boot
CFG

# FAT partition, built as a file. Timestamps: mtools reads the clock, so
# give every file the same fixed mtime and let mcopy -m keep it; the
# directories are made by mcopy -s from a tree with fixed times too.
mkdir -p "$WORK/tree/boot/grub"
cp "$KERNEL" "$WORK/tree/boot/appliance.elf"
cp "$WORK/grub.cfg" "$WORK/tree/boot/grub/grub.cfg"
find "$WORK/tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
truncate -s $((PART_SECTORS * 512)) "$WORK/part.img"
mformat -i "$WORK/part.img" -N "${VOLUME_SERIAL#0x}" -v APPLIANCE -H $PART_START ::
mcopy -i "$WORK/part.img" -s -m -Q "$WORK/tree/boot" ::/

# The disk: MBR (boot.img's code + our partition table), core.img from
# sector 1 (boot.img and core.img's first sector find the rest there by
# default), the partition at 1 MiB.
python3 - "$GRUB_DIR/boot.img" "$WORK/disk.img" $PART_START $PART_SECTORS $DISK_SIGNATURE <<'PY'
import struct, sys
boot, out, start, count, sig = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5], 0)
mbr = bytearray(open(boot, 'rb').read()[:512])
mbr[440:444] = struct.pack('<I', sig)
mbr[444:446] = b'\0\0'
# one entry: bootable, CHS fields saturated (LBA is what counts), type 0x0e
# (FAT16, LBA), then the start and length in sectors
entry = struct.pack('<B3sB3sII', 0x80, b'\xfe\xff\xff', 0x0e, b'\xfe\xff\xff', start, count)
mbr[446:510] = entry + bytes(48)
mbr[510:512] = b'\x55\xaa'
with open(out, 'wb') as f:
    f.write(mbr)
    f.truncate((start + count) * 512)
PY
dd if="$WORK/core.img" of="$WORK/disk.img" bs=512 seek=1 conv=notrunc status=none
dd if="$WORK/part.img" of="$WORK/disk.img" bs=512 seek=$PART_START conv=notrunc status=none
mv "$WORK/disk.img" "$OUT"
echo "mkimage: $OUT $(stat -c %s "$OUT") bytes sha256=$(sha256sum "$OUT" | cut -c1-16) core_sectors=$core_sectors grub=$(grub-mkimage --version | awk '{print $NF}') cmdline=\"$CMDLINE\""

#!/usr/bin/env bash
# Tier 2: the real ELF boots under plain QEMU (TCG, microvm) through its PVH
# entry, reports that there is no Xen and powers off by itself within seconds;
# a forced page fault prints the trap report and ends in a crash shutdown; and
# the disk image (image/mkimage.sh) boots BIOS -> GRUB -> the multiboot2 entry.
set -uo pipefail
ELF=${1:?usage: qemu-boot.sh appliance.elf}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=qemu-boot
. "$ROOT/tests/lib.sh"
OUT=$ROOT/build/qemu-boot
mkdir -p "$OUT"

# boot NAME CMDLINE: serial output in $OUT/NAME.log, sets RC and MS
boot() {
    local start
    start=$(date +%s%N)
    timeout 60 qemu-system-x86_64 -accel tcg -M microvm -cpu max -m 64 \
        -nographic -no-reboot -serial "file:$OUT/$1.raw" -monitor none -display none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$ELF" -append "$2" >"$OUT/$1.stdout" 2>&1
    RC=$?
    tr -d '\r' <"$OUT/$1.raw" >"$OUT/$1.log" # the UART console writes CRLF
    MS=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "qemu-boot: run=$1 exit=$RC elapsed_ms=$MS"
    sed 's/^/  | /' "$OUT/$1.log"
}

boot plain "qemu=1 answer=42"
# QEMU exits through isa-debug-exit (status 1) or ACPI (0); 124 is the timeout.
if [ "$RC" -eq 0 ] || [ "$RC" -eq 1 ]; then pass "QEMU exits by itself (${MS} ms)"; else fail "QEMU exits by itself (status $RC)"; fi
L=$OUT/plain.log
expect_line "$L" '^appliance: boot version=[^ ]+ entry=pvh cmdline="qemu=1 answer=42"$' "boot line with the command line"
expect_line "$L" '^mem: total_kib=6[0-9]{4} free_kib=[0-9]+' "memory map read from hvm_start_info (64 MiB guest)"
expect_line "$L" '^xen: not-found' "says clearly that there is no Xen"
expect_line "$L" '^appliance: shutdown reason=poweroff' "powers off"
expect_no_line "$L" '^(trap|panic):' "no trap or panic"

boot fault "selftest=fault"
if [ "$RC" -eq 0 ] || [ "$RC" -eq 1 ]; then pass "faulting kernel still exits (${MS} ms)"; else fail "faulting kernel exits (status $RC)"; fi
L=$OUT/fault.log
expect_line "$L" '^trap: vector=14 name="page fault" error=0x[0-9a-f]+ rip=0x[0-9a-f]+ cr2=0x7f0000000000 ' "page fault reported with vector, error, RIP and CR2"
expect_line "$L" '^trap: rax=0x[0-9a-f]+ rbx=' "registers printed"
expect_line "$L" '^appliance: shutdown reason=crash why="exception"' "crash shutdown after the trap"

# A stack overflow: the unmapped guard page under the boot stack turns it
# into a page-fault report (on the exception stack), not a write into the
# page tables below it or a silent triple fault.
boot stack "selftest=stack"
L=$OUT/stack.log
expect_line "$L" '^trap: vector=14 name="page fault" ' "stack overflow caught by the guard page and reported"
expect_line "$L" '^appliance: shutdown reason=crash why="exception"' "crash shutdown after the overflow"
expect_no_line "$L" '^selftest: error' "the recursion never returned"

# Shared-memory copies (kernel/src/phys.rs: words where the shared side is
# aligned, bytes at the edges) against byte-wise reads, every alignment.
boot copy "selftest=copy"
L=$OUT/copy.log
expect_line "$L" '^selftest: copy checks=1315 failures=0$' "shared-memory copies match byte-wise ones at every alignment"
expect_no_line "$L" '^(trap|panic):' "no trap or panic in the copy test"

# The disk image: SeaBIOS, GRUB from the MBR gap, multiboot2 into the same
# kernel; built twice to show the same inputs give the same bytes.
IMG=$OUT/disk.img
if grub-file --is-x86-multiboot2 "$ELF"; then pass "the ELF carries a valid multiboot2 header (grub-file)"; else fail "grub-file --is-x86-multiboot2 $ELF"; fi
if bash "$ROOT/image/mkimage.sh" "$ELF" "$IMG" "qemu=1 disk=1" >"$OUT/mkimage.log" 2>&1 &&
    TMPDIR=$OUT SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-} bash "$ROOT/image/mkimage.sh" "$ELF" "$IMG.again" "qemu=1 disk=1" >>"$OUT/mkimage.log" 2>&1; then
    pass "image built: $(head -1 "$OUT/mkimage.log" | cut -d' ' -f2-4)"
    if cmp -s "$IMG" "$IMG.again"; then pass "image is reproducible (two builds, same bytes)"; else fail "two image builds differ"; fi
    start=$(date +%s%N)
    timeout 60 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 64 \
        -nographic -no-reboot -serial "file:$OUT/disk.raw" -monitor none -display none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -drive "file=$IMG,format=raw,snapshot=on" >"$OUT/disk.stdout" 2>&1
    RC=$?
    MS=$(( ($(date +%s%N) - start) / 1000000 ))
    tr -d '\r' <"$OUT/disk.raw" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >"$OUT/disk.log"
    echo "qemu-boot: run=disk exit=$RC elapsed_ms=$MS"
    grep -aE '^(grub|appliance|mem|xen):' "$OUT/disk.log" | sed 's/^/  | /'
    if [ "$RC" -eq 0 ] || [ "$RC" -eq 1 ]; then pass "disk boot exits by itself (${MS} ms, BIOS and GRUB included)"; else fail "disk boot exits by itself (status $RC)"; fi
    L=$OUT/disk.log
    expect_line "$L" 'grub: loading /boot/appliance' "GRUB runs grub.cfg from the FAT partition"
    expect_line "$L" '^appliance: boot version=[^ ]+ entry=multiboot2 cmdline="qemu=1 disk=1"$' "multiboot2 entry, command line from the image"
    expect_line "$L" '^mem: total_kib=6[0-9]{4} free_kib=[0-9]+' "memory map from the multiboot2 information (64 MiB, above 1 MiB)"
    expect_line "$L" '^xen: not-found' "says clearly that there is no Xen"
    expect_line "$L" '^appliance: shutdown reason=poweroff' "powers off"
    expect_no_line "$L" '^(trap|panic):' "no trap or panic"
    # The AMI steps are printed without AWS; --run without the CLI says so.
    bash "$ROOT/image/ami.sh" "$IMG" >"$OUT/ami.txt" 2>&1
    expect_line "$OUT/ami.txt" '^aws ec2 import-snapshot ' "ami: import-snapshot step printed"
    expect_line "$OUT/ami.txt" '--virtualization-type hvm --boot-mode legacy-bios' "ami: register-image as an HVM, BIOS-boot image"
    if AWS=/nonexistent/aws AMI_BUCKET=b bash "$ROOT/image/ami.sh" "$IMG" --run >"$OUT/ami-run.txt" 2>&1; then
        fail "ami --run without the aws CLI must fail"
    else
        expect_line "$OUT/ami-run.txt" '^ami: the aws CLI \(/nonexistent/aws\) is not installed' "ami --run without the aws CLI fails with a clear message"
    fi
else
    fail "image/mkimage.sh failed"
    sed 's/^/  | /' "$OUT/mkimage.log"
fi
rm -f "$IMG.again"
summary

#!/usr/bin/env bash
# Boot Xen 4.17 + the Debian dom0 inside QEMU (TCG) and run one scenario.
#
#   run-xen.sh --guest ELF --scenario SCRIPT [--out DIR] [--timeout S] [--extra FILE]...
#
# The guest lands at /payload/guest.elf in dom0, the scenario at
# /payload/scenario.sh (sourced by dom0's init with harness/dom0/lib.sh), extras
# under /payload/. Writes DIR/serial.log (everything: Xen, dom0, scenario),
# DIR/guest-NAME.log (each guest console, via xenconsoled), DIR/harness.log
# (the HARNESS: lines). Exits 0 only if the scenario reported result=pass.
set -euo pipefail

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)
CACHE=${XEN_HARNESS_CACHE:-$REPO/.cache/xen-harness}
GUEST="" SCENARIO="" OUT=$REPO/build/xen-run TIMEOUT=300
EXTRAS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --guest) GUEST=$2; shift 2 ;;
        --scenario) SCENARIO=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --extra) EXTRAS+=("$2"); shift 2 ;;
        *) echo "run-xen: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -f "$GUEST" ] && [ -f "$SCENARIO" ] || { echo "run-xen: need --guest ELF and --scenario SCRIPT" >&2; exit 2; }

bash "$HARNESS/build-dom0.sh"
rm -rf "$OUT"
mkdir -p "$OUT/payload/payload"
P=$OUT/payload/payload
cp "$GUEST" "$P/guest.elf"
cp "$SCENARIO" "$P/scenario.sh"
cp "$HARNESS/dom0/lib.sh" "$HARNESS/dom0/gntmap.py" "$HARNESS/dom0/imds.py" "$P/"
cp "$HARNESS/dom0/init" "$OUT/payload/init"
for e in "${EXTRAS[@]}"; do cp -r "$e" "$P/"; done
# The payload archive follows the cached image; Linux unpacks both, and the
# later one's /init wins.
(cd "$OUT/payload" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$OUT/payload.cpio"
# Linux only looks for a cpio header at 4-byte aligned offsets after a
# compressed archive: pad the image with zeros (which it skips) to 512 bytes.
gz_size=$(stat -c %s "$CACHE/dom0.cpio.gz")
{ cat "$CACHE/dom0.cpio.gz"; head -c $(( (512 - gz_size % 512) % 512 )) /dev/zero; cat "$OUT/payload.cpio"; } >"$OUT/initrd.img"

XEN_ARGS="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M dom0_max_vcpus=1 noreboot"
start=$(date +%s%N)
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 \
    -nographic -no-reboot -monitor none -display none -serial "file:$OUT/serial.raw" \
    -kernel "$CACHE/xen.elf" -append "$XEN_ARGS" \
    -initrd "$CACHE/vmlinuz console=hvc0 rdinit=/init quiet,$OUT/initrd.img" \
    >"$OUT/qemu.out" 2>&1 &
qemu=$!
# Xen halts rather than exits when dom0 dies ('noreboot'), and may not power
# the machine off: stop QEMU as soon as the run is over either way.
finished=""
while kill -0 "$qemu" 2>/dev/null; do
    sleep 1
    if [ -z "$finished" ] && grep -Eaq 'HARNESS: .*result=|Dom0 crashed|Kernel panic|Dom0 shutdown' "$OUT/serial.raw" 2>/dev/null; then
        finished=$SECONDS
    fi
    if [ -n "$finished" ] && [ $((SECONDS - finished)) -ge 5 ]; then
        kill "$qemu" 2>/dev/null
        break
    fi
done
wait "$qemu"
rc=$?
[ -n "$finished" ] && rc=0
set -e
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
tr -d '\r' <"$OUT/serial.raw" >"$OUT/serial.log"
rm -f "$OUT/serial.raw" "$OUT/initrd.img"

grep '^HARNESS:' "$OUT/serial.log" >"$OUT/harness.log" || true
# Split out the guest consoles printed between begin-file/end-file markers.
awk -v out="$OUT" '
    /^HARNESS: begin-file name=/ { sub(/^HARNESS: begin-file name=/, ""); f = out "/" $0; printf "" > f; next }
    /^HARNESS: end-file/ { close(f); f = ""; next }
    f != "" { print >> f }
' "$OUT/serial.log"

echo "run-xen: qemu exit=$rc elapsed_ms=$elapsed out=$OUT"
grep -E 'event=|check=|result=' "$OUT/harness.log" | sed 's/^/run-xen: /' || true
if [ "$rc" -eq 124 ]; then
    echo "run-xen: timed out after ${TIMEOUT}s; last lines:"
    tail -30 "$OUT/serial.log"
    exit 1
fi
grep -q 'result=pass' "$OUT/harness.log"

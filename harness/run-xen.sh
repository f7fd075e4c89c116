#!/usr/bin/env bash
# Boot Xen 4.17 + the Debian dom0 inside QEMU (TCG) and run one scenario.
#
#   run-xen.sh --scenario SCRIPT [--guest ELF] [--out DIR] [--timeout S]
#              [--extra FILE]... [--env NAME=VALUE]...
#              [--xen-append ARGS] [--dom0-append ARGS] [--memory MIB]
#
# The guest lands at /payload/guest.elf in dom0, the scenario at
# /payload/scenario.sh (sourced by dom0's init after harness/dom0/lib.sh and
# the --env assignments), extras under /payload/. Writes DIR/serial.log
# (everything: Xen, dom0, scenario), DIR/guest-NAME.log (each guest console, via
# xenconsoled), DIR/harness.log (the HARNESS: lines), DIR/timings.txt.
# Exit status: 0 the scenario reported result=pass, 1 it reported a failure,
# 2 bad usage, 3 no result (image build failed, timeout, dom0 or Xen died).
# See harness/README.md.
set -euo pipefail
# The whole script is one compound command, so bash has read all of it before
# it runs: editing this file cannot derail a run in progress.
{

HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS/.." && pwd)
GUEST="" SCENARIO="" OUT=$REPO/build/xen-run TIMEOUT=300 XEN_APPEND="" DOM0_APPEND="" MEMORY=2048
EXTRAS=() ENVS=()
usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage ;;
        --guest | --scenario | --out | --timeout | --extra | --env | --xen-append | --dom0-append | --memory)
            [ $# -ge 2 ] || { echo "run-xen: $1 needs a value" >&2; exit 2; } ;;
        *) echo "run-xen: unknown argument $1" >&2; usage ;;
    esac
    case "$1" in
        --guest) GUEST=$2 ;;
        --scenario) SCENARIO=$2 ;;
        --out) OUT=$2 ;;
        --timeout) TIMEOUT=$2 ;;
        --extra) EXTRAS+=("$2") ;;
        --env) ENVS+=("$2") ;;
        --xen-append) XEN_APPEND="$XEN_APPEND $2" ;;
        --dom0-append) DOM0_APPEND="$DOM0_APPEND $2" ;;
        --memory) MEMORY=$2 ;;
    esac
    shift 2
done
[ -f "$SCENARIO" ] || { echo "run-xen: need --scenario SCRIPT (a file)" >&2; exit 2; }
[ -z "$GUEST" ] || [ -f "$GUEST" ] || { echo "run-xen: --guest $GUEST: no such file" >&2; exit 2; }
case "$DOM0_APPEND" in *,*) echo "run-xen: --dom0-append cannot hold a comma (QEMU's module separator)" >&2; exit 2 ;; esac
case "$TIMEOUT" in '' | *[!0-9]*) echo "run-xen: --timeout takes whole seconds" >&2; exit 2 ;; esac
case "$MEMORY" in '' | *[!0-9]*) echo "run-xen: --memory takes MiB" >&2; exit 2 ;; esac
for e in "${ENVS[@]}"; do
    [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "run-xen: --env wants NAME=VALUE, got '$e'" >&2; exit 2; }
done
OUT=$(realpath -m "$OUT")
case "$OUT" in / | "$REPO" | "$HOME" | "$HARNESS") echo "run-xen: refusing --out $OUT (it is emptied first)" >&2; exit 2 ;; esac

# XEN_HARNESS_IMG: use this image directory as it is (experiments)
IMG=${XEN_HARNESS_IMG:-$(bash "$HARNESS/build-dom0.sh")} || { echo "run-xen: FAIL: building the image failed" >&2; exit 3; }
[ -s "$IMG/xen.elf" ] && [ -s "$IMG/vmlinuz" ] && [ -s "$IMG/dom0.cpio.gz" ] || { echo "run-xen: FAIL: incomplete image in $IMG" >&2; exit 3; }
DOM0_KERNEL=$IMG/vmlinuz DOM0_INITRD=$IMG/dom0.cpio.gz
rm -rf "$OUT"
mkdir -p "$OUT/payload/payload"
P=$OUT/payload/payload
[ -z "$GUEST" ] || cp "$GUEST" "$P/guest.elf"
cp "$SCENARIO" "$P/scenario.sh"
cp "$HARNESS"/dom0/lib.sh "$HARNESS"/dom0/*.py "$HARNESS"/dom0/vif-lean "$P/"
cp "$HARNESS/dom0/init" "$OUT/payload/init"
for e in "${EXTRAS[@]}"; do cp -r "$e" "$P/"; done
# dom0 gives up on the scenario a little before the host does, so that the
# guest consoles still get printed and the result says why (dom0's uptime
# lags the host's clock by Xen's boot, ~20 s under load).
deadline=$((TIMEOUT > 120 ? TIMEOUT - 35 : TIMEOUT / 2))
{
    echo "HARNESS_DEADLINE_S=$deadline"
    # single-quoted for dom0's dash: ' becomes '\''
    q="'\\''"
    for e in "${ENVS[@]}"; do v=${e#*=}; printf "export %s='%s'\n" "${e%%=*}" "${v//\'/$q}"; done
} >"$P/env.sh"
# The payload archive follows the cached image; Linux unpacks both, and the
# later one's /init wins.
(cd "$OUT/payload" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$OUT/payload.cpio"
# After a compressed archive Linux only looks for the next cpio header at a
# 4-byte aligned offset, skipping zero bytes: pad the image to 512 bytes.
gz_size=$(stat -c %s "$DOM0_INITRD")
{ cat "$DOM0_INITRD"; head -c $(((512 - gz_size % 512) % 512)) /dev/zero; cat "$OUT/payload.cpio"; } >"$OUT/initrd.img"

XEN_ARGS="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M dom0_max_vcpus=1 noreboot$XEN_APPEND"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(now_ms)
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel "${HARNESS_ACCEL:-tcg}" -cpu "${HARNESS_CPU:-max}" -m "$MEMORY" -smp 2 \
    -nographic -no-reboot -display none \
    -monitor "unix:$OUT/monitor.sock,server=on,wait=off" \
    -chardev "socket,id=com1,path=$OUT/serial.sock,server=on,wait=off,logfile=$OUT/serial.raw" \
    -serial chardev:com1 \
    -kernel "$IMG/xen.elf" -append "$XEN_ARGS" \
    -initrd "$DOM0_KERNEL console=hvc0 rdinit=/init ${DOM0_APPEND:-quiet},$OUT/initrd.img" \
    >"$OUT/qemu.out" 2>&1 &
qemu=$!

# Milestones, stamped when they first show up on the serial line (host clock,
# ms after QEMU started; resolution ~0.25 s).
names=(xen_start dom0_kernel dom0_userspace dom0_ready first_guest_line result)
ts='(\[[^]]*\] )?' # console_timestamps= (--xen-append) puts one after (XEN)
patterns=("\\(XEN\\) ${ts}Xen version" "\\(XEN\\) ${ts}Freed [0-9]+kB init memory" 'HARNESS: .*event=dom0-userspace'
    'HARNESS: .*event=dom0-ready' '^\(d[1-9][0-9]*\) ' 'HARNESS: .*result=')
declare -A seen=()
# A serial line quiet for HARNESS_STALL_S seconds (a whole-host freeze was
# seen in density runs) gets a look inside, up to 5 times:
# harness/qemu-stall.py (QEMU's vCPU registers, Xen's debug keys and dom0's
# SysRq into serial.log; the input also wakes a host that lost a wakeup).
STALL_S=${HARNESS_STALL_S:-240}
last_size=-1 last_change=$SECONDS looks=0
# Xen halts rather than exits when dom0 dies ('noreboot'), and may not power
# the machine off: stop QEMU soon after the run is over either way.
finished="" reason=""
while kill -0 "$qemu" 2>/dev/null; do
    sleep 0.25
    for i in "${!names[@]}"; do
        n=${names[$i]}
        if [ -z "${seen[$n]:-}" ] && grep -Eaq -- "${patterns[$i]}" "$OUT/serial.raw" 2>/dev/null; then
            seen[$n]=$(($(now_ms) - start))
        fi
    done
    if [ -z "$finished" ]; then
        if [ -n "${seen[result]:-}" ]; then
            finished=$SECONDS reason=result
        elif grep -Eaq 'Dom0 crashed|Kernel panic|\(XEN\) Hardware Dom0 shutdown|Panic on CPU' "$OUT/serial.raw" 2>/dev/null; then
            finished=$SECONDS reason=dom0-died
        fi
    fi
    size=$(stat -c %s "$OUT/serial.raw" 2>/dev/null || echo 0)
    if [ "$size" != "$last_size" ]; then
        last_size=$size last_change=$SECONDS
    elif [ -z "$finished" ] && [ $looks -lt 5 ] && [ $((SECONDS - last_change)) -ge "$STALL_S" ]; then
        # (the look's own output on the serial line restarts the count)
        looks=$((looks + 1)) last_change=$SECONDS
        echo "run-xen: no serial output for ${STALL_S} s (look $looks): $(python3 "$HARNESS/qemu-stall.py" "$OUT" 2>&1 | tail -1)"
    fi
    if [ -n "$finished" ] && [ $((SECONDS - finished)) -ge 5 ]; then
        kill "$qemu" 2>/dev/null
        break
    fi
done
wait "$qemu"
qemu_rc=$?
set -e
elapsed=$(($(now_ms) - start))
tr -d '\r' <"$OUT/serial.raw" >"$OUT/serial.log"
rm -f "$OUT/serial.raw" "$OUT/initrd.img" "$OUT/monitor.sock" "$OUT/serial.sock"

grep '^HARNESS:' "$OUT/serial.log" >"$OUT/harness.log" || true
# Split out the guest consoles printed between begin-file/end-file markers.
awk -v out="$OUT" '
    /^HARNESS: begin-file name=/ { sub(/^HARNESS: begin-file name=/, ""); gsub(/[^A-Za-z0-9._-]/, "_"); f = out "/" $0; printf "" > f; next }
    /^HARNESS: end-file/ { if (f != "") close(f); f = ""; next }
    f != "" { print >> f }
' "$OUT/serial.log"

{
    for n in "${names[@]}"; do echo "qemu_to_${n}_ms=${seen[$n]:-none}"; done
    grep -o 'event=xl-create-done guest=[^ ]* xl_create_ms=[0-9]*' "$OUT/harness.log" | sed 's/event=xl-create-done //' || true
    grep -o 'event=first-console-line guest=[^ ]* ms_after_create=[0-9]*' "$OUT/harness.log" | sed 's/event=first-console-line //' || true
    echo "whole_run_ms=$elapsed"
} >"$OUT/timings.txt"

echo "run-xen: qemu exit=$qemu_rc elapsed_ms=$elapsed out=$OUT"
echo "run-xen: timings $(grep '^qemu_to' "$OUT/timings.txt" | tr '\n' ' ')"
grep -E 'event=|check=|result=' "$OUT/harness.log" | sed 's/^/run-xen: /' || true
if grep -q 'result=pass' "$OUT/harness.log"; then
    exit 0
elif grep -q 'result=' "$OUT/harness.log"; then
    echo "run-xen: FAIL: $(grep 'result=' "$OUT/harness.log" | tail -1 | sed 's/^HARNESS: t_ms=[0-9]* //')"
    exit 1
fi
case "$qemu_rc:$reason" in
    124:*) echo "run-xen: FAIL: no result within ${TIMEOUT}s (QEMU killed); last lines:" ;;
    *:dom0-died) echo "run-xen: FAIL: dom0 or Xen died before a result; last lines:" ;;
    *) echo "run-xen: FAIL: QEMU exited ($qemu_rc) without a result; last lines:" ;;
esac
tail -30 "$OUT/serial.log"
exit 3
exit
}

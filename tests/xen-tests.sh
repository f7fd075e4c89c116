#!/usr/bin/env bash
# Tier 3: real Xen. Boots Xen 4.17 + a Debian dom0 inside QEMU TCG (the
# harness), creates the appliance with `xl create`, and checks what dom0 and
# the appliance's console say. One harness boot per scenario.
set -uo pipefail
ELF=${1:?usage: xen-tests.sh appliance.elf}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=xen
. "$ROOT/tests/lib.sh"

# run_scenario NAME: boots the harness with harness/scenarios/NAME.sh
run_scenario() {
    local name=$1 out=$ROOT/build/xen-$1
    rm -rf "$out"
    if bash "$ROOT/harness/run-xen.sh" --guest "$ELF" --scenario "$ROOT/harness/scenarios/$name.sh" \
        --out "$out" >"$ROOT/build/xen-$name.stdout" 2>&1; then
        pass "harness scenario $name passed"
    else
        fail "harness scenario $name (see $out/serial.log)"
        tail -40 "$ROOT/build/xen-$name.stdout" | sed 's/^/  | /'
    fi
}

run_scenario boot
OUT=$ROOT/build/xen-boot
G=$(ls "$OUT"/guest-*.log 2>/dev/null | head -1)
if [ -n "$G" ]; then
    sed 's/^/  | /' "$G" | head -40
    expect_line "$G" '^appliance: boot version=[^ ]+ entry=pvh' "appliance boot line on the PV console"
    expect_line "$G" '^xen: version=4\.17 ' "Xen version read from the hypervisor"
    expect_line "$G" '^mem: total_kib=[0-9]+ free_kib=[0-9]+' "memory line"
    expect_line "$G" '^time: pvclock ns=[1-9][0-9]*' "pvclock time"
    expect_no_line "$G" '^(trap|panic):' "no trap or panic"
else
    fail "no guest console log collected in $OUT"
fi
summary

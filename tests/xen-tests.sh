#!/usr/bin/env bash
# Tier 3: real Xen. Boots Xen 4.17 + a Debian dom0 inside QEMU TCG (the
# harness), creates the appliance with `xl create`, and checks what dom0 and
# the appliance's console say. One harness boot per scenario; every check the
# scenario made in dom0 counts here too.
set -uo pipefail
ELF=${1:?usage: xen-tests.sh appliance.elf}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=xen
. "$ROOT/tests/lib.sh"

# run_scenario NAME [RUN-XEN ARGS]: boots the harness with harness/scenarios/NAME.sh
run_scenario() {
    local name=$1 out=$ROOT/build/xen-$1
    shift
    echo "xen: scenario $name (Xen + dom0 boot under TCG: about a minute or two)"
    if bash "$ROOT/harness/run-xen.sh" --guest "$ELF" --scenario "$ROOT/harness/scenarios/$name.sh" \
        --out "$out" "$@" >"$ROOT/build/xen-$name.stdout" 2>&1; then
        pass "harness scenario $name reported result=pass"
    else
        fail "harness scenario $name (see $out/serial.log)"
        tail -40 "$ROOT/build/xen-$name.stdout" | sed 's/^/  | /'
    fi
    grep -E 'event=(dom0-ready|xl-create-done)' "$out/harness.log" 2>/dev/null | sed 's/^/  /'
    while IFS= read -r line; do
        case "$line" in
            *check=pass*) pass "[dom0] ${line#*name=}" ;;
            *check=fail*) fail "[dom0] ${line#*name=}" ;;
        esac
    done < <(grep 'check=' "$out/harness.log" 2>/dev/null)
}

run_scenario boot
G=$ROOT/build/xen-boot/guest-app.log
if [ -s "$G" ]; then
    sed 's/^/  | /' "$G"
    expect_line "$G" '^appliance: boot version=[^ ]+ entry=pvh cmdline="selftest=timer answer=42"$' "boot line (replayed into the PV console)"
    expect_line "$G" '^xen: version=4\.17 extra="[^"]*" ' "Xen version read from the hypervisor"
    expect_line "$G" '^mem: total_kib=32768 free_kib=[0-9]+' "memory map: the 32 MiB xl gave"
    expect_line "$G" '^time: pvclock ns=[1-9][0-9]*$' "pvclock time"
    expect_no_line "$G" '^(trap|panic):' "no trap or panic"
else
    fail "no guest console log collected (build/xen-boot/guest-app.log)"
fi

run_scenario net
N=$ROOT/build/xen-net/guest-net.log
if [ -s "$N" ]; then
    grep -E '^(netfront|net):' "$N" | sed 's/^/  | /'
    grep -E 'event=(ping|stats)' "$ROOT/build/xen-net/harness.log" | sed 's/^/  /'
    expect_line "$N" '^netfront: connected device=device/vif/0 .* reconnects=0$' "netfront connected at boot"
    expect_line "$N" '^netfront: closed device=device/vif/0 reason="backend state Closing" quarantined=0 free_refs=504 ' "detach ends every grant (none quarantined, all references free)"
    expect_line "$N" '^netfront: connected device=device/vif/0 .* reconnects=1$' "reconnected after attach"
    expect_no_line "$N" '^(trap|panic|netfront: error)' "no trap, panic or driver error"
else
    fail "no guest console log collected (build/xen-net/guest-net.log)"
fi

run_scenario cloudinit
grep -E 'event=ssh-(status|keyscan)' "$ROOT/build/xen-cloudinit/harness.log" 2>/dev/null | sed 's/^/  /'
S=$ROOT/build/xen-cloudinit/guest-civ2-ssh.log
if [ -s "$S" ]; then
    sed 's/^/  ssh| /' "$S"
    expect_line "$S" '^appliance version=[^ ]+ uptime_s=[0-9]+ ' "ssh status output collected from dom0"
else
    fail "no ssh session output collected (build/xen-cloudinit/guest-civ2-ssh.log)"
fi
expect_line "$ROOT/build/xen-cloudinit/guest-civ2.log" '^ssh: login user=admin key=SHA256:' "the guest logged the ssh login"
expect_line "$ROOT/build/xen-cloudinit/guest-civ2.log" '^ssh: refused user=admin reason="key not authorized" ' "the guest logged the refused key"
for mode in v2 v1; do
    C=$ROOT/build/xen-cloudinit/guest-ci$mode.log
    if [ -s "$C" ]; then
        grep -E '^(dhcp|imds|cloudinit|ssh-key):' "$C" | sed 's/^/  | /'
        expect_line "$C" "^imds: mode=$mode " "[$mode] metadata mode"
        expect_line "$C" '^cloudinit: done elapsed_ms=[0-9]+$' "[$mode] cloud-init finished"
        expect_no_line "$C" '^(trap|panic|netfront: error|cloudinit: error|ssh: error)' "[$mode] no trap, panic or error"
        expect_line "$C" '^-----BEGIN SSH HOST KEY FINGERPRINTS-----$' "[$mode] host key fingerprints block"
        expect_line "$C" '^256 SHA256:[A-Za-z0-9+/]{43} root@appliance \(ED25519\)$' "[$mode] host key fingerprint line"
        expect_line "$C" '^ssh: listening port=22 user=admin keys=1 sessions=4 rng=(rdseed|rdrand) ' "[$mode] ssh listening"
    else
        fail "no guest console log for the $mode run"
    fi
done

# Jumbo frames: bridge and vif at MTU 9000 (netfront negotiates scatter-gather).
run_scenario jumbo
grep -E 'event=(ping|tcp|vif)' "$ROOT/build/xen-jumbo/harness.log" 2>/dev/null | sed 's/^/  /'
J=$ROOT/build/xen-jumbo/guest-jumbo.log
if [ -s "$J" ]; then
    expect_line "$J" '^netfront: connected device=device/vif/0 .* mtu=9000 ' "[jumbo] netfront took MTU 9000 from XenStore"
    expect_no_line "$J" '^(trap|panic|netfront: error)' "[jumbo] no trap, panic or driver error"
else
    fail "no guest console log for the jumbo run"
fi

# A hostile network: floods, an ARP storm, slow and garbage SSH clients.
run_scenario hostile --timeout 900
grep -E 'event=flood' "$ROOT/build/xen-hostile/harness.log" 2>/dev/null | sed 's/^/  /'
X=$ROOT/build/xen-hostile/guest-h.log
if [ -s "$X" ]; then
    grep -E '^netfront: overload' "$X" | tail -3 | sed 's/^/  | /'
    expect_no_line "$X" '^(trap|panic|netfront: error)' "[hostile] no trap, panic or driver error"
else
    fail "no guest console log for the hostile run"
fi

# A rogue and broken DHCP server: zero lease, T1 past the lease, NAKs, no
# router, silence, then a good server with a new address.
run_scenario dhcp --timeout 900
grep -E 'event=dhcp' "$ROOT/build/xen-dhcp/harness.log" 2>/dev/null | sed 's/^/  /'
D=$ROOT/build/xen-dhcp/guest-d.log
if [ -s "$D" ]; then
    grep -E '^dhcp:' "$D" | sed 's/^/  | /'
else
    fail "no guest console log for the dhcp run"
fi

# Datasources and keys as EC2 and cloud-init users have them: an RSA key
# and gzip'd user-data, OpenStack's format, NoCloud over HTTP, bad user-data.
run_scenario datasources --timeout 600

# Seed disks (vfat and ISO9660 cidata, a config-2 drive), with and without
# a DHCP server, and no metadata service.
SEEDS=$ROOT/build/seeds
if bash "$ROOT/tests/seed-images.sh" "$SEEDS" >"$ROOT/build/seed-images.log" 2>&1; then
    run_scenario seed --extra "$SEEDS/seedkey" --extra "$SEEDS/seedkey.pub" --extra "$SEEDS/seed-static.img" \
        --extra "$SEEDS/seed-dhcp.img" --extra "$SEEDS/seed-iso.iso" --extra "$SEEDS/seed-cd2.iso"
else
    fail "tests/seed-images.sh failed (build/seed-images.log)"
fi

# The EC2 path: the disk image as an HVM guest (hvmloader, SeaBIOS, GRUB).
IMG=$ROOT/build/appliance.img
if bash "$ROOT/image/mkimage.sh" "$ELF" "$IMG" >"$ROOT/build/xen-hvm-mkimage.log" 2>&1; then
    run_scenario hvm --extra "$IMG" --timeout 600
    H=$ROOT/build/xen-hvm/guest-hvm.log
    if [ -s "$H" ]; then
        grep -E '^(appliance|platform|netfront|dhcp|ssh-key|cloudinit):' "$H" | sed 's/^/  | /'
        grep -E 'event=(xl-create-done|first-console-line|done)' "$ROOT/build/xen-hvm/harness.log" | sed 's/^/  /'
        expect_line "$H" '^appliance: boot version=[^ ]+ entry=multiboot2 cmdline=""$' "[hvm] booted through GRUB's multiboot2"
        expect_line "$H" '^platform: unplug nics=1 disks=0 protocol=[0-9]+$' "[hvm] emulated NICs unplugged"
        expect_line "$H" '^cloudinit: done elapsed_ms=[0-9]+$' "[hvm] cloud-init finished"
        expect_no_line "$H" '^(trap|panic|netfront: error|cloudinit: error|platform: error)' "[hvm] no trap, panic or error"
    else
        fail "no guest console log for the HVM run"
    fi
else
    fail "image/mkimage.sh failed (build/xen-hvm-mkimage.log)"
fi
summary

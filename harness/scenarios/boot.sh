# Scenario (sourced by dom0's init): the appliance boots as a PVH guest under
# `xl create`, reads Xen's version from the hypervisor, blocks when idle, and
# shuts down with the reason it asked for (poweroff, crash after a fault).
# Knobs (run-xen.sh --env NAME=VALUE): GUEST_MEMORY in MiB (default 32),
# BOOT_CMDLINE for the first guest (no regex characters; default below).
G=/payload/guest.elf
MEM=${GUEST_MEMORY:-32}
CMDLINE=${BOOT_CMDLINE:-selftest=timer answer=42}

guest_cfg app "$G" "$CMDLINE" "$MEM"
if xl_create app; then
    check "boot line on the guest console" wait_console app "^appliance: boot version=[^ ]+ entry=pvh cmdline=\"$CMDLINE\"" 30
    check "xen version line" wait_console app '^xen: version=4\.17 ' 10
    check "mem line: the ${MEM} MiB xl gave" wait_console app "^mem: total_kib=$((MEM * 1024)) free_kib=[0-9]+" 10
    check "pvclock time line" wait_console app '^time: pvclock ns=[1-9]' 10
    case "$CMDLINE" in *selftest=timer*)
        check "one-shot timer woke the guest" wait_console app '^selftest: timer wakes=[0-9]+ late_us=[0-9]+' 10 ;;
    esac
    check "reaches idle" wait_console app '^appliance: idle' 10
    sleep 2
    cpu0=$(cpu_s app)
    st=$(domain_state app)
    sleep 5
    cpu1=$(cpu_s app)
    harness_log "event=idle guest=app state=$st cpu_s_before=$cpu0 cpu_s_after=$cpu1"
    check "idle domain is blocked (state $st)" [ "${st#*b}" != "$st" ]
    check "idle domain uses no CPU over 5 s ($cpu0 -> $cpu1)" awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { exit !(b - a < 0.2) }'
    domid=$(xl domid app)
    check "device listed from xenstore" wait_console app "^xenstore: device vif/0 backend=/local/domain/0/backend/vif/$domid/0 backend-id=0 mac=00:16:3e:00:00:02\$" 10
    v=$(xenstore-read "/local/domain/$domid/data/appliance/version" 2>&1)
    harness_log "event=xenstore-read key=data/appliance/version value=\"$v\""
    check "dom0 reads data/appliance/version ($v), the version the boot line gave" \
        grep -q "^appliance: boot version=${v:-(none)} " "$(guest_log app)"
    check "guest advertises feature-poweroff" [ "$(xenstore-read /local/domain/$domid/control/feature-poweroff)" = 1 ]
    xl shutdown app
    check "xl shutdown: guest says why" wait_console app '^appliance: shutdown reason=poweroff why="xl shutdown' 20
    check "xl shutdown: domain gone" wait_gone app 20
    sleep 1
    check "xl shutdown: reason code 0 (poweroff)" grep -q 'shut down, reason code 0' /var/log/xen/xl-app.log
fi

guest_cfg rb "$G" "" 32
if xl_create rb; then
    check "reboot guest idles" wait_console rb '^appliance: idle' 30
    xl reboot rb
    check "xl reboot: guest says why" wait_console rb '^appliance: shutdown reason=reboot why="xl reboot' 20
    check "xl reboot: domain gone (on_reboot=destroy)" wait_gone rb 20
    sleep 1
    check "xl reboot: reason code 1 (reboot)" grep -q 'shut down, reason code 1' /var/log/xen/xl-rb.log
fi

# Grant table against a real peer: dom0 maps what the guest granted.
guest_cfg gnt "$G" "selftest=gnttab" 32
if xl_create gnt; then
    check_gnttab_selftest gnt ""
    xl destroy gnt
fi

guest_cfg off "$G" "selftest=poweroff" 32
if xl_create off; then
    check "poweroff announced" wait_console off '^appliance: shutdown reason=poweroff why="selftest"' 30
    check "domain gone after poweroff" wait_gone off 20
    sleep 1
    check "xl saw shutdown reason code 0 (poweroff)" grep -q 'shut down, reason code 0' /var/log/xen/xl-off.log
fi

# hap = 0: under nested TCG, Xen's HAP path reports a wrong CR2 to the guest
# (seen as cr2=0x0); shadow paging reports the real one.
guest_cfg fault "$G" "selftest=fault" 32 "hap = 0"
if xl_create fault; then
    check "page fault reported" wait_console fault '^trap: vector=14 name="page fault" .* cr2=0x7f0000000000' 30
    check "crash announced" wait_console fault '^appliance: shutdown reason=crash why="exception"' 10
    check "domain gone after crash" wait_gone fault 20
    sleep 1
    check "xl saw shutdown reason code 3 (crash)" grep -q 'shut down, reason code 3' /var/log/xen/xl-fault.log
fi
for f in /var/log/xen/xl-*.log; do echo "== $f"; cat "$f"; done

# Helpers for harness scenarios (sourced in dom0). Every line meant for the
# host starts with "HARNESS:"; run-xen.sh parses them.

HARNESS_FAILS=0
HARNESS_FIRST_FAIL=""
CONSOLE_DIR=/var/log/xen/console

# uptime_ms: dom0's uptime in ms ("12345.67" in /proc/uptime), by the
# shell alone: every HARNESS line and every loop's clock reads it, and under
# guest churn this dom0 has left the small tools it would exec looping
# (README, "dom0 under guest churn")
uptime_ms() {
    local u rest s f
    read -r u rest </proc/uptime
    s=${u%.*} f=${u#*.}
    echo $((s * 1000 + ${f#0} * 10))
}
harness_log() { echo "HARNESS: t_ms=$(uptime_ms) $*"; }

check_pass() { harness_log "check=pass name=\"$*\""; }
check_fail() {
    harness_log "check=fail name=\"$*\""
    HARNESS_FAILS=$((HARNESS_FAILS + 1))
    [ -n "$HARNESS_FIRST_FAIL" ] || HARNESS_FIRST_FAIL=$*
}
harness_fail() { check_fail "$*"; }

# check DESCRIPTION COMMAND...: one assertion, logged either way; returns
# the command's verdict so that scenarios can skip what depends on it
check() {
    local desc=$1
    shift
    if "$@"; then check_pass "$desc"; else check_fail "$desc"; return 1; fi
}

# guest_cfg NAME KERNEL CMDLINE [MEMORY] [EXTRA-LINES]: writes /tmp/NAME.cfg
# (the vif MAC is $GUEST_MAC, default 00:16:3e:00:00:02)
guest_cfg() {
    cat >"/tmp/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "$2"
cmdline = "$3"
memory = ${4:-32}
vcpus = 1
vif = [ "bridge=xenbr0,mac=${GUEST_MAC:-00:16:3e:00:00:02}" ]
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
${5:-}
CFG
}

# first_console_line NAME T0_MS: (in the background) logs when the guest's
# console log first grows, in ms after T0_MS; gives up after 60 s
first_console_line() {
    local f size0 deadline
    f=$(guest_log "$1")
    size0=$(stat -c %s "$f" 2>/dev/null || echo 0)
    deadline=$(($2 + 60000))
    while [ "$(uptime_ms)" -lt "$deadline" ]; do
        if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt "$size0" ]; then
            harness_log "event=first-console-line guest=$1 ms_after_xl_create_start=$(($(uptime_ms) - $2))"
            return 0
        fi
        sleep 0.1
    done
}

# xl_create NAME: create from /tmp/NAME.cfg, logs how long xl took
xl_create() {
    local t0 t1
    t0=$(uptime_ms)
    harness_log "event=xl-create-start guest=$1"
    first_console_line "$1" "$t0" &
    if ! xl create "/tmp/$1.cfg" >"/tmp/$1.xl.log" 2>&1; then
        cat "/tmp/$1.xl.log"
        check_fail "xl create $1"
        return 1
    fi
    t1=$(uptime_ms)
    harness_log "event=xl-create-done guest=$1 xl_create_ms=$((t1 - t0))"
}

guest_log() { echo "$CONSOLE_DIR/guest-$1.log"; }

# wait_console NAME REGEX TIMEOUT_S: wait for a console line; logs the time
wait_console() {
    local name=$1 re=$2 deadline=$(( $(uptime_ms) + $3 * 1000 ))
    while :; do
        if grep -Eq -- "$re" "$(guest_log "$name")" 2>/dev/null; then
            harness_log "event=console-match guest=$name pattern=\"$re\""
            return 0
        fi
        [ "$(uptime_ms)" -lt "$deadline" ] || break
        sleep 0.2
    done
    harness_log "event=console-timeout guest=$name pattern=\"$re\""
    return 1
}

# check_key_fetched NAME TAG TIMEOUT_S: the guest printed exactly the served
# key ($want_key) with ssh-keygen's fingerprint ($want_fp), finished, and
# published the key in XenStore
check_key_fetched() {
    local name=$1 tag=$2 got_key domid
    check "[$tag] ssh-key line printed" wait_console "$name" '^ssh-key: ' "$3"
    got_key=$(sed -n 's/^ssh-key: //p' "$(guest_log "$name")" | head -1)
    harness_log "event=key mode=$tag want=\"$want_key\" got=\"$got_key\""
    check "[$tag] printed key equals the served key" [ "$got_key" = "$want_key" ]
    check "[$tag] fingerprint equals ssh-keygen -lf ($want_fp)" sh -c "grep '^cloudinit: ssh-key type=' '$(guest_log "$name")' | grep -qF 'fingerprint=$want_fp '"
    check "[$tag] cloudinit done" wait_console "$name" '^cloudinit: done elapsed_ms=[0-9]+' 10
    domid=$(xl domid "$name")
    check "[$tag] xenstore data/cloudinit/ssh-key" [ "$(xenstore-read /local/domain/$domid/data/cloudinit/ssh-key)" = "$want_key" ]
}

# domain_state NAME: the state column of `xl list` (e.g. -b----), empty if gone
domain_state() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }'; }

# wait_gone NAME TIMEOUT_S: wait until the domain no longer exists
wait_gone() {
    local deadline=$(( $(uptime_ms) + $2 * 1000 ))
    while [ "$(uptime_ms)" -lt "$deadline" ]; do
        xl domid "$1" >/dev/null 2>&1 || { harness_log "event=domain-gone guest=$1"; return 0; }
        sleep 0.2
    done
    harness_log "event=domain-still-there guest=$1 state=$(domain_state "$1")"
    return 1
}

# cpu_s NAME: the guest's CPU seconds so far (xl list)
cpu_s() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $6 }'; }

# check_waits_idle NAME WHAT: a guest that waits (on XenStore, timers) must
# sleep, not spin: under 0.3 CPU seconds over 3 s
check_waits_idle() {
    local a b
    a=$(cpu_s "$1")
    sleep 3
    b=$(cpu_s "$1")
    harness_log "event=waiting-cpu guest=$1 cpu_s_before=$a cpu_s_after=$b"
    check "$2 uses no CPU over 3 s ($a -> $b)" awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b - a < 0.3) }'
}

# domain_diag NAME: what Xen knows about a guest that stopped talking: its
# state and CPU seconds twice (blocked or spinning?), where its vCPU is, and
# Xen's own dump of the domain's vCPUs, event channels and timers
domain_diag() {
    local id x
    id=$(xl domid "$1" 2>/dev/null) || { harness_log "event=diag guest=$1 gone=1"; return 0; }
    harness_log "event=diag guest=$1 domid=$id state=$(domain_state "$1") cpu_s=$(cpu_s "$1")"
    sleep 2
    harness_log "event=diag guest=$1 domid=$id state=$(domain_state "$1") cpu_s=$(cpu_s "$1")"
    xl vcpu-list "$1" 2>&1 | sed "s/^/[diag $1] /"
    for x in /usr/lib/xen-*/bin/xenctx; do
        [ -x "$x" ] || continue
        # a few samples, with the stack: where a spinning guest spends its time
        for n in 1 2 3 4 5; do
            "$x" -S "$id" 0 2>&1 | head -60 | sed "s/^/[diag $1 xenctx $n] /"
            sleep 0.3
        done
    done
    xl dmesg -c >/dev/null 2>&1
    for k in q e a; do xl debug-keys "$k" 2>/dev/null; done
    xl dmesg 2>&1 | tail -n 400 | sed "s/^/[diag $1 xen] /"
}

# check_gnttab_selftest NAME TAG: a guest booted with selftest=gnttab grants
# dom0 a page; dom0 maps it (gntmap.py) while the guest, asleep on a watch,
# must fail to end access, then succeed once dom0 unmaps. A guest that stops
# answering gets domain_diag. TAG prefixes the check names.
check_gnttab_selftest() {
    local n=$1 t=$2
    check "${t}guest granted a page" wait_console "$n" '^gnttab: selftest granted ref=[0-9]+ ' 30
    check_waits_idle "$n" "${t}guest waiting on a XenStore watch"
    python3 /payload/gntmap.py "$(xl domid "$n")" >/tmp/gntmap.log 2>&1
    cat /tmp/gntmap.log
    check "${t}dom0 mapped the grant and read what the guest wrote" grep -q '^gntmap: mapped .* match=1' /tmp/gntmap.log
    check "${t}end of access refused while dom0 maps it" wait_console "$n" '^gnttab: selftest end_access=in-use' 20 &&
        check "${t}end of access succeeds after unmap" wait_console "$n" '^gnttab: selftest end_access=ok after unmap' 20 ||
        domain_diag "$n"
}

# dump_console NAME: print a guest's console so far, each line tagged [NAME]
# (the full logs are printed and split out at the end anyway)
dump_console() { sed "s/^/[$1] /" "$(guest_log "$1")" 2>/dev/null || echo "[$1] (no console log)"; }

# harness_watchdog SECONDS: (in the background) if the scenario has not
# finished by SECONDS of dom0 uptime, fail the run, still printing the consoles
harness_watchdog() {
    local t
    # a reading that fails (a density run once saw `awk: not found` for a
    # moment) is no reading, not the deadline
    while t=$(uptime_ms); [ -z "$t" ] || [ "$t" -lt $(($1 * 1000)) ]; do sleep 1; done
    harness_log "check=fail name=\"scenario finished within ${1}s of dom0 uptime\""
    HARNESS_FAILS=1 HARNESS_FIRST_FAIL="deadline: scenario still running after ${1}s"
    xl list
    harness_finish
}

# harness_reaper: (in the background) end the small tools (awk, sed, sleep,
# grep, wc, ...) that have used more than 30 s of CPU: under guest churn
# this nested-TCG dom0 has left them looping inside glibc's memset for
# minutes, holding the whole scenario (README, "dom0 under guest churn").
# None of them runs that long here otherwise. Each end is a HARNESS line.
harness_reaper() {
    local pid comm t
    # (not `while sleep 15`: a reaped sleep of its own must not end it)
    while :; do
        sleep 15
        ps -eo pid=,comm=,times= 2>/dev/null | while read -r pid comm t; do
            case "$comm" in awk | mawk | gawk | sed | grep | wc | cut | tr | head | tail | sort | cat | sleep) ;; *) continue ;; esac
            [ "${t:-0}" -gt 30 ] 2>/dev/null || continue
            kill -9 "$pid" 2>/dev/null && harness_log "event=reaped pid=$pid comm=$comm cpu_s=$t"
        done
    done
}

# Print every guest console and the result, then power off.
harness_finish() {
    # one finisher only: the scenario and the watchdog may race
    mkdir /run/harness-finish 2>/dev/null || { sleep 600; return; }
    for f in "$CONSOLE_DIR"/guest-*.log; do
        [ -e "$f" ] || continue
        echo "HARNESS: begin-file name=$(basename "$f")"
        cat "$f"
        echo "HARNESS: end-file name=$(basename "$f")"
    done
    if [ "$HARNESS_FAILS" -eq 0 ]; then
        harness_log "result=pass"
    else
        harness_log "result=fail failures=$HARNESS_FAILS reason=\"first: $HARNESS_FIRST_FAIL\""
    fi
    sync
    busybox poweroff -f
}

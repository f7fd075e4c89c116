# Scenario (issue 8): the appliance beside the anchor a user would otherwise
# pick, a Linux PVH guest (Debian's cloud kernel, busybox initramfs:
# harness/build-linux-guest.sh, shipped in the payload as linux-guest/), in
# one dom0 on one Xen, runs alternating. Each measurement is one
# `HARNESS: ... event=bench kind=...` line; the host (harness/bench_report.py)
# turns them into build/bench/report.md and raw files. Both guests run with
# `hap = 0` and `tsc_mode = "native"` (nested TCG: Linux sees a wrong CR2
# under HAP and RDTSCP is mis-emulated) and against the same metadata service.
# Knobs (--env): BENCH_RUNS (5), BENCH_IMDS_MODE (v2), BENCH_MEM_APP (32),
# BENCH_MEM_LINUX (128), BENCH_BISECT (1), BENCH_IDLE_S (30), BENCH_PINGS
# (1000), BENCH_XFER_MB (16), BENCH_KINDS ("app linux"), BENCH_APP_CMDLINE.
# A /payload/baseline.elf (run.sh: BENCH_BASELINE_ELF) joins the boot runs
# as guest "base": an earlier appliance, for before/after in one session.
A=/payload/guest.elf
L=/payload/linux-guest
B=/payload/baseline.elf
RUNS=${BENCH_RUNS:-5}
MODE=${BENCH_IMDS_MODE:-v2}
MEM_APP=${BENCH_MEM_APP:-32}
MEM_LINUX=${BENCH_MEM_LINUX:-128}
KINDS=${BENCH_KINDS:-app linux}
BOOT_KINDS=$KINDS
[ ! -s "$B" ] || BOOT_KINDS="base $KINDS"
XFER=$((${BENCH_XFER_MB:-16} * 1048576))
NESTED='hap = 0
tsc_mode = "native"'

bench() { harness_log "event=bench $*"; }

# cfg KIND NAME MEM [EXTRA-CMDLINE]: xl config for the appliance or the Linux
# guest. Every domain gets a MAC of its own: a cloud instance boots once, so
# DHCP always sees a new client (dnsmasq then checks that the address is
# free, 3 ARP requests 1 s apart, before it offers it), never a known lease.
MACS=0
cfg() {
    MACS=$((MACS + 1))
    mac=00:16:3e:b0:$(printf '%02x:%02x' $((MACS / 256)) $((MACS % 256)))
    case $1 in
        app) GUEST_MAC=$mac guest_cfg "$2" "$A" "${BENCH_APP_CMDLINE:-} ${4:-}" "$3" "$NESTED" ;;
        base) GUEST_MAC=$mac guest_cfg "$2" "$B" "${BENCH_APP_CMDLINE:-} ${4:-}" "$3" "$NESTED" ;;
        linux) GUEST_MAC=$mac guest_cfg "$2" "$L/vmlinux.gz" "console=hvc0 quiet" "$3" "ramdisk = \"$L/initrd.gz\"
$NESTED" ;;
    esac
}

# to_key KIND NAME MEM TIMEOUT_S [EXTRA-CMDLINE]: xl create, wait for the
# ssh-key: line. Sets XL_MS (xl create's own time), FIRST_MS (first console
# output), KEY_MS (the ssh-key: line), all from the start of xl create, and
# WHY (ok, xl-create-failed, gone, timeout). Polls the console every 0.1 s.
to_key() {
    local log t0 now n=0
    cfg "$1" "$2" "$3" "${5:-}"
    log=$(guest_log "$2")
    rm -f "$log"
    XL_MS=- FIRST_MS=- KEY_MS=- WHY=ok
    t0=$(uptime_ms)
    harness_log "event=bench-start guest=$2 mac=$mac"
    if ! xl create "/tmp/$2.cfg" >"/tmp/$2.xl.log" 2>&1; then
        WHY=xl-create-failed
        sed "s/^/[xl $2] /" "/tmp/$2.xl.log"
        return 1
    fi
    XL_MS=$(($(uptime_ms) - t0))
    while :; do
        now=$(uptime_ms)
        [ "$FIRST_MS" != - ] || [ ! -s "$log" ] || FIRST_MS=$((now - t0))
        if grep -q '^ssh-key: ' "$log" 2>/dev/null; then
            KEY_MS=$((now - t0))
            return 0
        fi
        n=$((n + 1))
        if [ $((n % 10)) -eq 0 ] && ! xl domid "$2" >/dev/null 2>&1; then
            WHY=gone
            return 1
        fi
        [ $((now - t0)) -lt $(($4 * 1000)) ] || { WHY=timeout; return 1; }
        sleep 0.1
    done
}

# guest_ms KIND NAME: the guest's own view of boot-to-key (appliance: ms from
# its first pvclock reading; Linux: uptime, i.e. from its kernel's start)
guest_ms() {
    case $1 in
        app | base) sed -n 's/^cloudinit: done elapsed_ms=\([0-9]*\).*/\1/p' "$(guest_log "$2")" | head -1 ;;
        linux) sed -n 's/^linux-guest: done uptime=\([0-9.]*\).*/\1/p' "$(guest_log "$2")" | awk '{ printf "%d", $1 * 1000 }' ;;
    esac
}

gone() {
    xl destroy "$1" 2>/dev/null
    wait_gone "$1" 20 >/dev/null
}

# bisect KIND LO HI TIMEOUT_S: smallest memory (MiB) in (LO, HI] at which the
# guest still gets the key; HI is known to work, LO is taken to fail
bisect() {
    local kind=$1 lo=$2 hi=$3 mid ok
    while [ $((hi - lo)) -gt 1 ]; do
        mid=$(((lo + hi) / 2))
        if to_key "$kind" "${kind}-m$mid" "$mid" "$4"; then ok=1 hi=$mid; else ok=0 lo=$mid; fi
        bench "kind=memory guest=$kind memory_mib=$mid ok=$ok why=$WHY xl_create_ms=$XL_MS key_ms=$KEY_MS"
        gone "${kind}-m$mid"
    done
    bench "kind=min_memory guest=$kind memory_mib=$hi"
}

mem_of() { if [ "$1" = linux ]; then echo "$MEM_LINUX"; else echo "$MEM_APP"; fi; }
tmo_of() { if [ "$1" = linux ]; then echo 120; else echo 60; fi; }

# ---- setup: the same DHCP server and metadata service for both ----
[ -s "$L/vmlinux.gz" ] || check_fail "the Linux guest is in the payload ($L; run.sh bench puts it there)"
dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.20,10.0.0.250,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-dhcp --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0
ssh-keygen -q -t ed25519 -N '' -C "bench@dom0" -f /tmp/key
want_key=$(cat /tmp/key.pub)
python3 /payload/imds.py "$MODE" /tmp/key.pub >/tmp/imds.log 2>&1 &
imds_pid=$!
# every DHCP message on the bridge with dom0's clock, to see where DHCP time goes
python3 /payload/dhcpwatch.py xenbr0 >/tmp/dhcpwatch.log 2>&1 &
watch_pid=$!
sleep 1
bench "kind=setup imds_mode=$MODE runs=$RUNS mem_app=$MEM_APP mem_linux=$MEM_LINUX xfer_bytes=$XFER kinds=\"$BOOT_KINDS\""

# ---- boot to key, alternating ----
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    for kind in $BOOT_KINDS; do
        name=$kind-$i
        if to_key "$kind" "$name" "$(mem_of $kind)" "$(tmo_of $kind)"; then ok=1; else ok=0; fi
        bench "kind=boot guest=$kind run=$i ok=$ok why=$WHY xl_create_ms=$XL_MS first_output_ms=$FIRST_MS key_ms=$KEY_MS guest_ms=$(guest_ms $kind $name)"
        if [ $i -eq 1 ]; then
            got=$(tr -d '\r' <"$(guest_log "$name")" | sed -n 's/^ssh-key: //p' | head -1)
            check "[$kind] boots to the served key" [ "$got" = "$want_key" ]
        fi
        gone "$name"
    done
done

# ---- smallest memory that still gets the key ----
if [ "${BENCH_BISECT:-1}" = 1 ]; then
    for kind in $KINDS; do
        if [ $kind = app ]; then bisect app 2 "$MEM_APP" 60; else bisect linux 32 "$MEM_LINUX" 120; fi
    done
fi

# ---- idle CPU, ping, TCP both ways: one guest of each kind, up after its key ----
for kind in $KINDS; do
    name=$kind-svc
    if ! to_key "$kind" "$name" "$(mem_of $kind)" "$(tmo_of $kind)" bench=on; then
        check_fail "[$kind] service guest got its key ($WHY)"
        gone "$name"
        continue
    fi
    log=$(guest_log "$name")
    ip=$(tr -d '\r' <"$log" | sed -n 's/^dhcp: lease ip=\([0-9.]*\).*/\1/p' | head -1)
    sleep 2
    cpu0=$(cpu_s "$name")
    sleep "${BENCH_IDLE_S:-30}"
    cpu1=$(cpu_s "$name")
    bench "kind=idle guest=$kind seconds=${BENCH_IDLE_S:-30} cpu_s_before=$cpu0 cpu_s_after=$cpu1 state=$(domain_state "$name")"
    bench "kind=ping guest=$kind ip=$ip $(timeout 300 python3 /payload/benchnet.py ping "$ip" "${BENCH_PINGS:-1000}" 0.01 2>&1 | tail -1)"
    for dir in to_guest from_guest; do
        if [ $dir = to_guest ]; then op=sink port=5001; else op=source port=5002; fi
        before=$(grep -c "^bench: closed port=$port " "$log")
        out=$(timeout 300 python3 /payload/benchnet.py $op "$ip" $port "$XFER" 2>&1 | tail -1)
        bench "kind=tcp guest=$kind dir=$dir $out"
        if [ $kind = app ]; then
            # the appliance's own account of the connection, once it has closed
            t=0
            while [ "$(grep -c "^bench: closed port=$port " "$log")" -le "$before" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
            bench "kind=cost guest=$kind dir=$dir $(grep "^bench: closed port=$port " "$log" | tail -1 | sed 's/^bench: closed //')"
        fi
    done
    gone "$name"
done
kill $imds_pid $watch_pid 2>/dev/null
sed 's/^/[dhcp] /' /tmp/dhcpwatch.log
bench "kind=dnsmasq discovers=$(grep -c DHCPDISCOVER /tmp/dnsmasq.log) offers=$(grep -c DHCPOFFER /tmp/dnsmasq.log)"
true

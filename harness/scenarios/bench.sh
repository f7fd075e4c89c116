# Scenario (issues 8, 19, 15): the appliance beside the anchor a user would
# otherwise pick, a Linux PVH guest (Debian's cloud kernel, busybox initramfs
# with dropbear: harness/build-linux-guest.sh, shipped in the payload as
# linux-guest/), in one dom0 on one Xen, runs alternating. Each measurement
# is one `HARNESS: ... event=bench kind=...` line; the host
# (harness/bench_report.py) turns them into build/bench/report.md and raw
# files. Guest configs, DHCP modes and the SSH probe: bench-lib.sh.
# Knobs (--env): BENCH_RUNS (5), BENCH_IMDS_MODE (v2), BENCH_MEM_APP (32),
# BENCH_MEM_LINUX (128), BENCH_BISECT (1), BENCH_IDLE_S (30), BENCH_PINGS
# (1000), BENCH_XFER_MB (16), BENCH_KINDS ("app linux"), BENCH_APP_CMDLINE,
# BENCH_DHCP_MODES ("cloud+lean cloud check": a DHCP mode, +lean for the
# vif-lean hotplug script, else Debian's vif-bridge), BENCH_MTUS ("1500
# 9000"), BENCH_HOTPLUG (vif-lean: the script for every other guest).
# A /payload/baseline.elf (run.sh: BENCH_BASELINE_ELF) joins the boot and
# service runs as guest "base": an earlier appliance, for before/after in
# one session.
. /payload/bench-lib.sh
RUNS=${BENCH_RUNS:-5}
MEM_APP=${BENCH_MEM_APP:-32}
MEM_LINUX=${BENCH_MEM_LINUX:-128}
KINDS=${BENCH_KINDS:-app linux}
BOOT_KINDS=$KINDS
[ ! -s "$B" ] || BOOT_KINDS="base $KINDS"
DHCP_MODES=${BENCH_DHCP_MODES:-cloud+lean cloud check}
MTUS=${BENCH_MTUS:-1500 9000}
XFER=$((${BENCH_XFER_MB:-16} * 1048576))

mem_of() { if [ "$1" = linux ]; then echo "$MEM_LINUX"; else echo "$MEM_APP"; fi; }

# ---- setup: the same DHCP server and metadata service for both ----
[ -s "$L/vmlinux.gz" ] || check_fail "the Linux guest is in the payload ($L; run.sh bench puts it there)"
bench_setup
# every DHCP message on the vifs and the bridge with dom0's clock, to see
# where boot time goes (during the boot runs only: it sees every frame)
python3 /payload/dhcpwatch.py any >/tmp/dhcpwatch.log 2>&1 &
WATCH_PID=$!
bench "kind=setup imds_mode=${BENCH_IMDS_MODE:-v2} hotplug=$HOTPLUG runs=$RUNS mem_app=$MEM_APP mem_linux=$MEM_LINUX xfer_bytes=$XFER kinds=\"$BOOT_KINDS\" dhcp_modes=\"$DHCP_MODES\" mtus=\"$MTUS\""

# ---- boot to key and to SSH, per mode (DHCP, hotplug script), alternating ----
ALL_HOTPLUG=$HOTPLUG
for mode in $DHCP_MODES; do
    dhcp=${mode%+lean}
    if [ "$dhcp" = "$mode" ]; then HOTPLUG=vif-bridge; else HOTPLUG=vif-lean; fi
    dhcp_server "$dhcp"
    i=0
    while [ $i -lt "$RUNS" ]; do
        i=$((i + 1))
        for kind in $BOOT_KINDS; do
            name=$kind-${mode%+lean}$([ "$HOTPLUG" = vif-bridge ] || echo l)-$i
            SSH_MS=- SSH_TRIES=0
            if to_key "$kind" "$name" "$(mem_of $kind)" "$(tmo_of $kind)"; then
                ok=1
                to_ssh "$name" 60 || check_fail "[$kind] SSH-ready after the key ($dhcp run $i: $SSH_WHY)"
            else
                ok=0
            fi
            bench "kind=boot guest=$kind dhcp=$dhcp hotplug=$HOTPLUG run=$i ok=$ok why=$WHY xl_create_ms=$XL_MS first_output_ms=$FIRST_MS key_ms=$KEY_MS ssh_ms=$SSH_MS ssh_tries=$SSH_TRIES ssh_session_ms=$(ssh_session_ms "$name") guest_ms=$(guest_ms $kind $name) phases=\"$(phases "$name")\""
            if [ $i -eq 1 ]; then
                got=$(tr -d '\r' <"$(guest_log "$name")" | sed -n 's/^ssh-key: //p' | head -1)
                check "[$kind] boots to the served key ($dhcp DHCP, $HOTPLUG)" [ "$got" = "$want_key" ]
                check "[$kind] answers ssh status with it ($dhcp DHCP, $HOTPLUG)" [ "$SSH_MS" != - ]
            fi
            gone "$name"
        done
    done
done
kill $WATCH_PID 2>/dev/null
HOTPLUG=$ALL_HOTPLUG
dhcp_server cloud

# ---- smallest memory that still gets the key and serves SSH ----
if [ "${BENCH_BISECT:-1}" = 1 ]; then
    for kind in $KINDS; do
        if [ $kind = app ]; then bisect app 2 "$MEM_APP"; else bisect linux 32 "$MEM_LINUX"; fi
    done
fi

# ---- per MTU, one guest of each kind up after its key: idle CPU and ping
# (at 1500), TCP both ways; the bridge, the vif and DHCP's option 26 at the MTU
for mtu in $MTUS; do
    ip link set xenbr0 mtu "$mtu"
    dhcp_server cloud "$mtu"
    VIF_MTU=$mtu
    [ "$mtu" != 1500 ] || VIF_MTU=
    for kind in $BOOT_KINDS; do
        name=$kind-svc$mtu
        if ! to_key "$kind" "$name" "$(mem_of $kind)" "$(tmo_of $kind)" bench=on; then
            check_fail "[$kind] service guest (MTU $mtu) got its key ($WHY)"
            gone "$name"
            continue
        fi
        log=$(guest_log "$name")
        ip=$(lease_ip "$name")
        vif=vif$(xl domid "$name").0
        ip link set "$vif" mtu "$mtu" 2>/dev/null
        lease_mtu=$(tr -d '\r' <"$log" | sed -n 's/^dhcp: lease .* mtu=\([0-9]*\).*/\1/p' | head -1)
        nf_mtu=$(tr -d '\r' <"$log" | sed -n 's/^netfront: connected .* mtu=\([0-9]*\).*/\1/p' | head -1)
        bench "kind=mtu guest=$kind mtu=$mtu vif_mtu=$(cat /sys/class/net/$vif/mtu 2>/dev/null) lease_mtu=${lease_mtu:--} netfront_mtu=${nf_mtu:--}"
        sleep 2
        if [ "$mtu" = 1500 ]; then
            cpu0=$(cpu_s "$name")
            sleep "${BENCH_IDLE_S:-30}"
            cpu1=$(cpu_s "$name")
            bench "kind=idle guest=$kind seconds=${BENCH_IDLE_S:-30} cpu_s_before=$cpu0 cpu_s_after=$cpu1 state=$(domain_state "$name")"
            bench "kind=ping guest=$kind ip=$ip $(timeout 300 python3 /payload/benchnet.py ping "$ip" "${BENCH_PINGS:-1000}" 0.01 2>&1 | tail -1)"
        fi
        for dir in to_guest from_guest; do
            if [ $dir = to_guest ]; then op=sink port=5001; else op=source port=5002; fi
            before=$(grep -c "^bench: closed port=$port " "$log")
            out=$(timeout 300 python3 /payload/benchnet.py $op "$ip" $port "$XFER" 2>&1 | tail -1)
            bench "kind=tcp guest=$kind mtu=$mtu dir=$dir $out"
            if [ $kind != linux ]; then
                # the appliance's own account of the connection, once it has closed
                t=0
                while [ "$(grep -c "^bench: closed port=$port " "$log")" -le "$before" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
                bench "kind=cost guest=$kind mtu=$mtu dir=$dir $(grep "^bench: closed port=$port " "$log" | tail -1 | sed 's/^bench: closed //')"
            fi
        done
        gone "$name"
    done
done
VIF_MTU=
ip link set xenbr0 mtu 1500
kill $IMDS_PID 2>/dev/null
sed 's/^/[dhcp] /' /tmp/dhcpwatch.log
bench "kind=dnsmasq discovers=$(grep -c DHCPDISCOVER /tmp/dnsmasq.log) offers=$(grep -c DHCPOFFER /tmp/dnsmasq.log)"
true

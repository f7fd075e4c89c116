# What the bench scenarios (bench.sh, density.sh) share: sourced by them in
# dom0 after lib.sh; run.sh ships it as /payload/bench-lib.sh. Guest kinds:
# app (the appliance, /payload/guest.elf), base (an earlier appliance,
# /payload/baseline.elf) and linux (the Linux PVH anchor, /payload/linux-guest).
# Both guests run with `hap = 0` and `tsc_mode = "native"` (nested TCG: Linux
# sees a wrong CR2 under HAP and RDTSCP is mis-emulated), against the same
# DHCP server and metadata service, and serve SSH with the served key for
# user admin (the appliance itself; Linux with dropbear).
A=/payload/guest.elf
L=/payload/linux-guest
B=/payload/baseline.elf
NESTED='hap = 0
tsc_mode = "native"'
# every domain is new (new MAC, new host key): no known_hosts
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR"
# the DHCP server's pool and router (density.sh widens them)
DHCP_RANGE=${DHCP_RANGE:-10.0.0.20,10.0.0.250,12h}
DHCP_ROUTER=${DHCP_ROUTER:-10.0.0.1}

bench() { harness_log "event=bench $*"; }

# The vif hotplug script: harness/dom0/vif-lean (what Debian's vif-bridge
# does for a bridged vif in one `ip` call: `xl create` waits for it, ~2 s
# of vif-bridge under TCG) unless BENCH_HOTPLUG=vif-bridge; the boot runs
# measure both (bench.sh's modes).
LEAN=/payload/vif-lean
HOTPLUG=${BENCH_HOTPLUG:-vif-lean}

# cfg KIND NAME MEM [EXTRA-CMDLINE]: xl config for a guest of KIND (Linux's
# kernel: LINUX_KERNEL, default the gzip'd ELF in the payload); VIF_MTU
# (if set) goes on the vif as mtu=, and HOTPLUG (vif-lean or vif-bridge)
# says whose script brings it up. Every domain gets a MAC of its own: a
# cloud instance boots once, so DHCP always sees a new client, never a
# known lease (with its address check, dnsmasq then pings the address first).
MACS=0
cfg() {
    MACS=$((MACS + 1))
    mac=00:16:3e:b0:$(printf '%02x:%02x' $((MACS / 256 % 256)) $((MACS % 256)))
    case $1 in
        app) GUEST_MAC=$mac guest_cfg "$2" "$A" "${BENCH_APP_CMDLINE:-} ${4:-}" "$3" "$NESTED" ;;
        base) GUEST_MAC=$mac guest_cfg "$2" "$B" "${BENCH_APP_CMDLINE:-} ${4:-}" "$3" "$NESTED" ;;
        linux) GUEST_MAC=$mac guest_cfg "$2" "${LINUX_KERNEL:-$L/vmlinux.gz}" "console=hvc0 quiet" "$3" "ramdisk = \"$L/initrd.gz\"
$NESTED" ;;
    esac
    local vif="bridge=xenbr0,mac=$mac${VIF_MTU:+,mtu=$VIF_MTU}"
    [ "$HOTPLUG" = vif-bridge ] || vif="$vif,script=$LEAN"
    sed -i "s|^vif = .*|vif = [ \"$vif\" ]|" "/tmp/$2.cfg"
}

# dhcp_server MODE [MTU]: (re)start dnsmasq on the bridge. MODE cloud: it
# offers at once (--no-ping), as a cloud's DHCP server does (it knows which
# addresses are free); check: dnsmasq's default, 3 ARP pings 1 s apart before
# each offer. An MTU other than 1500 is sent as option 26 (EC2 sends 9001).
dhcp_server() {
    local pid extra=""
    if [ -s /tmp/dnsmasq.pid ]; then
        pid=$(cat /tmp/dnsmasq.pid)
        kill "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    [ "$1" != cloud ] || extra=--no-ping
    [ -z "${2:-}" ] || [ "$2" = 1500 ] || extra="$extra --dhcp-option-force=26,$2"
    # shellcheck disable=SC2086
    dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range="$DHCP_RANGE" \
        --dhcp-option=3,"$DHCP_ROUTER" --dhcp-leasefile=/tmp/dnsmasq.leases --log-dhcp \
        --log-facility=/tmp/dnsmasq.log --pid-file=/tmp/dnsmasq.pid $extra
}

# bench_setup: the key and the metadata service (BENCH_IMDS_MODE, default
# v2) that every guest shares; IMDS_PID for the end
bench_setup() {
    ip addr add 169.254.169.254/32 dev xenbr0
    ssh-keygen -q -t ed25519 -N '' -C "bench@dom0" -f /tmp/key
    want_key=$(cat /tmp/key.pub)
    python3 /payload/imds.py "${BENCH_IMDS_MODE:-v2}" /tmp/key.pub >/tmp/imds.log 2>&1 &
    IMDS_PID=$!
    # python under TCG: wait until it listens (the first guest got RSTs after a fixed 1 s)
    n=0
    while ! ss -Hltn 'sport = :80' | grep -q . && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    # and one request of dom0's own first: python's first answer under TCG
    # takes ~0.6 s (lazy imports); a cloud's metadata service answers at once
    wget -q -O /dev/null http://169.254.169.254/latest/meta-data/instance-id 2>/dev/null || true
}

# to_key KIND NAME MEM TIMEOUT_S [EXTRA-CMDLINE]: xl create, wait for the
# ssh-key: line. Sets T0 (dom0 ms at the start of xl create), XL_MS (xl
# create's own time: it returns once the domain is unpaused, so this is the
# domain's start), FIRST_MS (first console output), KEY_MS (the ssh-key:
# line), all from T0, and WHY (ok, xl-create-failed, gone, timeout). The
# console is read every 10 ms by keywatch.py (started, and running, before
# xl create), which says what it saw through a FIFO; the loop here forks
# nothing but one `xl domid` a second.
to_key() {
    local log n=0 f=/tmp/$2.keywatch kw l
    cfg "$1" "$2" "$3" "${5:-}"
    log=$(guest_log "$2")
    rm -f "$log" "$f"
    mkfifo "$f"
    XL_MS=- FIRST_MS=- KEY_MS=- WHY=timeout
    python3 /payload/keywatch.py "$log" "$f" "$4" &
    kw=$!
    exec 9<"$f"
    read -r l <&9
    T0=$(uptime_ms)
    harness_log "event=bench-start guest=$2 mac=$mac"
    if ! xl create "/tmp/$2.cfg" >"/tmp/$2.xl.log" 2>&1; then
        WHY=xl-create-failed
        kill $kw 2>/dev/null
        exec 9<&-
        sed "s/^/[xl $2] /" "/tmp/$2.xl.log"
        return 1
    fi
    XL_MS=$(($(uptime_ms) - T0))
    # until the key, the timeout (keywatch exits: end of file) or the domain goes
    while read -r l <&9; do
        case $l in
            first=*) FIRST_MS=$((${l#first=} - T0)) ;;
            key=*) KEY_MS=$((${l#key=} - T0)) WHY=ok; break ;;
            tick)
                n=$((n + 1))
                if [ $((n % 2)) -eq 0 ] && ! xl domid "$2" >/dev/null 2>&1; then
                    WHY=gone
                    kill $kw 2>/dev/null
                    break
                fi ;;
        esac
    done
    exec 9<&-
    rm -f "$f"
    [ "$WHY" = ok ]
}

# lease_ip NAME: the address in the guest's `dhcp: lease ip=` line
lease_ip() { tr -d '\r' <"$(guest_log "$1")" | sed -n 's/^dhcp: lease ip=\([0-9.]*\).*/\1/p' | head -1; }

# ssh_status IP: one `ssh admin@IP status` with the served key; true when
# it answers with the guest's address (both guests' status starts so)
ssh_status() { timeout 20 ssh $SSH_OPTS -i /tmp/key "admin@$1" status 2>/dev/null | grep -q '^address='; }

# to_ssh NAME TIMEOUT_S: after to_key, `ssh admin@IP status` until one
# succeeds. Sets SSH_MS (when it returned, from T0), SSH_TRIES, SSH_WHY.
to_ssh() {
    local ip
    SSH_MS=- SSH_TRIES=0 SSH_WHY=ok
    ip=$(lease_ip "$1")
    [ -n "$ip" ] || { SSH_WHY=no-lease; return 1; }
    while :; do
        SSH_TRIES=$((SSH_TRIES + 1))
        if ssh_status "$ip"; then
            SSH_MS=$(($(uptime_ms) - T0))
            return 0
        fi
        [ $(($(uptime_ms) - T0)) -lt $(($2 * 1000)) ] || { SSH_WHY=timeout; return 1; }
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

# ssh_session_ms NAME: the appliance's view of the first SSH session, from
# the connection's establishment to its close (its `ssh: closed ... ms=`):
# what of SSH-ready is the guest's, the rest is dom0's ssh client; "-" when
# the guest logs none (the Linux guest's dropbear)
ssh_session_ms() {
    local v
    v=$(tr -d '\r' <"$(guest_log "$1")" | sed -n 's/^ssh: closed .* ms=\([0-9]*\)$/\1/p' | head -1)
    echo "${v:--}"
}

# phases NAME: the guest's `boot: phases` fields (ms by its own clock)
phases() { tr -d '\r' <"$(guest_log "$1")" | sed -n 's/^boot: phases //p' | head -1; }

gone() {
    xl destroy "$1" 2>/dev/null
    wait_gone "$1" 20 >/dev/null
}

# boots_to_ssh KIND NAME MEM: the guest gets the key and answers SSH (for
# the memory bisection); logs a kind=memory record
boots_to_ssh() {
    local ok=0 key=0
    if to_key "$1" "$2" "$3" "$(tmo_of "$1")"; then
        key=1
        ! to_ssh "$2" 60 || ok=1
    fi
    bench "kind=memory guest=$1 memory_mib=$3 ok=$ok key=$key ssh=$ok why=$WHY xl_create_ms=$XL_MS key_ms=$KEY_MS ssh_ms=${SSH_MS:--}"
    gone "$2"
    [ $ok = 1 ]
}

# bisect KIND LO HI: smallest memory (MiB) in (LO, HI] at which the guest
# still gets the key and serves SSH; HI is taken to work, LO to fail
bisect() {
    local kind=$1 lo=$2 hi=$3 mid
    while [ $((hi - lo)) -gt 1 ]; do
        mid=$(((lo + hi) / 2))
        SSH_MS=-
        if boots_to_ssh "$kind" "${kind}-m$mid" "$mid"; then hi=$mid; else lo=$mid; fi
    done
    bench "kind=min_memory guest=$kind memory_mib=$hi"
    MIN_MEM=$hi
}

tmo_of() { if [ "$1" = linux ]; then echo 120; else echo 60; fi; }

# Scenario (issue 19): density, the way a fleet comes up. N appliances are
# created back to back (one `xl create` after the other, none waited for),
# at the smallest memory that gets the key and serves SSH, for each N in
# DENSITY_NS ("max": until `xl create` fails, DENSITY_MAX or the creation
# budget, dom0's memory); then as many Linux guests as fit at theirs. Per fleet: the time
# from the first `xl create` to each guest's key and to its first `ssh ...
# status` that succeeds, what dom0 and Xen have left, and every guest that
# faulted (`trap:` on its console, `Triple fault` in `xl dmesg`) with its
# console. Cloud-like DHCP (no address check) on a /16, so that hundreds of
# guests get an address. Every vif comes up through harness/dom0/vif-lean
# (BENCH_HOTPLUG=vif-bridge for Debian's: with it, a fleet stopped at 36 when
# a vif-bridge ran past libxl's hotplug timeout). Records: `event=bench kind=density-*`
# (harness/bench_report.py). Guest configs, DHCP, the probes: bench-lib.sh.
# Destroying a fleet of 16 appliances (8 `xl destroy` at a time) twice left
# this harness's dom0 idle and waiting for ever (nothing on its console, no
# Xen message); the session's last fleet is never destroyed, so one fleet
# per session (`DENSITY_NS=64`, `DENSITY_KINDS=linux`) needs no destroy.
# Knobs (--env): DENSITY_NS ("16 32 64 max"), DENSITY_MEM_APP and
# DENSITY_MEM_LINUX (bisected when unset), DENSITY_MAX (1000),
# DENSITY_LINUX_MAX (64), DENSITY_CREATE_S (1800: one fleet's creation
# budget), DENSITY_WAIT_S (240: after the last create, for keys and SSH),
# DENSITY_KINDS ("app linux"), DENSITY_DOM0_RESERVE_MIB (64: creation stops
# when dom0 has less available).
DHCP_RANGE=10.1.0.10,10.1.255.250,255.255.0.0,12h
DHCP_ROUTER=10.1.0.1
. /payload/bench-lib.sh
NS=${DENSITY_NS:-16 32 64 max}
MAXN=${DENSITY_MAX:-1000}
LINUX_MAXN=${DENSITY_LINUX_MAX:-64}
CREATE_S=${DENSITY_CREATE_S:-1800}
WAIT_S=${DENSITY_WAIT_S:-240}
DOM0_RESERVE=${DENSITY_DOM0_RESERVE_MIB:-64}
DKINDS=${DENSITY_KINDS:-app linux}
F=/tmp/fleet

ip addr add 10.1.0.1/16 dev xenbr0
# hundreds of neighbours on the bridge: room in dom0's ARP table
sysctl -qw net.ipv4.neigh.default.gc_thresh1=4096 net.ipv4.neigh.default.gc_thresh2=8192 \
    net.ipv4.neigh.default.gc_thresh3=16384
bench_setup
dhcp_server cloud
# the Linux fleet's kernel unpacked once: libxenguest otherwise gunzips 53 MB
# in dom0 on every create (and a second Linux create failed there before:
# `xc_dom_do_gunzip: inflate failed (rc=-3)`, or xl segfaulted)
case " $DKINDS " in *" linux "*)
    gunzip -c "$L/vmlinux.gz" >/tmp/vmlinux && LINUX_KERNEL=/tmp/vmlinux ;;
esac

# rss_of PROG: "KIB COUNT", the resident memory of PROG's processes
rss_of() { ps -o rss= -C "$1" 2>/dev/null | awk '{ s += $1; n++ } END { printf "%d %d", s, n }'; }

# meminfo_kib FIELD: sets KIB to dom0's /proc/meminfo FIELD (empty if
# unread), in the shell itself: an `awk` a guest in the create loop was one
# more process for this dom0 to run wrong (one looped until the reaper
# killed it, and its empty answer read as dom0 out of memory at 34 of 64)
meminfo_kib() {
    local k v rest
    KIB=
    while read -r k v rest; do
        [ "$k" != "$1:" ] || { KIB=$v; return 0; }
    done </proc/meminfo
}

# host_mem PHASE FLEET: what Xen and dom0 have left, and what dom0's own
# per-guest processes (xenstored, xenconsoled, one xl per domain) hold
host_mem() {
    local avail
    set -- "$1" "$2" "$(rss_of xenstored)" "$(rss_of oxenstored)" "$(rss_of xenconsoled)" "$(rss_of xl)"
    meminfo_kib MemAvailable
    avail=$KIB
    meminfo_kib MemFree
    bench "kind=density-mem phase=$1 fleet=$2 domains=$(($(xl list | wc -l) - 2))" \
        "xen_free_mib=$(xl info | awk '/^free_memory/ { print $3 }')" \
        "dom0_avail_kib=${avail:--} dom0_free_kib=${KIB:--}" \
        "xenstored_rss_kib=${3% *} oxenstored_rss_kib=${4% *} xenconsoled_rss_kib=${5% *}" \
        "xl_procs=${6#* } xl_rss_kib=${6% *}"
}

# fleet KIND MEM WANT TAG [max]: create up to WANT guests back to back
# ("max": as many as fit), then wait for their keys and SSH; one
# kind=density-guest record per guest and a kind=density-fleet summary; the
# guests are destroyed after
fleet() {
    local kind=$1 mem=$2 want=$3 tag=$4 max=${5:-} t0 k=0 stop=all-created s name why faults=0 keyed sshd
    local retried=0 created_ok
    rm -rf $F
    mkdir -p $F
    : >$F/names
    xl dmesg -c >/dev/null 2>&1
    host_mem before "$tag"
    t0=$(uptime_ms)
    # every guest's key and first SSH, in one process (fleetwatch.py)
    # shellcheck disable=SC2086
    python3 /payload/fleetwatch.py $F "$t0" "$WAIT_S" timeout 20 ssh $SSH_OPTS -i /tmp/key 'admin@{ip}' status &
    watcher=$!
    while [ $k -lt "$want" ]; do
        name=$tag-$((k + 1))
        cfg "$kind" "$name" "$mem"
        rm -f "$(guest_log "$name")"
        s=$(uptime_ms)
        # bounded: this nested-TCG dom0 has had processes hang (see README)
        if ! timeout 300 xl create "/tmp/$name.cfg" >"/tmp/$name.xl.log" 2>&1; then
            # once more after a pause, as an operator would: a create that
            # fails while the one before still settles is no full host
            cat -v "/tmp/$name.xl.log" | tail -20 | sed "s/^/[xl create $name] /"
            xl destroy "$name" >/dev/null 2>&1
            sleep 5
            retried=$((retried + 1))
            timeout 300 xl create "/tmp/$name.cfg" >"/tmp/$name.xl.log" 2>&1 && created_ok=1 || created_ok=0
        else
            created_ok=1
        fi
        if [ "$created_ok" = 0 ]; then
            stop=xl-create-failed
            cat -v "/tmp/$name.xl.log" | tail -20 | sed "s/^/[xl create $name] /"
            # the first errors say why; the rest is libxl cleaning up
            why=$(grep -v '^Parsing config' "/tmp/$name.xl.log" | tr -cd '[:print:]\n' | head -3 | tr '\n"' " '" | head -c 400)
            bench "kind=density-create-failed fleet=$tag guest=$kind n=$((k + 1)) reason=\"$why\""
            xl destroy "$name" >/dev/null 2>&1
            break
        fi
        k=$((k + 1))
        echo "$name $(($(uptime_ms) - s)) $((s - t0))" >>$F/names
        [ $(($(uptime_ms) - t0)) -lt $((CREATE_S * 1000)) ] || { stop=creation-budget; break; }
        # dom0 pays for every guest too (its xl process, the vif, xenstored):
        # stop before its OOM killer picks xenstored
        meminfo_kib MemAvailable
        [ -z "$KIB" ] || [ $((KIB / 1024)) -ge "$DOM0_RESERVE" ] || { stop=dom0-memory; break; }
    done
    [ "$k" -lt "$want" ] || [ -z "$max" ] || stop=cap
    created_ms=$(($(uptime_ms) - t0))
    touch $F/created
    while [ ! -e $F/done ] && kill -0 $watcher 2>/dev/null; do sleep 1; done
    [ -e $F/done ] || bench "kind=density-watcher-died fleet=$tag"
    host_mem after "$tag"
    # The summary first, then one record per guest from one awk over the
    # watcher's files and one `xl list`: forking awk, grep and `xl list` per
    # guest took ~6 s a guest with 233 up, and the session's deadline came
    # before the summary did.
    grep -l '^trap: ' "$CONSOLE_DIR/guest-$tag-"*.log 2>/dev/null | sed 's|.*/guest-||; s|\.log$||' >$F/faulted
    faults=$(wc -l <$F/faulted)
    triple=$(xl dmesg 2>/dev/null | grep -c 'Triple fault')
    [ "$triple" = 0 ] || xl dmesg | grep -B2 -A8 'Triple fault' | sed "s/^/[xl dmesg $tag] /"
    keyed=$(wc -l <$F/keyed)
    sshd=$(wc -l <$F/ssh)
    bench "kind=density-fleet fleet=$tag guest=$kind memory_mib=$mem max=$([ -n "$max" ] && echo 1 || echo 0) want=$want created=$k keyed=$keyed ssh_ready=$sshd stop=$stop create_all_ms=$created_ms create_retries=$retried faults=$faults triple_faults=$triple"
    xl list 2>/dev/null | awk 'NR > 1 { print $1, $5 }' >$F/states
    awk -v kind="$kind" -v tag="$tag" -v mem="$mem" -v t="$(uptime_ms)" -v dir="$CONSOLE_DIR" -v f="$F" '
        FILENAME == ARGV[1] { key[$1] = $2; next }
        FILENAME == ARGV[2] { ssh[$1] = $2 " " $3; next }
        FILENAME == ARGV[3] { fault[$1] = 1; next }
        FILENAME == ARGV[4] { state[$1] = $2; next }
        {
            s = ($1 in ssh) ? ssh[$1] : "- -"; split(s, st, " ")
            printf "HARNESS: t_ms=%s event=bench kind=density-guest fleet=%s guest=%s name=%s memory_mib=%s start_ms=%s create_ms=%s key_ms=%s ssh_ms=%s ssh_tries=%s fault=%d state=%s\n",
                t, tag, kind, $1, mem, $3, $2, ($1 in key) ? key[$1] : "-", st[1], st[2], ($1 in fault), ($1 in state) ? state[$1] : ""
            # faults and guests without a key get their console printed,
            # the first guest keeps it as a sample, the rest are dropped
            if (($1 in fault) || !($1 in key)) print $1 > (f "/dump")
            else if ($1 != tag "-1") print dir "/guest-" $1 ".log" > (f "/drop")
        }' $F/keyed $F/ssh $F/faulted $F/states $F/names
    while read -r name; do dump_console "$name"; done <$F/dump 2>/dev/null
    [ ! -s $F/drop ] || xargs rm -f <$F/drop
    [ "$faults" = 0 ] && [ "$triple" = 0 ] || check_fail "[$tag] $faults guests trapped, $triple triple faults"
    FLEET_CREATED=$k FLEET_KEYED=$keyed FLEET_SSH=$sshd
    # the session's last fleet is not destroyed: the session ends with it
    # (destroying a fleet has hung this harness's dom0: see DENSITY_NS)
    [ "$tag" != "$LAST_FLEET" ] || return 0
    s=$(uptime_ms)
    # eight at a time (each waits on the vif's hotplug script), each bounded:
    # once a batch of unbounded ones left the run waiting for ever, dom0 idle
    # (by pid: a bare wait would wait for the metadata service too)
    n=0 pids="" stuck=0
    while read -r name _; do
        timeout 120 xl destroy "$name" 2>/dev/null &
        pids="$pids $!"
        n=$((n + 1))
        [ $((n % 8)) -ne 0 ] || { wait $pids; pids=""; }
    done <$F/names
    wait $pids
    n=0
    while [ "$(xl list | wc -l)" -gt 2 ] && [ $n -lt 120 ]; do sleep 1; n=$((n + 1)); done
    # whatever is left, one at a time
    for name in $(xl list | awk 'NR > 2 { print $1 }'); do
        stuck=$((stuck + 1))
        timeout 120 xl destroy "$name" 2>/dev/null
    done
    bench "kind=density-destroy fleet=$tag destroyed=$k ms=$(($(uptime_ms) - s)) retried=$stuck left=$(($(xl list | wc -l) - 2))"
}

# ---- the smallest memory each kind gets the key and serves SSH at ----
MEM_APP=${DENSITY_MEM_APP:-}
if [ -z "$MEM_APP" ]; then
    # memory = 4 first, on its own: the question is whether it is enough
    if boots_to_ssh app app-m4 4; then bisect app 2 4; else bisect app 4 8; fi
    MEM_APP=$MIN_MEM
fi
MEM_LINUX=${DENSITY_MEM_LINUX:-}
case " $DKINDS " in *" linux "*)
    if [ -z "$MEM_LINUX" ]; then
        bisect linux 48 128
        MEM_LINUX=$MIN_MEM
    fi ;;
esac
bench "kind=density-setup hotplug=$HOTPLUG xen_total_mib=$(xl info | awk '/^total_memory/ { print $3 }') dom0_total_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) mem_app=$MEM_APP mem_linux=${MEM_LINUX:--} ns=\"$NS\" max=$MAXN linux_max=$LINUX_MAXN create_s=$CREATE_S wait_s=$WAIT_S"

# ---- fleets ----
LAST_FLEET=
case " $DKINDS " in *" app "*) for n in $NS; do LAST_FLEET=app$n; done ;; esac
case " $DKINDS " in *" linux "*) LAST_FLEET=linuxmax ;; esac
case " $DKINDS " in *" app "*)
    for n in $NS; do
        if [ "$n" = max ]; then fleet app "$MEM_APP" "$MAXN" appmax max; else fleet app "$MEM_APP" "$n" "app$n"; fi
        [ "$n" != 64 ] || check "64 appliances all keyed ($FLEET_KEYED of $FLEET_CREATED)" [ "$FLEET_KEYED" = 64 ]
    done ;;
esac
case " $DKINDS " in *" linux "*)
    fleet linux "$MEM_LINUX" "$LINUX_MAXN" linuxmax max ;;
esac
kill $IMDS_PID 2>/dev/null
true

# Scenario (a hunting tool, not in the test run): does dom0 compute right
# while guests come and go? Density sessions froze with dom0's one vCPU at
# 100 % in user space: `wc` and `grep` looping for minutes inside glibc's
# AVX2 memset, an `awk` segfault, libxenguest's gunzip failing on a good
# file. Here appliances are created and destroyed back to back in the
# background (CPUCHECK_GUESTS at a time) while dom0 runs the same pipeline
# over a fixed file again and again (wc, grep, md5sum, gzip | gunzip, sort)
# and compares every answer with the first; a wrong answer, a crash or a
# run past its timeout is counted. Compare harness CPU models with
# HARNESS_CPU (run-xen.sh). Knobs: CPUCHECK_S (300), CPUCHECK_GUESTS (4).
G=/payload/guest.elf
SECS=${CPUCHECK_S:-300}
NG=${CPUCHECK_GUESTS:-4}
dhcp() {
    dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.20,10.0.0.250,12h \
        --dhcp-option=3,10.0.0.1 --no-ping --dhcp-leasefile=/tmp/dnsmasq.leases --pid-file=/tmp/dnsmasq.pid
}
dhcp
# the input: text with long and short lines, 4 MB
awk 'BEGIN { srand(7); for (i = 0; i < 60000; i++) { n = int(rand() * 120); s = ""; for (j = 0; j < n; j++) s = s sprintf("%c", 97 + int(rand() * 26)); print i " " s } }' >/tmp/big
# each step's exit status too: a step that failed (and said why on
# stderr) is not a wrong answer
cat >/tmp/run.sh <<'RUN'
wc -l </tmp/big; echo "rc=$?"
grep -c 'xq' /tmp/big; echo "rc=$?"
md5sum </tmp/big; echo "rc=$?"
gzip -c </tmp/big >/tmp/big.gz; echo "rc=$?"
gunzip -c /tmp/big.gz | md5sum; echo "rc=$?"
sort /tmp/big >/tmp/big.sorted; echo "rc=$?"
md5sum </tmp/big.sorted; echo "rc=$?"
RUN
want=$(sh /tmp/run.sh)
churn() {
    local k=0 name
    while :; do
        k=$((k + 1))
        name=cc$k
        guest_cfg "$name" "$G" "cloudinit=off" 8 'hap = 0'
        sed -i "s|^vif = .*|vif = [ \"bridge=xenbr0,mac=00:16:3e:c0:$(printf '%02x:%02x' $((k / 256 % 256)) $((k % 256)))\" ]|" "/tmp/$name.cfg"
        xl create "/tmp/$name.cfg" >/dev/null 2>&1
        # keep NG alive: destroy the oldest
        [ $k -le "$NG" ] || xl destroy "cc$((k - NG))" >/dev/null 2>&1
        sleep 1
    done
}
CHURN=
[ "$NG" = 0 ] || { churn & CHURN=$!; }
end=$(($(uptime_ms) + SECS * 1000))
n=0 bad=0 crashed=0 slow=0
while [ "$(uptime_ms)" -lt "$end" ]; do
    n=$((n + 1))
    got=$(timeout 60 sh /tmp/run.sh 2>/tmp/cc.err)
    rc=$?
    if [ $rc = 124 ]; then
        slow=$((slow + 1))
    elif [ $rc -ge 128 ]; then
        crashed=$((crashed + 1))
    elif [ "$got" != "$want" ]; then
        bad=$((bad + 1))
        harness_log "event=cpucheck-wrong n=$n got=\"$(echo "$got" | tr '\n' ' ')\" stderr=\"$(tr '\n"' ' _' </tmp/cc.err | head -c 300)\""
    fi
done
[ -z "$CHURN" ] || kill $CHURN 2>/dev/null
harness_log "event=cpucheck runs=$n wrong=$bad crashed=$crashed timed_out=$slow guests_created=$(xl list | wc -l) cpu=\"$(grep -m1 -o 'flags.*' /proc/cpuinfo | tr ' ' '\n' | grep -cE '^(avx|avx2)$') avx flags\""
check "dom0 computed right every time ($n runs: $bad wrong, $crashed crashed, $slow timed out)" [ $((bad + crashed + slow)) = 0 ]

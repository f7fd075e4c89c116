# Scenario (a hunting tool, not in the test run): the SYN-flood wedge of
# issue 13. The appliance gets its key and one SSH login, then SYNFLOOD_RUNS
# times: an 8 s `hping3 --flood` SYN flood to port 22 (SYNFLOOD_ARGS: other
# hping3 arguments, e.g. "-S -p 22 --rand-source"), then ping, ssh status and
# idle CPU. A guest that stops answering gets domain_diag.
G=/payload/guest.elf
RUNS=${SYNFLOOD_RUNS:-6}

dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0
ssh-keygen -q -t ed25519 -N '' -C flood@dom0 -f /tmp/key
python3 /payload/imds.py v2 /tmp/key.pub >/tmp/imds.log 2>&1 &
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=20 -o LogLevel=ERROR"

guest_cfg fl "$G" "" 32
xl_create fl || exit 1
check "listening" wait_console fl '^ssh: listening ' 90 || exit 1
ip4=$(xenstore-read /local/domain/$(xl domid fl)/attr/vif/0/ipv4/0)
check "first ssh login" sh -c "timeout 60 ssh $SSH_OPTS -i /tmp/key admin@$ip4 status | grep -q ^address="
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    timeout 8 hping3 -q ${SYNFLOOD_ARGS:--S -p 22} --flood "$ip4" >/dev/null 2>&1
    sleep 1
    ok=1
    check "[$i] ping after the flood" ping -c 3 -W 2 "$ip4" || ok=0
    check "[$i] ssh after the flood" sh -c "timeout 60 ssh $SSH_OPTS -i /tmp/key admin@$ip4 status | grep -q ^address=" || ok=0
    a=$(cpu_s fl); sleep 3; b=$(cpu_s fl)
    check "[$i] idle after the flood ($a -> $b)" awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 0.3) }' || ok=0
    harness_log "event=flood run=$i ok=$ok cpu=$a..$b"
    if [ $ok -eq 0 ]; then
        domain_diag fl
        ip neigh show dev xenbr0
        break
    fi
done
xl destroy fl

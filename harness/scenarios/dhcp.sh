# Scenario: a rogue and broken DHCP server (issue 13). roguedhcp.py answers
# as /tmp/dhcpmode says: a zero lease, a renewal time past the lease with no
# rebinding time (smoltcp 0.12 panicked on it), NAKs, no router, silence;
# then a good server with a new address. The appliance must never panic,
# never send more than a few DHCP packets a minute, drop an expired address,
# and come back on a new one with SSH.
G=/payload/guest.elf
MODE=/tmp/dhcpmode
echo zero >$MODE
python3 /payload/roguedhcp.py xenbr0 $MODE >/tmp/roguedhcp.log 2>&1 &
ip addr add 169.254.169.254/32 dev xenbr0
ssh-keygen -q -t ed25519 -N '' -C dhcp@dom0 -f /tmp/key
python3 /payload/imds.py v2 /tmp/key.pub >/tmp/imds.log 2>&1 &
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=20 -o LogLevel=ERROR"
ssh_ok() { timeout 60 ssh $SSH_OPTS -i /tmp/key "admin@$1" status 2>/dev/null | grep -q "^address=$1/"; }

# packets_in SECONDS: DHCP packets the guest sent during the next SECONDS
packets_in() {
    local a b
    a=$(grep -c '^roguedhcp: ' /tmp/roguedhcp.log)
    sleep "$1"
    b=$(grep -c '^roguedhcp: ' /tmp/roguedhcp.log)
    echo $((b - a))
}

guest_cfg d "$G" "" 32
xl_create d || exit 1
L=$(guest_log d)
check "[zero lease] a lease" wait_console d '^dhcp: lease ip=10\.0\.0\.77/24 router=10\.0\.0\.1 .* lease_s=60 ' 60
check "[zero lease] the key, through the lease's router" wait_console d '^cloudinit: done ' 60
n=$(packets_in 60)
harness_log "event=dhcp mode=zero packets_60s=$n"
check "[zero lease] at most 4 DHCP packets a minute ($n)" [ "$n" -le 4 ]

echo t1 >$MODE
n=$(packets_in 70)
harness_log "event=dhcp mode=t1 packets_70s=$n"
check "[T1 past the lease, no T2] still up, quiet ($n packets in 70 s)" [ "$n" -le 5 ]
check "[T1 past the lease] answers ping" ping -c 2 -W 2 10.0.0.77

echo nak >$MODE
check "[NAK] the renewal refused: the address is dropped" wait_console d '^dhcp: lease lost reason="refused by the server"; asking again$' 90
n=$(packets_in 60)
harness_log "event=dhcp mode=nak packets_60s=$n"
check "[NAK] backoff: at most 16 DHCP packets a minute ($n)" [ "$n" -le 16 ]

echo "norouter 10.0.0.78" >$MODE
check "[no router] a lease without a router" wait_console d '^dhcp: lease ip=10\.0\.0\.78/24 router=- .* link_local_via=10\.0\.0\.1$' 90
check "[no router] ssh at the new address" ssh_ok 10.0.0.78
check "[no router] the metadata service is reached through the DHCP server" sh -c \
    "timeout 60 ssh $SSH_OPTS -i /tmp/key admin@10.0.0.78 metadata meta-data/instance-id | grep -q ^i-0harness"

echo silent >$MODE
check "[silent] the lease expires and the address goes" wait_console d '^dhcp: lease lost reason=expired; asking again$' 200
check "[silent] no answer at the expired address" sh -c "! ping -c 2 -W 1 10.0.0.78 >/dev/null"
n=$(packets_in 60)
harness_log "event=dhcp mode=silent packets_60s=$n"
check "[silent] discovery backs off ($n packets in a minute)" [ "$n" -ge 1 -a "$n" -le 8 ]

echo "normal 10.0.0.79" >$MODE
check "[back] a new lease" wait_console d '^dhcp: lease ip=10\.0\.0\.79/24 router=10\.0\.0\.1 ' 90
check "[back] ssh at the new address" ssh_ok 10.0.0.79
a=$(cpu_s d); sleep 3; b=$(cpu_s d)
check "[back] idle ($a -> $b CPU s over 3 s)" awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b - a < 0.3) }'
check "no trap or panic on the console" sh -c "! grep -qE '^(trap|panic):' $L"
tail -5 /tmp/roguedhcp.log
xl destroy d

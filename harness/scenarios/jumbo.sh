# Scenario: jumbo frames (EC2's t2 backends run MTU 9001 inside a VPC). The
# bridge and the vif at MTU 9000 (`mtu=9000` in the vif config, which libxl
# writes into the guest's device/vif/0/mtu): the appliance takes 9000 from
# that node, dom0's unfragmentable 9000-byte pings are answered, and TCP
# moves data both ways in jumbo segments (benchnet.py, the bench's client).
G=/payload/guest.elf
MAC=00:16:3e:00:00:02
XFER=$((16 << 20))

guest_cfg jumbo "$G" "ip=10.0.0.2/24 gw=10.0.0.1 bench=on" 32
sed -i "s/^vif = .*/vif = [ \"bridge=xenbr0,mac=$MAC,mtu=9000\" ]/" /tmp/jumbo.cfg
ip link set xenbr0 mtu 9000
if xl_create jumbo; then
    check "netfront connected" wait_console jumbo '^netfront: connected device=device/vif/0 ' 60
    check "static address configured" wait_console jumbo '^net: static ip=10\.0\.0\.2/24' 10
    domid=$(xl domid jumbo)
    check "libxl wrote mtu=9000 into the device directory" \
        [ "$(xenstore-read /local/domain/$domid/device/vif/0/mtu)" = 9000 ]
    vif=vif$domid.0
    ip link set "$vif" mtu 9000 2>/dev/null
    harness_log "event=vif $(ip -o link show "$vif" | grep -o 'mtu [0-9]*')"
    check "the vif runs at MTU 9000 (netback took it: feature-sg)" \
        sh -c "ip -o link show $vif | grep -q 'mtu 9000'"
    # busybox ping cannot set DF: raw ICMP with IP_PMTUDISC_DO, 8972-byte payload
    python3 - 10.0.0.2 20 >/tmp/jping.log 2>&1 <<'PY'
import socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
addr, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: never fragment
s.settimeout(2.0)
payload, got = bytes(range(256)) * 35 + bytes(12), 0  # 8972 bytes: a 9000-byte IP packet
for seq in range(n):
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4a4a, seq)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), 0x4a4a, seq) + payload, (addr, 0))
    t = time.time() + 2
    while time.time() < t:
        try: r = s.recv(65535)
        except socket.timeout: break
        ihl = (r[0] & 15) * 4
        if r[ihl] == 0 and r[ihl + 6:ihl + 8] == struct.pack("!H", seq) and r[ihl + 8:] == payload:
            got += 1; break
print("sent=%d received=%d size=%d" % (n, got, 20 + 8 + len(payload)))
PY
    harness_log "event=ping $(cat /tmp/jping.log | tail -1)"
    check "20 unfragmentable 9000-byte pings answered" grep -q 'sent=20 received=20 size=9000' /tmp/jping.log
    for dir in to_guest from_guest; do
        if [ $dir = to_guest ]; then op=sink port=5001; else op=source port=5002; fi
        out=$(timeout 300 python3 /payload/benchnet.py $op 10.0.0.2 $port "$XFER" 2>&1 | tail -1)
        harness_log "event=tcp dir=$dir mtu=9000 $out"
        check "TCP $dir at MTU 9000: $XFER bytes" sh -c "echo '$out' | grep -q 'bytes=$XFER'"
    done
    xl destroy jumbo
fi
ip link set xenbr0 mtu 1500

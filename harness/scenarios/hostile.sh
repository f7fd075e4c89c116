# Scenario: a hostile network (issue 13). The appliance gets its key and one
# SSH login; then dom0 floods it (hping3: SYNs from dom0 and from spoofed
# sources, to the SSH port and a closed one, other flag mixes, UDP, ICMP,
# fragments, bad checksums; an ARP storm), and after each flood it must
# answer ping within a second, let SSH in and go back to sleep. Then slow
# and garbage SSH clients must not keep the owner out past the login grace,
# and the console must hold no trap, panic or forged line.
G=/payload/guest.elf
FLOOD_S=${HOSTILE_FLOOD_S:-8}

dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0
ssh-keygen -q -t ed25519 -N '' -C hostile@dom0 -f /tmp/key
python3 /payload/imds.py v2 /tmp/key.pub >/tmp/imds.log 2>&1 &
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=20 -o LogLevel=ERROR"

ssh_status() { timeout 60 ssh $SSH_OPTS -i /tmp/key "admin@$ip4" status 2>/dev/null | grep -q "^address=$ip4/"; }

# after_flood WHAT: reachable within a second, SSH works, idle again
after_flood() {
    local what=$1 a b ok=1
    sleep 1
    check "[$what] answers ping within a second" sh -c "ping -c 1 -W 1 $ip4 >/dev/null || ping -c 1 -W 1 $ip4 >/dev/null" || ok=0
    check "[$what] ssh logs in" ssh_status || ok=0
    sleep 4 # half-open slots and retransmissions to spoofed hosts time out
    a=$(cpu_s h); sleep 3; b=$(cpu_s h)
    check "[$what] idle again ($a -> $b CPU s over 3 s)" awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && b - a < 0.3) }' || ok=0
    harness_log "event=flood what=\"$what\" ok=$ok cpu=$a..$b"
    [ $ok -eq 1 ] || domain_diag h
}

# hping NAME ARGS...: a line-rate flood of FLOOD_S seconds
hping() {
    local what=$1
    shift
    timeout "$FLOOD_S" hping3 -q "$@" --flood "$ip4" >/dev/null 2>&1
    after_flood "$what"
}

# hap = 0: under this harness's nested TCG, hardware-assisted paging is
# mis-emulated (a Linux guest sees wrong CR2s; the bench runs both guests
# without it). One run here left the guest's vCPU at 100 % CPU taking the
# upcall over and over: 9 of 10 xenctx samples on the upcall stub's first
# instruction with the frame just pushed, the main loop never again (the
# same build passed the next run). Shadow paging, as the bench uses.
guest_cfg h "$G" "" 32 'hap = 0'
xl_create h || exit 1
check "listening" wait_console h '^ssh: listening ' 90 || exit 1
ip4=$(xenstore-read /local/domain/$(xl domid h)/attr/vif/0/ipv4/0)
check "first ssh login" ssh_status

hping "SYN flood to ssh" -S -p 22
hping "SYN flood to ssh from spoofed sources" -S -p 22 --rand-source
hping "SYN flood to a closed port" -S -p 23
hping "FIN+PUSH+URG to ssh" -F -P -U -p 22
hping "ACK flood to ssh" -A -p 22
hping "RST flood to ssh" -R -p 22
hping "UDP flood to closed ports" --udp -p 9
hping "ICMP echo flood" --icmp
hping "IP fragments" --udp -p 9 -f -d 400
hping "bad TCP checksums" -S -p 22 --badcksum
python3 /payload/arpstorm.py xenbr0 "$ip4" "$FLOOD_S"
after_flood "ARP storm"
ping -f -c 20000 -W 1 "$ip4" >/tmp/pingf.log 2>&1
after_flood "ping -f of 20000"

# four silent and four garbage SSH clients, held past the login grace
python3 /payload/slowssh.py "$ip4" 4 45 >/tmp/slowssh.log 2>&1 &
slow=$!
sleep 35
check "ssh logs in while four silent clients still hold their connections (grace passed)" ssh_status
wait $slow
cat /tmp/slowssh.log
check "garbage clients were closed by the server" sh -c "! grep -q '^junk[0-9]=b.SSH' /tmp/slowssh.log"

L=$(guest_log h)
check "no trap or panic on the console" sh -c "! grep -qE '^(trap|panic):' $L"
check "every console line is printable ASCII (nothing a peer forged)" sh -c "! LC_ALL=C grep -q '[^ -~]' $L"
check "overload was said on the console" grep -q '^netfront: overload ' "$L"
xl destroy h

# Scenario: the product's main job. dnsmasq gives the appliance an address,
# a metadata service on 169.254.169.254 (reached through the DHCP router,
# dom0) serves a freshly generated key; the appliance must print that key and
# the fingerprint ssh-keygen gives, and publish them in XenStore. Runs once
# per metadata mode (IMDS_MODES, default "v2 v1").
G=/payload/guest.elf

dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-dhcp --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0

SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/tmp/known_hosts -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=30 -o LogLevel=ERROR"

# ssh_checks NAME IP: log in with the served key and run commands; a wrong
# key and a wrong user are refused; the host key ssh-keyscan sees is the one
# whose fingerprint the console printed. Session output goes to a console-dir
# file so the host collects it (the demo shows it).
ssh_checks() {
    local name=$1 ip=$2 out=$CONSOLE_DIR/guest-$1-ssh.log t0 t1 fp_console fp_scan
    t0=$(uptime_ms)
    timeout 90 ssh $SSH_OPTS -i /tmp/key "admin@$ip" status >"$out" 2>/tmp/ssh.err
    rc=$?
    t1=$(uptime_ms)
    harness_log "event=ssh-status ms=$((t1 - t0)) rc=$rc bytes=$(wc -c <"$out")"
    check "[ssh] ssh ... status exits with the command's status, 0 ($rc)" [ "$rc" = 0 ]
    check "[ssh] status over ssh with the served key shows the address" grep -q "^address=$ip/24 gateway=10.0.0.1 config=dhcp" "$out"
    check "[ssh] status shows the datasource and the key's fingerprint" sh -c "grep -q '^datasource=ec2 imds=v2 ' $out && grep -qF 'key=$want_fp type=$keytype ' $out"
    wait_console "$name" '^ssh: login ' 10 # (the fingerprint may hold regex characters: compare it fixed)
    check "[ssh] the guest logged the login with that key" grep -qF "ssh: login user=admin key=$want_fp from=10.0.0.1:" "$(guest_log "$name")"
    t0=$(uptime_ms)
    timeout 60 ssh-keyscan -T 30 -t ed25519 "$ip" >/tmp/keyscan 2>/dev/null
    t1=$(uptime_ms)
    fp_scan=$(ssh-keygen -lf /tmp/keyscan 2>/dev/null | awk '{print $2}')
    fp_console=$(sed -n '/^-----BEGIN SSH HOST KEY FINGERPRINTS-----/,/^-----END/p' "$(guest_log "$name")" | awk 'NR == 2 { print $2 }')
    harness_log "event=ssh-keyscan ms=$((t1 - t0)) scan=$fp_scan console=$fp_console"
    check "[ssh] ssh-keyscan's host key fingerprint equals the console's ($fp_console)" [ -n "$fp_scan" -a "$fp_scan" = "$fp_console" ]
    domid=$(xl domid "$name")
    check "[ssh] host key fingerprint published in XenStore" [ "$(xenstore-read /local/domain/$domid/data/ssh/host-key-fingerprint)" = "$fp_console" ]
    echo "== ifconfig ==" >>"$out"
    timeout 60 ssh $SSH_OPTS -i /tmp/key "admin@$ip" ifconfig >>"$out" 2>>/tmp/ssh.err
    check "[ssh] ifconfig" grep -q "^vif0 device=device/vif/0 mac=" "$out"
    echo "== metadata meta-data/instance-id ==" >>"$out"
    timeout 60 ssh $SSH_OPTS -i /tmp/key "admin@$ip" metadata meta-data/instance-id >>"$out" 2>>/tmp/ssh.err
    check "[ssh] metadata fetches a fresh value" grep -q "^i-0harness" "$out"
    ssh-keygen -q -t ed25519 -N '' -C wrong -f /tmp/wrongkey
    timeout 60 ssh $SSH_OPTS -i /tmp/wrongkey "admin@$ip" status >/tmp/ssh-wrong.out 2>/tmp/ssh-wrong.err
    check "[ssh] a wrong key is refused" grep -q "Permission denied" /tmp/ssh-wrong.err
    check "[ssh] ... and the guest says so" wait_console "$name" '^ssh: refused user=admin reason="key not authorized" ' 10
    timeout 60 ssh $SSH_OPTS -i /tmp/key "root@$ip" status >/tmp/ssh-root.out 2>/tmp/ssh-root.err
    check "[ssh] a wrong user is refused" grep -q "Permission denied" /tmp/ssh-root.err
    check "[ssh] no status leaked to refused logins" [ ! -s /tmp/ssh-wrong.out -a ! -s /tmp/ssh-root.out ]
    # 4 slots: four silent connections take them all, a fifth is turned
    # away; once they go, ssh works again
    python3 - "$ip" >/tmp/ssh-slots.out 2>&1 <<'PY'
import socket, sys, time
ip = sys.argv[1]
held = [socket.create_connection((ip, 22), timeout=10) for _ in range(4)]
time.sleep(1)
fifth = socket.socket()
fifth.settimeout(5)
try:
    fifth.connect((ip, 22))
    fifth.send(b"SSH-2.0-probe\r\n")
    banner = fifth.recv(64)
    print("fifth=accepted" if banner else "fifth=closed")
except OSError as e:
    print("fifth=refused", e)
for s in held:
    s.close()
PY
    check "[ssh] a fifth concurrent connection is turned away ($(head -c 60 /tmp/ssh-slots.out))" grep -q "^fifth=\(refused\|closed\)" /tmp/ssh-slots.out
    sleep 2
    timeout 60 ssh $SSH_OPTS -i /tmp/key "admin@$ip" status >/tmp/ssh-again.out 2>>/tmp/ssh.err
    check "[ssh] slots are listening again after those close" grep -q "^address=$ip/24" /tmp/ssh-again.out
    harness_log "event=ssh-done $(tr '\n' ' ' </tmp/ssh.err | head -c 300)"
}

n=0
for mode in ${IMDS_MODES:-v2 v1}; do
    n=$((n + 1))
    name=ci$mode
    rm -f /tmp/key /tmp/key.pub
    # IMDSv2 serves an RSA key (EC2's default key pair type), IMDSv1 an ed25519 one
    case $mode in v2) keytype=ssh-rsa kt="-t rsa -b 2048" ;; *) keytype=ssh-ed25519 kt="-t ed25519" ;; esac
    ssh-keygen -q $kt -N '' -C "harness-$mode@dom0" -f /tmp/key
    want_key=$(cat /tmp/key.pub)
    want_fp=$(ssh-keygen -lf /tmp/key.pub | awk '{print $2}')
    python3 /payload/imds.py "$mode" /tmp/key.pub >/tmp/imds-$mode.log 2>&1 &
    imds_pid=$!
    sleep 1
    GUEST_MAC=00:16:3e:00:00:1$n guest_cfg "$name" "$G" "" 32
    if xl_create "$name"; then
        check "[$mode] dhcp lease" wait_console "$name" '^dhcp: lease ip=10\.0\.0\.[0-9]+/24 router=10\.0\.0\.1 ' 60
        check "[$mode] imds mode reported" wait_console "$name" "^imds: mode=$mode " 90
        check_key_fetched "$name" "$mode" 30
        domid=$(xl domid "$name")
        check "[$mode] xenstore data/cloudinit/fingerprint" [ "$(xenstore-read /local/domain/$domid/data/cloudinit/fingerprint)" = "$want_fp" ]
        check "[$mode] xenstore data/cloudinit/status" [ "$(xenstore-read /local/domain/$domid/data/cloudinit/status)" = done ]
        ip4=$(xenstore-read /local/domain/$domid/attr/vif/0/ipv4/0 2>/dev/null)
        harness_log "event=done mode=$mode $(grep -E '^cloudinit: done' "$(guest_log "$name")") ip=$ip4"
        check "[$mode] pings at the leased address" ping -c 3 -W 2 "${ip4:-none}"
        check "[$mode] ssh listening" wait_console "$name" '^ssh: listening port=22 user=admin keys=1 ' 30
        [ "$mode" = v2 ] && ssh_checks "$name" "$ip4"
        sleep 1
        cpu0=$(cpu_s "$name")
        sleep 5
        cpu1=$(cpu_s "$name")
        st=$(domain_state "$name")
        harness_log "event=idle mode=$mode state=$st cpu_s_before=$cpu0 cpu_s_after=$cpu1"
        check "[$mode] idle after the key: blocked ($st), no CPU over 5 s ($cpu0 -> $cpu1)" \
            awk -v a="$cpu0" -v b="$cpu1" -v s="$st" 'BEGIN { exit !(b - a < 0.2 && s ~ /b/) }'
        xl destroy "$name"
    fi
    kill $imds_pid
    cat /tmp/imds-$mode.log
done

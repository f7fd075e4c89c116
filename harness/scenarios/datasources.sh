# Scenario: how EC2 users and cloud-init users log in (issues 16 and 17).
#  ec2rsa  IMDSv2 serving a 2048-bit RSA key (EC2's default key pair) and
#          gzip'd #cloud-config user-data adding a second (ed25519) key and a
#          hostname: both keys log in; `status` exits 0, an unknown command
#          non-zero; hostname in status and data/cloudinit/hostname
#  os      OpenStack's format only (no /latest/ tree): found by the fallback
#  nc      NoCloud over HTTP from dom0 (ds=nocloud;s=http://10.0.0.1:8000/seed/)
#  bad     malformed user-data: named as an error, the metadata key still works
G=/payload/guest.elf
dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=20 -o LogLevel=ERROR"
ssh-keygen -q -t rsa -b 2048 -N '' -C ec2-rsa@dom0 -f /tmp/rsa
ssh-keygen -q -t ed25519 -N '' -C userdata@dom0 -f /tmp/ud
ssh-keygen -q -t ed25519 -N '' -C ds@dom0 -f /tmp/ed

# guest_ip NAME: the leased address
guest_ip() { xenstore-read /local/domain/$(xl domid "$1")/attr/vif/0/ipv4/0 2>/dev/null; }

# run_guest NAME MODE KEY CMDLINE: an imds.py in MODE serving KEY.pub, a guest
run_guest() {
    python3 /payload/imds.py "$2" "$3.pub" ${4:+10.0.0.1 8000} >/tmp/imds-$1.log 2>&1 &
    imds_pid=$!
    sleep 2
    n=$((n + 1))
    GUEST_MAC=00:16:3e:00:00:4$n guest_cfg "$1" "$G" "${4:-}" 32
    xl_create "$1" && wait_console "$1" '^ssh: listening ' 120
}
n=0

# --- ec2rsa ---
printf '#cloud-config\nhostname: from-user-data\nssh_authorized_keys:\n  - %s\npackages: [nginx]\n' "$(cat /tmp/ud.pub)" | gzip -c >/tmp/ud.gz
if IMDS_USER_DATA=/tmp/ud.gz run_guest ec2rsa v2 /tmp/rsa; then
    check_pass "[ec2rsa] ssh listening"
    L=$(guest_log ec2rsa); ip4=$(guest_ip ec2rsa)
    check "[ec2rsa] the RSA key accepted for login" grep -q '^ssh: listening port=22 user=admin keys=2 ' "$L"
    check "[ec2rsa] user-data read: gzip'd cloud-config" grep -q '^cloudinit: user-data kind=cloud-config .*gzip=yes.* status=ok' "$L"
    check "[ec2rsa] the unused user-data key is named" grep -q 'ignored=packages' "$L"
    timeout 60 ssh $SSH_OPTS -i /tmp/rsa "admin@$ip4" status >/tmp/rsa-status.out 2>/tmp/rsa.err
    rc=$?
    harness_log "event=ssh-rsa rc=$rc $(tr '\n' ' ' </tmp/rsa.err | head -c 200)"
    check "[ec2rsa] ssh with the RSA key: status exits 0" [ "$rc" = 0 ]
    check "[ec2rsa] status shows the user-data hostname" grep -q '^datasource=ec2 imds=v2 .* hostname=from-user-data$' /tmp/rsa-status.out
    check "[ec2rsa] data/cloudinit/hostname" [ "$(xenstore-read /local/domain/$(xl domid ec2rsa)/data/cloudinit/hostname)" = from-user-data ]
    timeout 60 ssh $SSH_OPTS -i /tmp/ud "admin@$ip4" status >/dev/null 2>&1
    check "[ec2rsa] the user-data key logs in too" [ $? = 0 ]
    timeout 60 ssh $SSH_OPTS -i /tmp/rsa "admin@$ip4" no-such-command >/tmp/bogus.out 2>&1
    rc=$?
    check "[ec2rsa] an unknown command exits non-zero ($rc)" [ "$rc" != 0 -a "$rc" != 255 ]
    timeout 60 ssh $SSH_OPTS -i /tmp/rsa "admin@$ip4" metadata meta-data/no-such-path >/dev/null 2>&1
    rc=$?
    check "[ec2rsa] a failed metadata fetch exits non-zero ($rc)" [ "$rc" != 0 -a "$rc" != 255 ]
    check "[ec2rsa] cloud-init's final line" grep -q '^Cloud-init v\. .* finished at .*\. Datasource ec2\.  Up ' "$L"
    xl destroy ec2rsa
fi
kill $imds_pid

# --- os ---
if run_guest os openstack /tmp/ed; then
    L=$(guest_log os)
    check "[os] datasource=openstack" grep -q '^cloudinit: datasource=openstack ' "$L"
    check "[os] ssh with the key from meta_data.json" sh -c "timeout 60 ssh $SSH_OPTS -i /tmp/ed admin@$(guest_ip os) status | grep -q '^datasource=openstack'"
    check "[os] data/cloudinit/datasource" [ "$(xenstore-read /local/domain/$(xl domid os)/data/cloudinit/datasource)" = openstack ]
    xl destroy os
else
    check_fail "[os] ssh listening"
fi
kill $imds_pid

# --- nc ---
if run_guest nc nocloud /tmp/ed "ds=nocloud;s=http://10.0.0.1:8000/seed/"; then
    L=$(guest_log nc)
    check "[nc] datasource=nocloud-net" grep -q '^cloudinit: datasource=nocloud-net ' "$L"
    check "[nc] ssh with the key from meta-data" sh -c "timeout 60 ssh $SSH_OPTS -i /tmp/ed admin@$(guest_ip nc) status | grep -q 'hostname=nc-harness'"
    xl destroy nc
else
    check_fail "[nc] ssh listening"
fi
kill $imds_pid

# --- bad ---
printf '#cloud-config\nssh_authorized_keys: [unclosed\n' >/tmp/bad.yaml
if IMDS_USER_DATA=/tmp/bad.yaml run_guest bad v2 /tmp/ed; then
    L=$(guest_log bad)
    check "[bad] malformed user-data named" grep -q '^cloudinit: user-data kind=cloud-config .*status=error' "$L"
    check "[bad] the metadata key still logs in" sh -c "timeout 60 ssh $SSH_OPTS -i /tmp/ed admin@$(guest_ip bad) status | grep -q '^address='"
    xl destroy bad
else
    check_fail "[bad] ssh listening"
fi
kill $imds_pid
for f in "$CONSOLE_DIR"/guest-*.log; do grep -qE '^(trap|panic):' "$f" && check_fail "trap or panic in $f"; done
true

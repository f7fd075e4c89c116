# Scenario: seed disks (issue 18), the local `xl create` story without a
# metadata service. The host built (tests/xen-tests.sh, ./run.sh seed):
#   seed-static.img  vfat cidata: the key, network-config 10.0.0.9/24 via 10.0.0.1
#   seed-dhcp.img    vfat cidata: the key, no network-config
#   seed-iso.iso     ISO9660 cidata (cloud-localds' layout, Joliet + Rock Ridge),
#                    network-config 10.0.0.11/24
#   seed-cd2.iso     ISO9660 config-2 (OpenStack config drive), no network-config
# and the key pair (seedkey, seedkey.pub). No metadata service runs.
G=/payload/guest.elf
cp /payload/seedkey /tmp/seedkey && chmod 600 /tmp/seedkey
FP=$(ssh-keygen -lf /payload/seedkey.pub | awk '{print $2}')
SSH_OPTS="-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=20 -o LogLevel=ERROR"
ssh_ok() { timeout 60 ssh $SSH_OPTS -i /tmp/seedkey "admin@$1" status 2>/dev/null | grep -q "^key=$FP "; }

# seed_guest NAME DISK: a guest with DISK as its read-only xvdb
seed_guest() {
    guest_cfg "$1" "$G" "" 32 "disk = [ \"format=raw, vdev=xvdb, access=ro, target=$2\" ]"
}

# 1. No DHCP server, no metadata service: everything from the disk.
seed_guest sst /payload/seed-static.img
if xl_create sst; then
    check "[vfat static] datasource named" wait_console sst '^cloudinit: datasource=nocloud-disk device=xvdb label=CIDATA fs=vfat$' 60
    check "[vfat static] the address from network-config" wait_console sst '^net: static ip=10\.0\.0\.9/24 gw=10\.0\.0\.1$' 30
    check "[vfat static] the key from meta-data" wait_console sst '^ssh-key: ' 10
    check "[vfat static] cloud-init's final line" wait_console sst '^Cloud-init v\. .* finished at .*\. Datasource nocloud-disk\.  Up ' 10
    check "[vfat static] ssh listening" wait_console sst '^ssh: listening ' 30
    check "[vfat static] ssh in with the seed's key" ssh_ok 10.0.0.9
    check "[vfat static] no DHCP was tried" sh -c "! grep -q '^dhcp: start' $(guest_log sst)"
    domid=$(xl domid sst)
    check "[vfat static] data/cloudinit/datasource" [ "$(xenstore-read /local/domain/$domid/data/cloudinit/datasource)" = nocloud-disk ]
    xl destroy sst
fi

# 2.-4. With a DHCP server (and still no metadata service).
dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-facility=/tmp/dnsmasq.log
n=0
for spec in "sdh /payload/seed-dhcp.img nocloud-disk xvdb CIDATA vfat -" \
            "sis /payload/seed-iso.iso nocloud-disk xvdb cidata iso9660 10.0.0.11" \
            "scd /payload/seed-cd2.iso configdrive xvdb config-2 iso9660 -"; do
    set -- $spec
    name=$1 disk=$2 ds=$3 dev=$4 label=$5 fs=$6 static=$7
    n=$((n + 1))
    GUEST_MAC=00:16:3e:00:00:3$n seed_guest "$name" "$disk"
    xl_create "$name" || continue
    check "[$name] datasource=$ds device=$dev label=$label fs=$fs" \
        wait_console "$name" "^cloudinit: datasource=$ds device=$dev label=$label fs=$fs\$" 60
    if [ "$static" = - ]; then
        check "[$name] a DHCP lease" wait_console "$name" '^dhcp: lease ip=10\.0\.0\.[0-9]+/24 ' 60
        domid=$(xl domid "$name")
        ip4=$(xenstore-read /local/domain/$domid/attr/vif/0/ipv4/0)
    else
        check "[$name] the address from network-config" wait_console "$name" "^net: static ip=$static/24 " 30
        ip4=$static
    fi
    check "[$name] ssh listening" wait_console "$name" '^ssh: listening ' 30
    check "[$name] ssh in with the seed's key at $ip4" ssh_ok "$ip4"
    check "[$name] no metadata service was asked" sh -c "! grep -q '^imds: start' $(guest_log "$name")"
    xl destroy "$name"
done

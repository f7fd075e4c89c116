# Scenario: the EC2 path. The disk image (image/mkimage.sh, shipped as
# /payload/appliance.img) boots as a `type = "hvm"` guest: hvmloader,
# SeaBIOS, GRUB from the MBR, the kernel's multiboot2 entry; it unplugs the
# device model's emulated NIC, brings up netfront on the same vif, and must
# fetch the key from the metadata service exactly as the PVH guest does.
IMG=/payload/appliance.img
name=hvm
modprobe tun # the device model's emulated NIC is a tap device
SERIAL=$CONSOLE_DIR/guest-$name-serial.log

dnsmasq --interface=xenbr0 --bind-interfaces --port=0 --dhcp-range=10.0.0.50,10.0.0.99,12h \
    --dhcp-option=3,10.0.0.1 --dhcp-leasefile=/tmp/dnsmasq.leases --log-dhcp --log-facility=/tmp/dnsmasq.log
ip addr add 169.254.169.254/32 dev xenbr0
rm -f /tmp/key /tmp/key.pub
ssh-keygen -q -t ed25519 -N '' -C "harness-hvm@dom0" -f /tmp/key
want_key=$(cat /tmp/key.pub)
want_fp=$(ssh-keygen -lf /tmp/key.pub | awk '{print $2}')
python3 /payload/imds.py v2 /tmp/key.pub >/tmp/imds-hvm.log 2>&1 &
imds_pid=$!

# qdisk: QEMU opens the file itself (no loop device, no block script); the
# emulated COM1 goes to a file, as EC2's console output would.
cat >/tmp/$name.cfg <<CFG
name = "$name"
type = "hvm"
memory = 64
vcpus = 1
disk = [ "format=raw,vdev=hda,access=rw,backendtype=qdisk,target=$IMG" ]
vif = [ "bridge=xenbr0,mac=00:16:3e:00:00:31" ]
boot = "c"
vga = "none"
vnc = 0
sdl = 0
serial = "file:$SERIAL"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
CFG
if xl_create "$name"; then
    check "[hvm] multiboot2 entry from the disk image" wait_console "$name" '^appliance: boot version=[^ ]+ entry=multiboot2 ' 240
    check "[hvm] Xen found from HVM" wait_console "$name" '^xen: version=4\.17 ' 30
    check "[hvm] emulated NICs unplugged through the platform device" wait_console "$name" '^platform: unplug nics=1 ' 30
    check "[hvm] netfront connected" wait_console "$name" '^netfront: connected device=device/vif/0 ' 60
    check "[hvm] dhcp lease" wait_console "$name" '^dhcp: lease ip=10\.0\.0\.[0-9]+/24 router=10\.0\.0\.1 ' 90
    check_key_fetched "$name" hvm 120
    domid=$(xl domid "$name")
    check "[hvm] the serial console (EC2's console output) has the boot and the key" \
        grep -qF "ssh-key: $want_key" "$SERIAL"
    harness_log "event=done mode=hvm $(grep -E '^cloudinit: done' "$(guest_log "$name")")"
    ip4=$(xenstore-read /local/domain/$domid/attr/vif/0/ipv4/0 2>/dev/null)
    check "[hvm] ssh listening" wait_console "$name" '^ssh: listening port=22 ' 30
    timeout 90 ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o IdentitiesOnly=yes -o ConnectTimeout=30 -o LogLevel=ERROR -i /tmp/key "admin@${ip4:-none}" status >/tmp/hvm-ssh.out 2>&1
    check "[hvm] ssh admin@$ip4 status works as under PVH" grep -q "^address=$ip4/24 " /tmp/hvm-ssh.out
    xl shutdown -w "$name" >/dev/null 2>&1 &
    check "[hvm] xl shutdown ends the domain" wait_gone "$name" 60
else
    echo "== the device model's log =="
    cat /var/log/xen/qemu-dm-$name.log 2>/dev/null | tail -40
fi
kill $imds_pid
cat /tmp/imds-hvm.log

# Scenario: netfront + smoltcp on real Xen. dom0 pings the appliance (static
# address from the command line), then detaches and re-attaches the vif and
# pings again.
G=/payload/guest.elf
MAC=00:16:3e:00:00:02

guest_cfg net "$G" "ip=10.0.0.2/24 gw=10.0.0.1" 32
if xl_create net; then
    check "netfront connected" wait_console net '^netfront: connected device=device/vif/0 mac=00:16:3e:00:00:02 ' 60
    check "static address configured" wait_console net '^net: static ip=10\.0\.0\.2/24 gw=10\.0\.0\.1' 10
    ping -c 100 -i 0.05 -W 2 10.0.0.2 >/tmp/ping1.log 2>&1
    cat /tmp/ping1.log | tail -3
    harness_log "event=ping round=1 $(tail -2 /tmp/ping1.log | tr '\n' ' ')"
    check "100 pings, 0% loss" grep -Eq '100 packets transmitted, 100 (packets )?received, 0% packet loss' /tmp/ping1.log
    sleep 6
    domid=$(xl domid net)
    harness_log "event=stats $(xenstore-read /local/domain/$domid/data/netfront/stats 2>&1)"
    check "counters published in xenstore" sh -c "xenstore-read /local/domain/$domid/data/netfront/stats | grep -q 'rx_packets=[1-9]'"
    check "address published in attr/vif/0/ipv4/0" [ "$(xenstore-read /local/domain/$domid/attr/vif/0/ipv4/0)" = 10.0.0.2 ]
    xl network-detach net 0
    check "netfront closes on detach, every grant ended (none quarantined)" wait_console net '^netfront: closed device=device/vif/0 .* quarantined=0 ' 30
    xl network-attach net bridge=xenbr0 mac=$MAC
    check "netfront reconnects after attach" wait_console net '^netfront: connected device=device/vif/0 .*reconnects=1' 60
    ping -c 20 -i 0.05 -W 2 10.0.0.2 >/tmp/ping2.log 2>&1
    harness_log "event=ping round=2 $(tail -2 /tmp/ping2.log | tr '\n' ' ')"
    check "pings succeed after re-attach" grep -Eq '20 packets transmitted, 20 (packets )?received, 0% packet loss' /tmp/ping2.log
    xl destroy net
fi

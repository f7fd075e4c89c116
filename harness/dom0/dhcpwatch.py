#!/usr/bin/env python3
"""Log every DHCP message, ARP packet and TCP SYN/FIN/RST to or from port 80
crossing a dom0 bridge, stamped with dom0's uptime in ms (the HARNESS:
lines' clock), to see where a guest's time from DHCP to the key goes.

usage: dhcpwatch.py IFACE|any   (runs until killed; one line per message)
With `any`, every interface, each line naming it (if=): a guest's frame
shows on its vif when netback hands it to dom0, and on the bridge once the
bridge passes it on (a bridge port not yet forwarding drops it between)."""
import socket, struct, sys

TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM"}


def uptime_ms():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * 1000)


s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
ANY = sys.argv[1] == "any"
if not ANY:
    s.bind((sys.argv[1], 0))


def say(fields, ifname):
    print("dhcpwatch: t_ms=%d %s%s" % (uptime_ms(), fields, " if=" + ifname if ANY else ""), flush=True)


while True:
    f, where = s.recvfrom(2048)
    if where[0] == "lo":
        continue
    if f[12:14] == b"\x08\x06" and len(f) >= 42:
        op = struct.unpack("!H", f[20:22])[0]
        say("arp=%s sender=%s target=%s" % ("request" if op == 1 else "reply",
            socket.inet_ntoa(f[28:32]), socket.inet_ntoa(f[38:42])), where[0])
        continue
    if len(f) >= 54 and f[12:14] == b"\x08\x00" and f[14 + 9] == 6:
        ihl = (f[14] & 0xF) * 4
        t = 14 + ihl
        sport, dport = struct.unpack("!HH", f[t:t + 4])
        flags = f[t + 13]
        if 80 in (sport, dport) and flags & 0x07:
            names = [n for b, n in ((2, "SYN"), (16, "ACK"), (1, "FIN"), (4, "RST")) if flags & b]
            say("tcp=%s %d->%d" % ("+".join(names), sport, dport), where[0])
        continue
    if len(f) < 14 + 20 + 8 + 240 or f[12:14] != b"\x08\x00" or f[14 + 9] != 17:
        continue
    ihl = (f[14] & 0xF) * 4
    udp = 14 + ihl
    sport, dport = struct.unpack("!HH", f[udp:udp + 4])
    if {sport, dport} != {67, 68}:
        continue
    d = f[udp + 8:]
    xid = struct.unpack("!I", d[4:8])[0]
    chaddr = ":".join("%02x" % b for b in d[28:34])
    mtype, i = "?", 240
    while i + 1 < len(d) and d[i] != 255:
        if d[i] == 0:
            i += 1
            continue
        if d[i] == 53:
            mtype = TYPES.get(d[i + 2], str(d[i + 2]))
        i += 2 + d[i + 1]
    say("type=%s xid=%d client=%s" % (mtype, xid, chaddr), where[0])

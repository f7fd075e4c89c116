#!/usr/bin/env python3
"""ARP storm on a bridge: who-has requests for TARGET from random MACs and
random sender addresses in SUBNET, as fast as Python sends them, for SECONDS.

usage: arpstorm.py IFACE TARGET SECONDS"""
import os, socket, struct, sys, time

iface, target, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
tip = socket.inet_aton(target)
end = time.time() + secs
n = 0
while time.time() < end:
    mac = b"\x02" + os.urandom(5)
    sip = bytes([10, 0, 0, 100 + n % 150])
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, sip, b"\0" * 6, tip)
    s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
    n += 1
print("arpstorm: sent=%d" % n)

#!/usr/bin/env python3
"""A DHCP server that misbehaves on request, for the hostile DHCP scenario.

usage: roguedhcp.py IFACE MODEFILE
Each packet, the first line of MODEFILE says how to answer ("MODE [ADDR]"):
  normal    lease 120 s, router 10.0.0.1
  zero      option 51 = 0
  t1        option 51 = 60, option 58 = 3600, no 59 (panicked smoltcp 0.12)
  nak       OFFER, then NAK every REQUEST
  norouter  no option 3
  silent    no answer at all
ADDR (default 10.0.0.77) is the address offered. Logs one line per packet
received: "roguedhcp: t_ms=N rx=DISCOVER|REQUEST mode=M"."""
import socket, struct, sys, time

iface, modefile = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, 25, iface.encode() + b"\0")  # SO_BINDTODEVICE
s.bind(("0.0.0.0", 67))
SERVER = socket.inet_aton("10.0.0.1")
t0 = time.time()


def opts(raw):
    out, i = {}, 0
    while i < len(raw):
        code = raw[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(raw):
            break
        n = raw[i + 1]
        out[code] = raw[i + 2:i + 2 + n]
        i += 2 + n
    return out


def opt(code, data):
    return bytes([code, len(data)]) + data


while True:
    pkt, _ = s.recvfrom(4096)
    if len(pkt) < 240 or pkt[0] != 1 or pkt[236:240] != b"\x63\x82\x53\x63":
        continue
    o = opts(pkt[240:])
    mtype = o.get(53, b"\0")[0]
    words = (open(modefile).read().split() or ["normal"])
    mode, addr = words[0], (words[1] if len(words) > 1 else "10.0.0.77")
    name = {1: "DISCOVER", 3: "REQUEST"}.get(mtype, "OTHER%d" % mtype)
    print("roguedhcp: t_ms=%d rx=%s mode=%s" % ((time.time() - t0) * 1000, name, mode), flush=True)
    if mode == "silent" or mtype not in (1, 3):
        continue
    xid, chaddr = pkt[4:8], pkt[28:44]
    if mtype == 3 and mode == "nak":
        reply, yiaddr = 6, b"\0\0\0\0"
    else:
        reply, yiaddr = (2 if mtype == 1 else 5), socket.inet_aton(addr)
    head = struct.pack("!BBBB4sHH4s4s4s4s16s", 2, 1, 6, 0, xid, 0, 0, b"\0" * 4, yiaddr, SERVER, b"\0" * 4, chaddr)
    body = head + b"\0" * 192 + b"\x63\x82\x53\x63"
    body += opt(53, bytes([reply])) + opt(54, SERVER)
    if reply != 6:
        body += opt(1, socket.inet_aton("255.255.255.0"))
        if mode != "norouter":
            body += opt(3, SERVER)
        lease = {"zero": 0, "t1": 60}.get(mode, 120)
        body += opt(51, struct.pack("!I", lease))
        if mode == "t1":
            body += opt(58, struct.pack("!I", 3600))
    body += b"\xff" + b"\0" * 16
    s.sendto(body, ("255.255.255.255", 68))

#!/usr/bin/env python3
"""Slow and hostile SSH clients: N connections that send nothing and N that
send garbage, held for HOLD seconds. Prints what each saw.

usage: slowssh.py IP N HOLD"""
import socket, sys, time

ip, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
silent, junk = [], []
for i in range(n):
    try:
        silent.append(socket.create_connection((ip, 22), timeout=5))
    except OSError as e:
        print("silent%d=refused %s" % (i, e))
for i in range(n):
    try:
        c = socket.create_connection((ip, 22), timeout=5)
        c.send(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
        junk.append(c)
    except OSError as e:
        print("junk%d=refused %s" % (i, e))
time.sleep(hold)
for i, c in enumerate(junk):
    c.settimeout(1)
    try:
        print("junk%d=%r" % (i, c.recv(100)[:40]))
    except OSError as e:
        print("junk%d=closed %s" % (i, e))
for c in silent + junk:
    c.close()
print("slowssh: done")

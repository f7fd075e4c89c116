#!/usr/bin/env python3
"""Stamp a guest's first console output and its `ssh-key: ` line with
dom0's uptime in ms (the HARNESS: lines' clock), reading the console log
every 10 ms, and tell the bench's shell through a FIFO, which it reads with
the shell's own `read`: no process per look (a shell loop that forks a grep
every 100 ms both blurs a boot of a few hundred ms and takes dom0 CPU from
xenstored and netback while the guest boots).

usage: keywatch.py LOG FIFO TIMEOUT_S
Writes "ready" once running, "tick" every 0.5 s (the reader's chance to
check that the domain still exists), "first=MS" and "key=MS" as they
happen; exits (closing the FIFO) at the key or the timeout."""
import sys, time

log, fifo, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
out = open(fifo, "w", buffering=1)


def uptime_ms():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * 1000)


def say(s):
    out.write(s + "\n")


say("ready")
start = time.monotonic()
end, tick = start + limit, start + 0.5
seen, first, tail = 0, False, b""
while time.monotonic() < end:
    try:
        with open(log, "rb") as f:
            f.seek(seen)
            new = f.read()
    except OSError:
        new = b""
    if new:
        now = uptime_ms()
        if not first:
            say("first=%d" % now)
            first = True
        seen += len(new)
        # whole lines only: the last one may still be arriving
        lines = (tail + new).split(b"\n")
        tail = lines.pop()
        if any(l.lstrip(b"\r").startswith(b"ssh-key: ") for l in lines):
            say("key=%d" % now)
            break
    if time.monotonic() >= tick:
        say("tick")
        tick += 0.5
    time.sleep(0.01)

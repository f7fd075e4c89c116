#!/usr/bin/env python3
"""Stamp a guest's first console output and its `ssh-key: ` line with
dom0's uptime in ms (the HARNESS: lines' clock), reading the console log
every 10 ms: the bench's shell loop looks every 100 ms and forks a grep
each time, which both blurs a boot of a few hundred ms and costs dom0 CPU.

usage: keywatch.py LOG OUT TIMEOUT_S
Writes "ready" to OUT once running (start it before `xl create`), then
"first=MS" and "key=MS" lines as they happen; exits at the key or the
timeout."""
import os, sys, time

log, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])


def uptime_ms():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * 1000)


def say(s):
    with open(out, "a") as f:
        f.write(s + "\n")


say("ready")
end = time.monotonic() + limit
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
    time.sleep(0.01)

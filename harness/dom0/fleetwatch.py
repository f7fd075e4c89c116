#!/usr/bin/env python3
"""The density bench's watcher: every guest of a fleet, from its console's
`ssh-key: ` line to its first `ssh admin@IP status` that succeeds, in one
process. The shell loops it replaces forked a dozen processes every 0.2 s
(wc, grep, sed, awk per look and per guest) and, with 64 guests up, held
dom0's one vCPU at 100 %: every `xl create` and every guest's XenStore
round trip waited behind them.

usage: fleetwatch.py DIR T0_MS WAIT_S SSH_CMD...
DIR/names: "NAME ..." lines, appended by the shell as it creates guests;
DIR/created: made when creation is over. Writes DIR/keyed ("NAME MS"),
DIR/ssh ("NAME MS TRIES"), MS from T0_MS on dom0's uptime clock, and
DIR/done when every guest keyed and answered SSH, or WAIT_S after creation
ended. SSH_CMD is run with "{ip}" in its words replaced by the guest's
address, one at a time, round robin over the keyed guests; it succeeds
when its output has a line starting with "address=" (both guests'
`status` starts so).
Console logs: /var/log/xen/console/guest-NAME.log (xenconsoled)."""
import os
import subprocess
import sys
import time

CONSOLE = os.environ.get("FLEETWATCH_CONSOLE", "/var/log/xen/console") + "/guest-%s.log"
LOOK_S = 0.2


def uptime_ms():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * 1000)


class Guest:
    def __init__(self, name):
        self.name, self.seen, self.tail = name, 0, b""
        self.ip, self.keyed, self.tries = None, False, 0

    def read(self):
        """New whole console lines: the address and the key."""
        try:
            with open(CONSOLE % self.name, "rb") as f:
                f.seek(self.seen)
                new = f.read()
        except OSError:
            return False
        self.seen += len(new)
        lines = (self.tail + new).split(b"\n")
        self.tail = lines.pop()
        for l in lines:
            l = l.strip(b"\r")
            if self.ip is None and l.startswith(b"dhcp: lease ip="):
                self.ip = l.split(b"=", 1)[1].split(b"/")[0].split()[0].decode()
            if l.startswith(b"ssh-key: "):
                return True
        return False


def main():
    d, t0, wait_s, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    keyed_f = open(os.path.join(d, "keyed"), "a", buffering=1)
    ssh_f = open(os.path.join(d, "ssh"), "a", buffering=1)
    guests, by_name, names_seen = [], {}, 0
    probe, queue, end = None, [], None
    while True:
        try:
            with open(os.path.join(d, "names")) as f:
                names = [l.split()[0] for l in f if l.strip()]
        except OSError:
            names = []
        for n in names[names_seen:]:
            g = Guest(n)
            guests.append(g)
            by_name[n] = g
        names_seen = len(names)
        now = uptime_ms()
        for g in guests:
            if not g.keyed and g.read():
                g.keyed = True
                keyed_f.write("%s %d\n" % (g.name, now - t0))
                queue.append(g)
        # one SSH probe at a time, without waiting for it
        if probe is not None and probe[1].poll() is not None:
            g, p = probe
            out = p.stdout.read()
            probe = None
            if p.returncode == 0 and any(l.startswith(b"address=") for l in out.splitlines()):
                ssh_f.write("%s %d %d\n" % (g.name, uptime_ms() - t0, g.tries))
            else:
                queue.append(g)  # round robin: the others first
        if probe is None and queue:
            g = queue.pop(0)
            if g.ip is None:
                g.read()
            if g.ip is not None:
                g.tries += 1
                argv = [a.replace("{ip}", g.ip) for a in cmd]
                probe = (g, subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
            else:
                queue.append(g)
        if end is None and os.path.exists(os.path.join(d, "created")):
            end = time.monotonic() + wait_s
        if end is not None:
            all_done = all(g.keyed for g in guests) and not queue and probe is None
            if all_done or time.monotonic() >= end:
                break
        time.sleep(LOOK_S)
    if probe is not None:
        probe[1].kill()
    open(os.path.join(d, "done"), "w").close()


if __name__ == "__main__":
    main()

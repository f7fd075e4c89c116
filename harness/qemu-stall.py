#!/usr/bin/env python3
"""What the harness host was doing when its serial line went quiet.

    qemu-stall.py OUT_DIR

run-xen.sh calls this when nothing has reached the serial line for
HARNESS_STALL_S seconds (again after as long a quiet, up to 5 times) (a whole-host freeze was seen in density runs: one
QEMU vCPU thread at 100 %, the other idle, not a line from Xen, dom0 or any
guest for 14 minutes). It asks QEMU's monitor (OUT_DIR/monitor.sock) for
every vCPU's state and registers into OUT_DIR/stall-monitor.txt, then
switches Xen's serial console to Xen (Ctrl-A three times) on
OUT_DIR/serial.sock, sends the debug keys d (each pCPU's registers and
stack), q (domains and vCPUs), r (run queues), 0 (dom0's vCPU registers) and switches back,
then dom0's magic SysRq l (running tasks) and w (blocked tasks); the
answers land in serial.log. Nothing here changes a guest's state, but the
input wakes the host: a session found with every CPU idle and nothing
happening for 4 minutes went on as soon as the keys arrived (a wakeup lost
somewhere in the nested emulation). Prints one summary line (the vCPUs'
RIPs and halted flags).
"""
import os
import re
import socket
import sys
import time

MONITOR_CMDS = ["info status", "info cpus", "info registers -a", "info irq"]
XEN_KEYS = b"dqr0"
# 9 first: the console's log level, else dom0 ("quiet") prints the headers only
DOM0_SYSRQ = b"9lw"


def talk(path, data, settle=2.0):
    """Send `data` on a unix socket, return what came back within `settle` s."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    out = b""
    s.sendall(data)
    end = time.time() + settle
    s.settimeout(0.2)
    while time.time() < end:
        try:
            b = s.recv(65536)
            if not b:
                break
            out += b
        except socket.timeout:
            pass
    s.close()
    return out


def main():
    out = sys.argv[1]
    report = []
    mon = os.path.join(out, "monitor.sock")
    try:
        for cmd in MONITOR_CMDS:
            got = talk(mon, cmd.encode() + b"\n", settle=3.0)
            got = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", got.decode("latin-1").replace("\r", ""))
            # the monitor echoes each keystroke: keep its answer only
            got = got.split(cmd, 1)[-1].lstrip()
            report.append("### %s\n%s" % (cmd, got))
    except OSError as e:
        report.append("monitor: %s" % e)
    text = "\n".join(report)
    with open(os.path.join(out, "stall-monitor.txt"), "a") as f:
        f.write(text)
    ser = os.path.join(out, "serial.sock")
    try:
        # Ctrl-A x3 gives Xen the console, each key one dump, then back to dom0
        talk(ser, b"\x01\x01\x01", settle=1.0)
        for k in XEN_KEYS:
            talk(ser, bytes([k]), settle=3.0)
        talk(ser, b"\x01\x01\x01", settle=1.0)
        # and dom0's kernel (hvc0's magic SysRq, Ctrl-O KEY): l the running
        # tasks' backtraces (which process spins), w the blocked ones
        for k in DOM0_SYSRQ:
            talk(ser, b"\x0f" + bytes([k]), settle=3.0)
        sent = "sent"
    except OSError as e:
        sent = "not sent (%s)" % e
    rips = re.findall(r"RIP=([0-9a-f]+)", text)
    halted = re.findall(r"HLT=(\d)", text)
    print("stall: monitor=stall-monitor.txt rips=%s halted=%s xen_debug_keys=%s" % (
        ",".join(rips) or "-", ",".join(halted) or "-", sent))


if __name__ == "__main__":
    main()

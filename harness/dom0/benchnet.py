#!/usr/bin/env python3
"""dom0's side of the bench's network measurements (harness/scenarios/bench.sh).

usage: benchnet.py ping ADDR COUNT INTERVAL_S
       benchnet.py sink ADDR PORT BYTES     (send BYTES, then wait for the peer to close)
       benchnet.py source ADDR PORT BYTES   (read BYTES, then close)
Prints one line of key=value fields. The same client measures both guests,
so its own (Python, TCG) overhead cancels out of the ratios."""
import math, os, socket, struct, sys, time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def pct(sorted_v, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_v:
        return None
    k = max(0, min(len(sorted_v) - 1, math.ceil(p / 100 * len(sorted_v)) - 1))
    return sorted_v[k]


def ping(addr, count, interval):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    rtts, lost = [], 0
    payload = b"bench" * 8
    for seq in range(count):
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
        t0 = time.perf_counter()
        s.sendto(pkt, (addr, 0))
        deadline = t0 + 1.0
        got = False
        while not got:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 0xF) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq:
                rtts.append((time.perf_counter() - t0) * 1000)
                got = True
        if not got:
            lost += 1
        time.sleep(interval)
    v = sorted(rtts)
    f = lambda x: "-" if x is None else "%.3f" % x
    print("sent=%d received=%d lost=%d p50_ms=%s p99_ms=%s min_ms=%s max_ms=%s"
          % (count, len(v), lost, f(pct(v, 50)), f(pct(v, 99)), f(v[0] if v else None), f(v[-1] if v else None)))


def connect(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    s.settimeout(120)
    return s


def sink(addr, port, total):
    s = connect(addr, port)
    chunk = b"\0" * 65536
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        sent += s.send(chunk[: min(len(chunk), total - sent)])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):  # the sink closes after it has read our FIN
        pass
    dt = time.perf_counter() - t0
    s.close()
    print("bytes=%d s=%.3f mb_s=%.2f" % (sent, dt, sent / dt / 1e6))


def source(addr, port, total):
    s = connect(addr, port)
    t0 = time.perf_counter()
    got = 0
    while got < total:
        b = s.recv(min(65536, total - got))
        if not b:
            break
        got += len(b)
    dt = time.perf_counter() - t0
    s.close()
    print("bytes=%d s=%.3f mb_s=%.2f" % (got, dt, got / dt / 1e6))


if __name__ == "__main__":
    cmd = sys.argv[1]
    try:
        if cmd == "ping":
            ping(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        elif cmd == "sink":
            sink(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        elif cmd == "source":
            source(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        else:
            sys.exit("usage: benchnet.py ping|sink|source ...")
    except (OSError, ValueError) as e:
        print('error reason="%s"' % e)
        sys.exit(1)

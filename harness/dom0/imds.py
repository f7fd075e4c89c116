#!/usr/bin/env python3
"""An EC2-style instance metadata service for the harness.

usage: imds.py MODE KEYFILE [ADDR [PORT]]
MODE: v2 (tokens required), v1 (no token endpoint), both; openstack (only
/openstack/latest/meta_data.json and user_data: no EC2 tree); nocloud (a
NoCloud seed under /seed/: meta-data, user-data).
Serves /latest/api/token (PUT), /latest/meta-data/public-keys/,
.../public-keys/0/openssh-key, instance-id, local-hostname, and
/latest/user-data when IMDS_USER_DATA names a file (served as its bytes).
Logs one line per request to stdout.

One thread, one selector, requests parsed with plain string operations:
http.server (a thread, file objects and an email-package header parse per
request) took ~60-110 ms a request under the harness's TCG, where a cloud's
metadata service answers in about one. HTTP/1.1, keep-alive unless the
client says `Connection: close` (or speaks HTTP/1.0)."""
import json, os, secrets, selectors, socket, sys, time

mode, keyfile = sys.argv[1], sys.argv[2]
addr = sys.argv[3] if len(sys.argv) > 3 else "169.254.169.254"
port = int(sys.argv[4]) if len(sys.argv) > 4 else 80
key = open(keyfile).read().strip()
user_data = open(os.environ["IMDS_USER_DATA"], "rb").read() if os.environ.get("IMDS_USER_DATA") else None
tokens = set()
if mode == "openstack":
    FILES = {"/openstack/latest/meta_data.json": json.dumps({
        "uuid": "6f0e3a37-5d4b-4a7a-8f4e-6d2b1c9e0a11", "hostname": "os-harness",
        "public_keys": {"harness-key": key + "\n"},
        "keys": [{"name": "harness-key", "type": "ssh", "data": key + "\n"}]})}
    if user_data is not None:
        FILES["/openstack/latest/user_data"] = user_data
elif mode == "nocloud":
    FILES = {"/seed/meta-data": "instance-id: iid-nocloud-net\nlocal-hostname: nc-harness\npublic-keys:\n  - '%s'\n" % key,
             "/seed/user-data": user_data if user_data is not None else "#cloud-config\n"}
else:
    FILES = {
        "/latest/meta-data/public-keys/": "0=harness-key",
        "/latest/meta-data/public-keys/0/openssh-key": key + "\n",
        "/latest/meta-data/instance-id": "i-0harness0000000001",
        "/latest/meta-data/local-hostname": "ip-10-0-0-99.harness.internal",
    }
    if user_data is not None:
        FILES["/latest/user-data"] = user_data


def answer(method, path, headers):
    """(status, body) for one request."""
    if method == "PUT":
        if path != "/latest/api/token" or mode in ("v1", "openstack", "nocloud"):
            return (403 if mode == "v1" else 404), "no"
        if not headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return 400, "missing ttl"
        t = secrets.token_urlsafe(24)
        tokens.add(t)
        return 200, t
    if method != "GET":
        return 501, "unsupported method"
    if mode in ("openstack", "nocloud"):
        body = FILES.get(path)
        return (404, "not found") if body is None else (200, body)
    tok = headers.get("x-aws-ec2-metadata-token")
    if mode == "v2" and tok not in tokens:
        return 401, "unauthorized"
    if tok is not None and tok not in tokens and mode != "v1":
        return 401, "unauthorized"
    body = FILES.get(path)
    return (404, "not found") if body is None else (200, body)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           431: "Request Header Fields Too Large", 501: "Not Implemented"}
MAX_HEAD = 16384
IDLE_S = 30


def respond(conn, status, body, close):
    data = body if isinstance(body, bytes) else body.encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n" % (
        status, REASONS.get(status, "?"), len(data), "Connection: close\r\n" if close else "")
    conn["out"] += head.encode() + data
    conn["close"] = close


def handle(conn):
    """Answer every complete request in the connection's buffer."""
    buf = conn["in"]
    while not conn["close"]:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                respond(conn, 431, "header too large", True)
            break
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split()
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_HEAD:
            respond(conn, 400, "bad content-length", True)
            break
        if len(buf) < end + 4 + length:
            break
        buf = buf[end + 4 + length:]
        if len(parts) != 3:
            respond(conn, 400, "bad request line", True)
            break
        method, path, version = parts
        close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
        status, body = answer(method, path, headers)
        respond(conn, status, body, close)
        print('imds-server: %s "%s" %d %d' % (conn["peer"], lines[0], status, len(body)), flush=True)
    conn["in"] = b"" if conn["close"] else buf


sel = selectors.DefaultSelector()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(128)
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, None)
conns = {}


def drop(sock):
    sel.unregister(sock)
    conns.pop(sock, None)
    sock.close()


while True:
    for k, ev in sel.select(timeout=5):
        if k.data is None:
            try:
                s, peer = srv.accept()
            except OSError:
                continue
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns[s] = {"in": b"", "out": b"", "close": False, "peer": peer[0], "seen": time.monotonic()}
            sel.register(s, selectors.EVENT_READ, "c")
            continue
        s, c = k.fileobj, conns.get(k.fileobj)
        if c is None:
            continue
        c["seen"] = time.monotonic()
        if ev & selectors.EVENT_READ:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                # the peer is done sending: finish what it is owed, then close
                c["close"] = True
                if not c["out"]:
                    drop(s)
                    continue
            elif not c["close"]:
                c["in"] += data
                handle(c)
        if c["out"]:
            try:
                n = s.send(c["out"])
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                drop(s)
                continue
            c["out"] = c["out"][n:]
        if not c["out"] and c["close"]:
            drop(s)
            continue
        sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if c["out"] else 0), "c")
    now = time.monotonic()
    for s in [s for s, c in conns.items() if now - c["seen"] > IDLE_S]:
        drop(s)

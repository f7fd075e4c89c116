#!/usr/bin/env python3
"""An EC2-style instance metadata service for the harness.

usage: imds.py MODE KEYFILE [ADDR [PORT]]
MODE: v2 (tokens required), v1 (no token endpoint), both; openstack (only
/openstack/latest/meta_data.json and user_data: no EC2 tree); nocloud (a
NoCloud seed under /seed/: meta-data, user-data).
Serves /latest/api/token (PUT), /latest/meta-data/public-keys/,
.../public-keys/0/openssh-key, instance-id, local-hostname, and
/latest/user-data when IMDS_USER_DATA names a file (served as its bytes).
Logs one line per request to stdout."""
import http.server, json, os, secrets, sys

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

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        if self.path != "/latest/api/token" or mode in ("v1", "openstack", "nocloud"):
            return self.send(403 if mode == "v1" else 404, "no")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if not ttl:
            return self.send(400, "missing ttl")
        t = secrets.token_urlsafe(24)
        tokens.add(t)
        self.send(200, t)

    def do_GET(self):
        if mode in ("openstack", "nocloud"):
            body = FILES.get(self.path)
            return self.send(404, "not found") if body is None else self.send(200, body)
        tok = self.headers.get("X-aws-ec2-metadata-token")
        if mode == "v2" and tok not in tokens:
            return self.send(401, "unauthorized")
        if tok is not None and tok not in tokens and mode != "v1":
            return self.send(401, "unauthorized")
        body = FILES.get(self.path)
        if body is None:
            return self.send(404, "not found")
        self.send(200, body)

    def log_message(self, fmt, *args):
        print("imds-server: " + (fmt % args), flush=True)

http.server.ThreadingHTTPServer((addr, port), H).serve_forever()

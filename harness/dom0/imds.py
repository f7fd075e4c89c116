#!/usr/bin/env python3
"""An EC2-style instance metadata service for the harness.

usage: imds.py MODE KEYFILE [ADDR [PORT]]
MODE: v2 (tokens required), v1 (no token endpoint), both.
Serves /latest/api/token (PUT), /latest/meta-data/public-keys/,
.../public-keys/0/openssh-key, instance-id, local-hostname. Logs one line per
request to stdout."""
import http.server, secrets, sys

mode, keyfile = sys.argv[1], sys.argv[2]
addr = sys.argv[3] if len(sys.argv) > 3 else "169.254.169.254"
port = int(sys.argv[4]) if len(sys.argv) > 4 else 80
key = open(keyfile).read().strip()
tokens = set()
FILES = {
    "/latest/meta-data/public-keys/": "0=harness-key",
    "/latest/meta-data/public-keys/0/openssh-key": key + "\n",
    "/latest/meta-data/instance-id": "i-0harness0000000001",
    "/latest/meta-data/local-hostname": "ip-10-0-0-99.harness.internal",
}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        if self.path != "/latest/api/token" or mode == "v1":
            return self.send(403 if mode == "v1" else 404, "no")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if not ttl:
            return self.send(400, "missing ttl")
        t = secrets.token_urlsafe(24)
        tokens.add(t)
        self.send(200, t)

    def do_GET(self):
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

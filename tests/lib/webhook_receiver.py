#!/usr/bin/env python3
"""A webhook receiver for tests: HTTPS on loopback, checks X-Signature
(sha256=<hex HMAC-SHA256 of the body>) with the key file and appends one JSON
line per request to OUT: {"valid": bool, "event": <body as JSON or null>}.

    webhook_receiver.py PORT CERT KEY HMAC_KEY_FILE OUT
"""
import hashlib
import hmac
import http.server
import json
import ssl
import sys

port, cert, key, key_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
secret = open(key_file, "rb").read().rstrip(b"\r\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(want, self.headers.get("X-Signature", ""))
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        with open(out, "a") as f:
            f.write(json.dumps({"valid": valid, "event": event, "raw": body.decode("utf-8", "replace")}) + "\n")
        self.send_response(200 if valid else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()

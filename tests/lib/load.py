#!/usr/bin/env python3
"""A bounded HTTP load loop for the blue/green tests.

Sends GET requests (a new TCP connection each) to URL until STOP_FILE exists,
MAX requests were sent, or SECONDS passed, whichever comes first. Writes a JSON
summary to OUT: total, failed, the bodies seen in order of first appearance
with their counts, and the first few errors.

  load.py URL OUT [--max N] [--seconds S] [--stop-file F] [--pause-ms P]
"""
import argparse
import http.client
import json
import os
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("out")
ap.add_argument("--max", type=int, default=20000)
ap.add_argument("--seconds", type=float, default=120)
ap.add_argument("--stop-file", default=None)
ap.add_argument("--pause-ms", type=float, default=5)
a = ap.parse_args()

u = urllib.parse.urlsplit(a.url)
total = failed = 0
bodies = {}
errors = []
end = time.monotonic() + a.seconds
while total < a.max and time.monotonic() < end:
    if a.stop_file and os.path.exists(a.stop_file):
        break
    total += 1
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c.request("GET", u.path or "/")
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        c.close()
        if r.status != 200:
            raise RuntimeError("status %d" % r.status)
        bodies[body] = bodies.get(body, 0) + 1
    except Exception as e:  # every failure counts
        failed += 1
        if len(errors) < 10:
            errors.append("%s %s" % (time.strftime("%H:%M:%S"), e))
            with open(a.out + ".errors", "a") as f:
                f.write(errors[-1] + "\n")
    if a.pause_ms:
        time.sleep(a.pause_ms / 1000)
with open(a.out + ".tmp", "w") as f:
    json.dump({"total": total, "failed": failed, "bodies": bodies, "errors": errors}, f)
os.rename(a.out + ".tmp", a.out)

#!/usr/bin/env python3
"""A bounded HTTP load loop for the blue/green tests.

Sends GET requests (a new TCP connection each) to URL until STOP_FILE exists,
MAX requests were sent, or SECONDS passed, whichever comes first. Writes a JSON
summary to OUT: total, failed, the bodies seen in order of first appearance
with their counts, and the first few errors.

  load.py URL OUT [--max N] [--seconds S] [--stop-file F] [--pause-ms P]
          [--timeout S] [--phase-log LOG --phase-re RE]

With --phase-log, the lines of LOG (the agent's log, read as it grows) that
match RE set the current phase (RE's first group); answers are also counted
per phase ("phases": {phase: {body-or-status: count}}). Failures are split
into "failed_conn" (no HTTP answer) and "failed_status" (an answer not 200).
"first_seen"/"last_seen" give the wall time of each body or "status N".
"""
import re
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
ap.add_argument("--timeout", type=float, default=5)
ap.add_argument("--phase-log", default=None)
ap.add_argument("--phase-re", default=None)
a = ap.parse_args()
phase_re = re.compile(a.phase_re) if a.phase_re else None
phase, phase_pos, phases = "start", 0, {}
failed_conn = failed_status = 0
first_seen, last_seen = {}, {}


def read_phase():
    global phase, phase_pos
    try:
        with open(a.phase_log, "rb") as f:
            f.seek(phase_pos)
            data = f.read()
    except OSError:
        return
    end = data.rfind(b"\n") + 1
    phase_pos += end
    for line in data[:end].decode(errors="replace").splitlines():
        m = phase_re.search(line)
        if m:
            phase = next((g for g in m.groups() if g is not None), m.group(0))


def seen(label):
    now = time.time()
    first_seen.setdefault(label, now)
    last_seen[label] = now
    p = phases.setdefault(phase, {})
    p[label] = p.get(label, 0) + 1

u = urllib.parse.urlsplit(a.url)
total = failed = 0
bodies = {}
errors = []
end = time.monotonic() + a.seconds
while total < a.max and time.monotonic() < end:
    if a.stop_file and os.path.exists(a.stop_file):
        break
    total += 1
    if phase_re:
        read_phase()
    answered = False
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
        c.request("GET", u.path or "/")
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        c.close()
        answered = True
        if r.status != 200:
            seen("status %d" % r.status)
            raise RuntimeError("status %d" % r.status)
        bodies[body] = bodies.get(body, 0) + 1
        seen(body)
    except Exception as e:  # every failure counts
        failed += 1
        if answered:
            failed_status += 1
        else:
            failed_conn += 1
            seen("no answer")
        if len(errors) < 10:
            errors.append("%s %s" % (time.strftime("%H:%M:%S"), e))
            with open(a.out + ".errors", "a") as f:
                f.write(errors[-1] + "\n")
    if a.pause_ms:
        time.sleep(a.pause_ms / 1000)
with open(a.out + ".tmp", "w") as f:
    json.dump({"total": total, "failed": failed, "bodies": bodies, "errors": errors,
               "failed_conn": failed_conn, "failed_status": failed_status,
               "phases": phases, "first_seen": first_seen, "last_seen": last_seen}, f)
os.rename(a.out + ".tmp", a.out)

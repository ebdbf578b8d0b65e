#!/usr/bin/env python3
"""Runs one command and prints what it cost, as key=value lines.

    measure.py cpu LOG -- CMD...   exact CPU time (wait4), wall time, disk writes
    measure.py mem LOG -- CMD...   the same plus peak RSS (ru_maxrss through
                                   /usr/bin/time when installed) and the peak
                                   private memory (RssAnon, sampled every ~1 ms)

The command's stdout and stderr go through a pipe into LOG, so its log lines
never count as disk writes. Keys:

    rc            exit status (or -SIGNAL)
    wall_us       wall time
    utime_us stime_us cpu_us   user, system and total CPU (the command and the
                  children it waited for; in mem mode also /usr/bin/time's own)
    write_bytes   /proc/PID/io write_bytes: bytes the command caused to be
                  written to storage (read after it exited, before reaping)
    maxrss_kb     getrusage ru_maxrss (mem mode; "sampled" VmHWM without time)
    rss_anon_peak_kb  highest RssAnon seen while it ran (mem mode)

Why two modes: a child forked from this Python process inherits Python's
resident set as its ru_maxrss floor (the kernel keeps the high-water mark of
the pre-exec memory), so the mem mode runs the command under /usr/bin/time,
a small process, and reads the high-water mark from it.
"""
import os
import subprocess
import sys
import threading
import time

TIME = "/usr/bin/time"


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def io_field(pid, key):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def child_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ("cpu", "mem") or sys.argv[3] != "--":
        sys.stderr.write("usage: measure.py cpu|mem LOG -- CMD...\n")
        return 2
    mode, log_path, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    use_time = mode == "mem" and os.access(TIME, os.X_OK)
    argv = [TIME, "-f", "EFTIME maxrss_kb=%M", "--"] + cmd if use_time else cmd

    log = open(log_path, "wb")
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    captured = []

    def drain():
        for chunk in iter(lambda: p.stdout.read1(65536), b""):
            captured.append(chunk)

    t = threading.Thread(target=drain, daemon=True)
    t.start()

    anon_peak = 0
    hwm_peak = 0
    target = None if use_time else p.pid
    while True:
        if mode == "cpu":
            os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
            break
        if os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        if target is None:
            target = child_of(p.pid)
        if target is not None:
            a = status_kb(target, "RssAnon")
            h = status_kb(target, "VmHWM")
            anon_peak = max(anon_peak, a or 0)
            hwm_peak = max(hwm_peak, h or 0)
        time.sleep(0.001)
    # A zombie's /proc/PID/io still holds its counters; /usr/bin/time's
    # include the command it reaped.
    write_bytes = io_field(p.pid, "write_bytes")
    _, wstatus, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(wstatus)
    t.join(5)
    out = b"".join(captured)

    maxrss = None
    if use_time:
        kept = []
        for line in out.splitlines(keepends=True):
            s = line.decode("utf-8", "replace")
            if s.startswith("EFTIME "):
                maxrss = int(s.split("maxrss_kb=")[1])
            elif s.startswith("Command exited with non-zero status"):
                continue
            else:
                kept.append(line)
        out = b"".join(kept)
    log.write(out)
    log.close()

    print(f"rc={p.returncode}")
    print(f"wall_us={int(wall * 1e6)}")
    print(f"utime_us={int(ru.ru_utime * 1e6)}")
    print(f"stime_us={int(ru.ru_stime * 1e6)}")
    print(f"cpu_us={int((ru.ru_utime + ru.ru_stime) * 1e6)}")
    print(f"write_bytes={write_bytes if write_bytes is not None else 'unknown'}")
    if mode == "mem":
        if maxrss is None:
            print(f"maxrss_kb={hwm_peak}")
            print("maxrss_source=sampled VmHWM (no /usr/bin/time)")
        else:
            print(f"maxrss_kb={maxrss}")
            print("maxrss_source=getrusage ru_maxrss via /usr/bin/time")
        print(f"rss_anon_peak_kb={anon_peak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

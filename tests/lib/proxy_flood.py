#!/usr/bin/env python3
"""Loads for the traffic proxy's tests (tests/integration/test_proxy.sh).

  server PORT NAME            HTTP/1.0 on 127.0.0.1:PORT answering NAME, any number of
                              connections (selectors), until killed
  pp2server PORT              answers each connection with the source address of the
                              PROXY protocol v2 header it starts with ("none" without one)
  pp2client PORT              connects to PORT, prints "match" when the backend saw our
                              address, else what it saw
  flood PORT IDLE SLOW SECS READY_FILE
                              IDLE connections that send nothing and SLOW slowloris clients
                              (an unfinished request, one header line a second) to PORT;
                              writes READY_FILE once all connected, runs SECS seconds,
                              prints when the proxy closed the idle ones
  get PORT                    one request; prints "BODY MS" (MS: time to the answer)
  hold PORT SECS              connects, sends nothing, prints the seconds until the proxy
                              closed it, or "open" after SECS
  fullserver PORT             listens with a full accept queue (never accepts): further
                              SYNs are dropped, so connecting to it hangs
  ctl SOCKET CMD              sends CMD to the proxy's control socket, prints the answer
  echoserver PORT             echoes each connection's bytes back as they come; closes
                              after the client's FIN (threads, until killed)
  burst PORT N                N clients at once, each sends its own bytes (1 B to 64 KiB,
                              some bulk) and a FIN, reads the echo to the end; prints
                              "intact N/N" or what went wrong
  stall PORT MB               a client that sends MB MiB and reads none of the echo for
                              2 s while 20 other clients are served; prints "others=K/20
                              in S s" and whether the stalled one got all its bytes back
"""
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time


def server(port, name):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    body = (name + "\n").encode()
    answer = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    bufs = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    while True:
                        c, _ = ls.accept()
                        c.setblocking(False)
                        bufs[c] = b""
                        sel.register(c, selectors.EVENT_READ, "c")
                except (BlockingIOError, OSError):
                    pass
                continue
            c = key.fileobj
            try:
                d = c.recv(4096)
            except OSError:
                d = b""
            if d:
                bufs[c] += d
                if b"\r\n\r\n" not in bufs[c]:
                    continue
                try:
                    c.send(answer)
                except OSError:
                    pass
            sel.unregister(c)
            del bufs[c]
            c.close()


def pp2server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    while True:
        c, _ = ls.accept()
        c.settimeout(1)
        try:
            head = b""
            try:
                while len(head) < 16:
                    d = c.recv(16 - len(head))
                    if not d:
                        break
                    head += d
            except socket.timeout:
                pass  # the client waits for us: no header came
            if len(head) < 16 or head[:12] != sig:
                c.sendall(b"none\n")
            else:
                n = struct.unpack("!H", head[14:16])[0]
                rest = b""
                while len(rest) < n:
                    rest += c.recv(n - len(rest))
                if head[12] == 0x21 and head[13] == 0x11:
                    src = socket.inet_ntoa(rest[0:4])
                    sport = struct.unpack("!H", rest[8:10])[0]
                    dport = struct.unpack("!H", rest[10:12])[0]
                    c.sendall(b"%s:%d>%d\n" % (src.encode(), sport, dport))
                else:
                    c.sendall(b"header %02x %02x\n" % (head[12], head[13]))
        except OSError:
            pass
        c.close()


def pp2client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    me = "%s:%d>%d" % (s.getsockname()[0], s.getsockname()[1], port)
    got = s.recv(200).decode().strip()
    print("match" if got == me else "want %s got %s" % (me, got))


def flood(port, n_idle, n_slow, secs, ready_file):
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    born = {}
    slow = []
    for i in range(n_idle + n_slow):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        born[s] = None
        if i >= n_idle:
            slow.append(s)
    # Wait until each is connected (writable) or refused.
    for s in born:
        sel.register(s, selectors.EVENT_WRITE)
    pending = len(born)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            sel.unregister(key.fileobj)
            born[key.fileobj] = time.monotonic()
            pending -= 1
    for s in born:
        if born[s] is None:
            born[s] = time.monotonic()
        else:
            sel.register(s, selectors.EVENT_READ)
    for s in slow:
        try:
            s.send(b"GET / HTTP/1.1\r\nHost: flood\r\n")
        except OSError:
            pass
    with open(ready_file, "w") as f:
        f.write("ready %.2f\n" % (time.monotonic() - t0))
    idle = set(born) - set(slow)
    closed = {}
    next_drip = time.monotonic() + 1
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for key, _ in sel.select(0.2):
            s = key.fileobj
            try:
                d = s.recv(100)
            except OSError:
                d = b""
            if not d:
                sel.unregister(s)
                closed[s] = time.monotonic() - born[s]
        if time.monotonic() >= next_drip:
            next_drip += 1
            for s in slow:
                if s not in closed:
                    try:
                        s.send(b"X-a: b\r\n")
                    except OSError:
                        pass
    idle_closed = sorted(closed[s] for s in idle if s in closed)
    # Connected late (SYNs the kernel dropped at a full backlog are sent
    # again after 1 s, 3 s, ...): too young to have reached the timeout.
    now = time.monotonic()
    stuck = sum(1 for s in idle if s not in closed and now - born[s] > 4.5)
    slow_closed = sum(1 for s in slow if s in closed)
    if idle_closed:
        print("idle_closed=%d first=%.1f last=%.1f slow_closed=%d idle_open_older_4.5s=%d" % (
            len(idle_closed), idle_closed[0], idle_closed[-1], slow_closed, stuck))
    else:
        print("idle_closed=0 first=- last=- slow_closed=%d idle_open_older_4.5s=%d" % (
            slow_closed, stuck))
    for s in born:
        s.close()


def get(port):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        body = data.split(b"\r\n\r\n", 1)[-1].decode().strip() or "empty"
    except OSError as e:
        body = "error:" + type(e).__name__
    print("%s %d" % (body, (time.monotonic() - t0) * 1000))


def hold(port, secs):
    s = socket.create_connection(("127.0.0.1", port), timeout=secs)
    t0 = time.monotonic()
    try:
        d = s.recv(100)
        print("closed %.2f" % (time.monotonic() - t0) if not d else "data")
    except socket.timeout:
        print("open")
    except OSError:
        print("closed %.2f" % (time.monotonic() - t0))


def fullserver(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(0)
    fill = []
    for _ in range(2):  # a backlog of 0 still queues one; the next waits in SYN_RECV
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fill.append(s)
    while True:
        time.sleep(60)


def ctl(path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(cmd.encode() + b"\n")
    print(s.recv(2000).decode().strip())


def echoserver(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(512)

    def echo(c):
        with c:
            for d in iter(lambda: c.recv(65536), b""):
                c.sendall(d)

    while True:
        c, _ = ls.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def echo_once(port, payload, stall=0.0, timeout=20):
    """Sends payload (from a thread), reads the echo to EOF; True if intact."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    if stall:
        time.sleep(stall)
    got = []
    try:
        got.extend(iter(lambda: s.recv(65536), b""))
    except OSError:
        pass
    t.join(timeout)
    s.close()
    return b"".join(got) == payload


def burst(port, n):
    go = threading.Barrier(n)
    ok = [False] * n

    def one(i):
        size = 1 if i == 0 else (i * 7919) % 65536 + 1
        payload = bytes((i + k) % 251 for k in range(size))
        go.wait()
        ok[i] = echo_once(port, payload)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    print("intact %d/%d" % (sum(ok), n))


def stall(port, mb):
    payload = os.urandom(mb << 20)
    res = {}
    t = threading.Thread(target=lambda: res.update(ok=echo_once(port, payload, stall=2.0)))
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    others = sum(echo_once(port, b"x" * 100, timeout=5) for _ in range(20))
    took = time.monotonic() - t0
    t.join(60)
    print("others=%d/20 in %.1f s; stalled %s" % (others, took,
          "intact" if res.get("ok") else "broken"))


if __name__ == "__main__":
    # The flood and its backend hold thousands of sockets: a soft limit of
    # 1024 (a usual default) would not do.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    a = sys.argv[1:] or ["help"]
    if a[0] == "server":
        server(int(a[1]), a[2])
    elif a[0] == "pp2server":
        pp2server(int(a[1]))
    elif a[0] == "pp2client":
        pp2client(int(a[1]))
    elif a[0] == "flood":
        flood(int(a[1]), int(a[2]), int(a[3]), float(a[4]), a[5])
    elif a[0] == "get":
        get(int(a[1]))
    elif a[0] == "hold":
        hold(int(a[1]), float(a[2]))
    elif a[0] == "fullserver":
        fullserver(int(a[1]))
    elif a[0] == "ctl":
        ctl(a[1], a[2])
    elif a[0] == "echoserver":
        echoserver(int(a[1]))
    elif a[0] == "burst":
        burst(int(a[1]), int(a[2]))
    elif a[0] == "stall":
        stall(int(a[1]), int(a[2]))
    else:
        sys.exit(__doc__)

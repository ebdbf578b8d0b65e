#!/usr/bin/env python3
"""ENGINE STAND-IN for the fleet simulation (tests/bench/fleet_sim.sh) only.

This is NOT a container engine and no test of edgeflip's behaviour may rely
on it: it answers the Docker/Podman Engine API calls (v1.41) that
port/engine/docker_api.c and docker_watch.c make, keeps containers and
networks as entries in a dict, and runs nothing. It exists so that one
machine can run 200 real `edgeflip run` agents whose deploys succeed
without 200 Podman engines. Every other test uses real Podman.

    engine_standin.py --dir DIR --count N --log FILE [--seconds S]

Listens on DIR/engine-0000.sock ... DIR/engine-(N-1).sock, one engine
(its own containers and networks) per socket, all in one asyncio process.
Appends one JSON line per container create/start/remove to FILE:
{"t": unix seconds, "engine": i, "op": "start", "name": ..., "image": ...,
 "env": [...]}. Exits after S seconds (default 1800) or on SIGTERM.

Calls answered: GET /_ping, /version, /images/REF/json, POST
/images/create, POST /containers/create?name=, /containers/ID/start|stop|
rename|exec, DELETE /containers/ID, GET /containers/json, /containers/ID/json,
/exec/ID/json, POST /exec/ID/start, GET/POST/DELETE /networks..., GET /events
(kept open, silent). Anything else: 404 with a JSON message, and a line
"unknown" in the log, so a new call in the agent shows up.
"""
import argparse
import asyncio
import hashlib
import itertools
import json
import os
import signal
import sys
import time
import urllib.parse

_ids = itertools.count(1)
MAX_BODY = 4 << 20


def new_id(kind):
    return hashlib.sha256(f"{kind}-{next(_ids)}-{os.getpid()}".encode()).hexdigest()


class Engine:
    """One engine's state: containers by id, networks by name."""

    def __init__(self, index, log):
        self.index = index
        self.log = log
        self.containers = {}
        self.networks = {}
        self.execs = {}
        self.ip = 2

    def record(self, op, c):
        self.log.write(json.dumps({"t": round(time.time(), 3), "engine": self.index, "op": op,
                                   "name": c["Name"], "image": c["Image"],
                                   "env": c.get("Env", [])}) + "\n")
        self.log.flush()

    def find(self, ref):
        if ref in self.containers:
            return self.containers[ref]
        for c in self.containers.values():
            if c["Name"] == ref or (len(ref) >= 12 and c["Id"].startswith(ref)):
                return c
        return None

    def inspect(self, c):
        nets = {n: {"IPAddress": c["IP"], "Aliases": c["Aliases"].get(n, [])}
                for n in c["Networks"]}
        return {"Id": c["Id"], "Name": "/" + c["Name"], "Image": c["Image"],
                "Config": {"Image": c["Image"], "Labels": c["Labels"], "Env": c["Env"]},
                "State": {"Status": c["State"], "Running": c["State"] == "running",
                          "ExitCode": 0, "StartedAt": c.get("StartedAt", "")},
                "RestartCount": 0,
                "NetworkSettings": {"IPAddress": c["IP"], "Ports": {}, "Networks": nets}}

    def handle(self, method, path, query, body):
        """Returns (status, JSON-able body or bytes)."""
        q = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        if parts and parts[0].startswith("v1."):
            parts = parts[1:]
        if parts == ["_ping"]:
            return 200, b"OK"
        if parts == ["version"]:
            return 200, {"Version": "0.0-standin", "ApiVersion": "1.41",
                         "Components": [{"Name": "edgeflip engine stand-in"}]}
        if parts[:1] == ["images"]:
            if method == "POST" and parts[1:] == ["create"]:
                return 200, b'{"status":"Pulled (stand-in)"}\n'
            if method == "GET" and len(parts) >= 3 and parts[-1] == "json":
                ref = "/".join(parts[1:-1])
                return 200, {"Id": "sha256:" + hashlib.sha256(ref.encode()).hexdigest(),
                             "RepoTags": [ref], "Config": {}}
        if parts[:1] == ["containers"]:
            return self.containers_call(method, parts[1:], q, body)
        if parts[:1] == ["exec"] and len(parts) == 3:
            e = self.execs.get(parts[1])
            if e is None:
                return 404, {"message": "no such exec"}
            if parts[2] == "start":
                return 200, b""
            return 200, {"ExitCode": 0, "Running": False, "ID": parts[1]}
        if parts[:1] == ["networks"]:
            return self.networks_call(method, parts[1:], q, body)
        return None

    def containers_call(self, method, parts, q, body):
        if method == "GET" and parts == ["json"]:
            want = json.loads(q.get("filters", "{}")).get("label", [])
            out = []
            for c in self.containers.values():
                if all(lab.split("=", 1)[0] in c["Labels"] for lab in want):
                    out.append({"Id": c["Id"], "Names": ["/" + c["Name"]], "Image": c["Image"],
                                "State": c["State"], "Labels": c["Labels"]})
            return 200, out
        if method == "POST" and parts == ["create"]:
            name = q.get("name", "")
            if self.find(name):
                return 409, {"message": f"the container name {name} is already in use"}
            spec = json.loads(body or b"{}")
            cid = new_id("c")
            self.ip = self.ip % 250 + 1
            nets = list(((spec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}).keys())
            c = {"Id": cid, "Name": name, "Image": spec.get("Image", ""),
                 "Labels": spec.get("Labels") or {}, "Env": spec.get("Env") or [],
                 "State": "created", "IP": f"10.88.{self.index % 250}.{self.ip}",
                 "Networks": nets or ["podman"], "Aliases": {}}
            self.containers[cid] = c
            self.record("create", c)
            return 201, {"Id": cid, "Warnings": []}
        if not parts:
            return None
        c = self.find(parts[0])
        if c is None:
            return 404, {"message": f"no container with name or ID {parts[0]} found"}
        rest = parts[1:]
        if method == "GET" and rest == ["json"]:
            return 200, self.inspect(c)
        if method == "POST" and rest == ["start"]:
            if c["State"] == "running":
                return 304, b""
            c["State"] = "running"
            c["StartedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.record("start", c)
            return 204, b""
        if method == "POST" and rest == ["stop"]:
            if c["State"] != "running":
                return 304, b""
            c["State"] = "exited"
            return 204, b""
        if method == "POST" and rest == ["rename"]:
            c["Name"] = q.get("name", c["Name"])
            return 204, b""
        if method == "POST" and rest == ["exec"]:
            eid = new_id("e")
            self.execs[eid] = c["Id"]
            return 201, {"Id": eid}
        if method == "DELETE" and not rest:
            del self.containers[c["Id"]]
            self.record("remove", c)
            return 204, b""
        return None

    def networks_call(self, method, parts, q, body):
        if method == "GET" and not parts:
            return 200, [{"Name": n, "Id": v["Id"], "Labels": v["Labels"]}
                         for n, v in self.networks.items()]
        if method == "POST" and parts == ["create"]:
            spec = json.loads(body or b"{}")
            name = spec.get("Name", "")
            if name in self.networks:
                return 409, {"message": f"network {name} already exists"}
            self.networks[name] = {"Id": new_id("n"), "Labels": spec.get("Labels") or {}}
            return 201, {"Id": self.networks[name]["Id"]}
        if not parts:
            return None
        n = self.networks.get(parts[0])
        if n is None:
            return 404, {"message": f"network {parts[0]} not found"}
        if method == "GET" and len(parts) == 1:
            return 200, {"Name": parts[0], "Id": n["Id"], "Labels": n["Labels"]}
        if method == "DELETE" and len(parts) == 1:
            del self.networks[parts[0]]
            return 204, b""
        if method == "POST" and parts[1:] in (["connect"], ["disconnect"]):
            return 200, b""
        return None


REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
           404: "Not Found", 409: "Conflict", 400: "Bad Request"}


async def serve(engine, reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            n = int(headers.get("content-length", "0") or 0)
            if n > MAX_BODY:
                return
            body = await reader.readexactly(n) if n else b""
            path, _, query = target.partition("?")
            if path.endswith("/events"):
                # The agent's event stream: answered, then silent until it goes.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                await writer.drain()
                await reader.read()
                return
            try:
                answer = engine.handle(method, path, query, body)
            except (ValueError, KeyError) as e:
                answer = (400, {"message": f"stand-in: bad request: {e}"})
            if answer is None:
                engine.log.write(json.dumps({"t": round(time.time(), 3), "engine": engine.index,
                                             "op": "unknown", "name": f"{method} {target}",
                                             "image": "", "env": []}) + "\n")
                answer = (404, {"message": f"engine stand-in: {method} {path} not implemented"})
            status, data = answer
            if not isinstance(data, bytes):
                data = json.dumps(data).encode()
            ctype = b"application/json" if data[:1] in (b"{", b"[") else b"text/plain"
            hdr = (f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\n"
                   f"Api-Version: 1.41\r\nContent-Length: {0 if status in (204, 304) else len(data)}\r\n")
            writer.write(hdr.encode() + b"Content-Type: " + ctype + b"\r\n\r\n")
            if status not in (204, 304):
                writer.write(data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--seconds", type=int, default=1800)
    a = ap.parse_args()
    if not 1 <= a.count <= 2000:
        sys.exit("engine stand-in: --count must be 1..2000")
    log = open(a.log, "a")
    servers = []
    for i in range(a.count):
        path = os.path.join(a.dir, f"engine-{i:04d}.sock")
        if os.path.exists(path):
            os.unlink(path)
        eng = Engine(i, log)
        servers.append(await asyncio.start_unix_server(
            lambda r, w, eng=eng: serve(eng, r, w), path=path))
    print(f"engine stand-in: {a.count} sockets under {a.dir}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), a.seconds)
    except asyncio.TimeoutError:
        pass
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())

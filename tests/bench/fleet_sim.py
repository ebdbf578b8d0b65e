#!/usr/bin/env python3
"""Figures of the fleet simulation (tests/bench/fleet_sim.sh), from its logs.

    fleet_sim.py spread ACCESS_LOG FROM INTERVAL AGENTS [BUCKETS]
        polls (POST .../git-upload-pack lines of nginx's access log, whose
        last field is $msec) in [FROM, FROM + INTERVAL): a histogram of BUCKETS (10)
        buckets, the largest deviation of a bucket from uniform, and what
        AGENTS devices with independent, uniformly random phases would show
        (binomial spread, for comparison).
    fleet_sim.py bytes ACCESS_LOG FROM TO
        requests, polls and HTTP bytes (request + reply) in [FROM, TO)
    fleet_sim.py adoption STANDIN_LOG MARK START DURATION PCT INTERVAL OUT_DIR ID...
        each device's deploy time (first container start by the engine
        stand-in whose environment holds MARK, device i = engine i) against
        its planned time from the wariness formula of docs/fleet.md; writes
        OUT_DIR/adoption.dat and OUT_DIR/adoption.gp and prints figures.
"""
import hashlib
import json
import math
import sys


def wariness(device_id):
    h = hashlib.sha256(b"edgeflip-rollout:" + device_id.encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def planned(w, start, duration, pct):
    p = pct / 100.0
    if w < p:
        return start
    return start + duration * (w - p) / (1 - p)


def log_lines(path):
    with open(path) as f:
        for line in f:
            f_ = line.split()
            if len(f_) >= 8:
                yield f_


def poll_times(path):
    """Times of polls: a poll is one POST to git-upload-pack (protocol v2
    ls-refs). A fetch is one more, but only deploys fetch, never a quiet poll."""
    return [float(f[7]) for f in log_lines(path) if is_poll(f)]


def is_poll(f):
    return f[2] == "POST" and f[3].endswith("/git-upload-pack")


def spread(path, t0, interval, agents, buckets=10):
    t0, interval, agents, buckets = float(t0), float(interval), int(agents), int(buckets)
    times = [t - t0 for t in poll_times(path) if t0 <= t < t0 + interval]
    counts = [0] * buckets
    for t in times:
        counts[min(int(t / interval * buckets), buckets - 1)] += 1
    n = len(times)
    mean = n / buckets if n else 0
    dev = max(abs(c - mean) / mean for c in counts) if mean else float("inf")
    # Independent uniform phases: each bucket is Binomial(agents, 1/buckets);
    # the expected largest relative deviation of `buckets` of them, by sampling.
    import random
    rng = random.Random(1)
    sims = []
    for _ in range(2000):
        c = [0] * buckets
        for _ in range(agents):
            c[rng.randrange(buckets)] += 1
        m = agents / buckets
        sims.append(max(abs(x - m) / m for x in c))
    sims.sort()
    # The cumulative view (Kolmogorov-Smirnov D): the largest gap between the
    # share of polls before t and t / interval. Reference: random phases.
    xs = sorted(t / interval for t in times)
    ks = max((max(abs((k + 1) / n - x), abs(k / n - x)) for k, x in enumerate(xs)), default=1.0)
    ks_sims = []
    for _ in range(2000):
        ys = sorted(rng.random() for _ in range(agents))
        ks_sims.append(max(max(abs((k + 1) / agents - y), abs(k / agents - y))
                           for k, y in enumerate(ys)))
    ks_sims.sort()
    print(f"polls in the window: {n} (agents {agents})")
    print(f"histogram ({buckets} buckets of {interval / buckets:.1f} s): {' '.join(map(str, counts))}")
    print(f"max deviation from uniform: {dev * 100:.0f}%")
    print(f"random-phase reference (median / 95th percentile of max deviation): "
          f"{sims[len(sims) // 2] * 100:.0f}% / {sims[int(len(sims) * 0.95)] * 100:.0f}%")
    print(f"max gap of the cumulative share from uniform: {ks * 100:.1f}%")
    print(f"random-phase reference for the cumulative gap (median / 95th percentile): "
          f"{ks_sims[len(ks_sims) // 2] * 100:.1f}% / {ks_sims[int(len(ks_sims) * 0.95)] * 100:.1f}%")


def traffic(path, t0, t1):
    t0, t1 = float(t0), float(t1)
    reqs = polls = nbytes = 0
    for f in log_lines(path):
        t = float(f[7])
        if t0 <= t < t1:
            reqs += 1
            nbytes += int(f[5]) + int(f[6])
            if is_poll(f):
                polls += 1
    print(f"requests={reqs}\npolls={polls}\nbytes={nbytes}")


def adoption(path, mark, start, duration, pct, interval, out_dir, ids):
    start, duration, pct, interval = float(start), float(duration), float(pct), float(interval)
    first = {}
    unknown = 0
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["op"] == "unknown":
                unknown += 1
            if e["op"] == "start" and any(mark in v for v in e.get("env", [])):
                first.setdefault(e["engine"], e["t"])
    rows, lags, missing = [], [], []
    for i, dev in enumerate(ids):
        w = wariness(dev)
        plan = planned(w, start, duration, pct)
        got = first.get(i)
        if got is None:
            missing.append(dev)
            continue
        lags.append(got - plan)
        rows.append((plan - start, got - start, w, dev))
    rows.sort()
    with open(f"{out_dir}/adoption.dat", "w") as f:
        f.write("# planned_s actual_s wariness device (seconds after the rollout start)\n")
        for r in rows:
            f.write(f"{r[0]:.3f} {r[1]:.3f} {r[2]:.6f} {r[3]}\n")
    # Adoption curves: share of devices deployed by time t (actual, and as
    # planned by the formula), one step per device.
    with open(f"{out_dir}/adoption-curve.dat", "w") as f:
        f.write("# t_s share_actual  |  t_s share_planned\n")
        act = sorted(r[1] for r in rows)
        pln = sorted(r[0] for r in rows)
        n = len(ids)
        f.write(f"{-interval:.3f} 0 {-interval:.3f} 0\n")
        for k in range(len(rows)):
            f.write(f"{act[k]:.3f} {(k + 1) / n:.4f} {pln[k]:.3f} {(k + 1) / n:.4f}\n")
    with open(f"{out_dir}/adoption.gp", "w") as f:
        f.write(f"""set terminal pngcairo size 1000,640 noenhanced
set output '{out_dir}/adoption.png'
set title 'edgeflip fleet simulation: {len(ids)} agents, rollout {duration:.0f} s from {pct:g} %, poll interval {interval:.0f} s (engine stand-in)'
set xlabel 'seconds after rollout start'
set ylabel 'share of devices on the new commit'
set key left top
set grid
set samples 2000
set yrange [0:1.05]
set xrange [-{interval:.0f}:{duration + 2 * interval:.0f}]
share(t) = t < 0 ? 0 : (t > {duration} ? 1 : {pct / 100} + (1 - {pct / 100}) * t / {duration})
plot share(x) with lines lw 2 title 'formula: P + (1 - P) * t / duration', \\
     '{out_dir}/adoption-curve.dat' using 1:2 with steps lw 2 title 'devices deployed (measured)', \\
     '{out_dir}/adoption-curve.dat' using 3:4 with steps dt 2 title 'devices planned (wariness of each id)'
""")
    late = [x for x in lags if x > interval]
    # Devices whose turn came at least one interval after the start had
    # polled the commit before it: their lag is the agent's own reaction.
    # The others (the first share and the earliest of the wave) learn of
    # the commit only at their next poll, up to an interval later.
    wave = [got - start - plan_s for plan_s, got_s, _, _ in rows if plan_s >= interval
            for got in [got_s + start]]
    early = [got_s - plan_s for plan_s, got_s, _, _ in rows if plan_s < interval]
    print(f"deployed={len(rows)} of {len(ids)}")
    if missing:
        print(f"not deployed: {' '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    if lags:
        s = sorted(lags)
        print(f"lag_max={s[-1]:.1f}\nlag_min={s[0]:.1f}\nlag_median={s[len(s) // 2]:.1f}")
        print(f"late_beyond_interval={len(late)}")
    if wave:
        print(f"wave_devices={len(wave)}\nwave_lag_max={max(wave):.1f}\n"
              f"wave_lag_median={sorted(wave)[len(wave) // 2]:.1f}")
    if early:
        print(f"first_devices={len(early)}\nfirst_lag_max={max(early):.1f}")
    print(f"unknown_engine_calls={unknown}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "spread":
        spread(*args)
    elif cmd == "bytes":
        traffic(*args)
    elif cmd == "adoption":
        adoption(*args[:7], args[7:])
    else:
        sys.exit(f"fleet_sim.py: unknown command {cmd}")


if __name__ == "__main__":
    main()

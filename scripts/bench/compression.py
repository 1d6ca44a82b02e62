#!/usr/bin/env python3
"""Gzip answers of the JSON API and the status page, exporter builds side by side.

For each round, each exporter binary given is started in turn against one
fake GridPane fleet and, --settle seconds after its fleet is complete
(every site read, none pending: the state a user sees),
`wrk -t2 -c8 --latency -H 'Accept-Encoding: gzip'` runs against each
target (--target, repeatable; by default the whole site list, a 100-site
page of it and the status page): requests/s, p50 and p99. Then the
exporter's RSS (`VmRSS`) and its peak (`VmHWM`). Rounds alternate the
order of the builds, so that a noisy neighbour hits all of them; the
tables give the median of the rounds, and the ratio of each build to the
first one.

  cargo build --release --bin gridpane-backup-exporter --example bench_fleet
  scripts/bench/compression.py --fleet target/release/examples/bench_fleet \\
      cached=target/release/gridpane-backup-exporter tower=/path/to/other/gridpane-backup-exporter

Needs python3, wrk and curl. Every process it starts is stopped before it
exits.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
DEFAULT_TARGETS = ["/api/v1/sites", "/api/v1/sites?limit=100", "/"]


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ms(v):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("m", 60000.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float(v)


def wrk(url, duration):
    """(requests/s, p50 ms, p99 ms, answers other than 2xx) of one wrk run
    asking for gzip."""
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{duration}", "--timeout", "60s", "--latency",
         "-H", "Accept-Encoding: gzip", url],
        capture_output=True, text=True, timeout=600, check=False).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and p50 and p99):
        sys.exit(f"wrk failed on {url}:\n{out}")
    # A 503 is an answer the API's byte budget had no room for.
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return (float(rps.group(1)), ms(p50.group(1)), ms(p99.group(1)),
            int(refused.group(1)) if refused else 0)


def gzip_bytes(url):
    """Size of the gzip answer, checking that it is one."""
    out = subprocess.run(
        ["curl", "-fsS", "-H", "Accept-Encoding: gzip", "-o", "/dev/null",
         "-w", "%{size_download} %header{content-encoding}", url],
        capture_output=True, text=True, timeout=120, check=True).stdout.split()
    if out[1:] != ["gzip"]:
        sys.exit(f"{url}: not gzipped ({out})")
    return int(out[0])


def complete(base, sites):
    """Whether /metrics shows all `sites` sites, none pending."""
    out = subprocess.run(["curl", "-fs", f"{base}/metrics"], capture_output=True,
                         check=False).stdout.decode("utf-8", "replace")

    def total(name):
        return sum(float(line.rsplit(" ", 1)[1]) for line in out.splitlines()
                   if line.startswith(name + "{"))
    try:
        return total("gridpane_sites") == sites and total("gridpane_sites_pending") == 0
    except (ValueError, IndexError):
        return False


def run(binary, config, work, targets, duration, settle, sites):
    """Starts the exporter, waits for its complete fleet, loads each target;
    per target (rps, p50, p99, refused, bytes), and RSS once complete,
    after the runs, and peak (MiB)."""
    port = free_port()
    log = open(os.path.join(work, "exporter.log"), "w")
    proc = subprocess.Popen(
        [binary, "--config.file", config, "--web.listen-address", f"{HOST}:{port}",
         "--log.level", "warn"], stdout=log, stderr=log)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 600
        while subprocess.run(["curl", "-fs", "-o", "/dev/null", f"{base}/-/ready"],
                             check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{binary} did not become ready")
            time.sleep(0.1)
        while not complete(base, sites):
            if proc.poll() is not None or time.monotonic() > deadline + 300:
                sys.exit(f"{binary}: fleet not complete")
            time.sleep(0.2)
        at_ready = status_kib(proc.pid, "VmRSS") / 1024
        # Measured on a settled exporter, not while it is still starting.
        time.sleep(settle)
        results = {}
        for target in targets:
            size = gzip_bytes(base + target)
            results[target] = wrk(base + target, duration) + (size,)
            print(f"   {target}: {results[target][0]:.1f} requests/s", file=sys.stderr)
        return results, (at_ready, status_kib(proc.pid, "VmRSS") / 1024,
                         status_kib(proc.pid, "VmHWM") / 1024)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fleet", required=True, help="the bench_fleet example binary")
    ap.add_argument("--sites", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="10s", help="of each wrk run")
    ap.add_argument("--settle", type=float, default=5,
                    help="seconds between a complete fleet and the first run")
    ap.add_argument("--target", action="append",
                    help="a path to load (repeatable; default: " + ", ".join(DEFAULT_TARGETS) + ")")
    ap.add_argument("exporters", nargs="+", help="name=path of an exporter binary")
    a = ap.parse_args()
    targets = a.target or DEFAULT_TARGETS
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"missing: {tool}")
    builds = [spec.partition("=")[::2] for spec in a.exporters]

    work = tempfile.mkdtemp(prefix="gridpane-compression.")
    config = os.path.join(work, "bench.yml")
    fleet = subprocess.Popen([a.fleet, "--sites", str(a.sites), "--requests-per-minute", "0",
                              "--config", config], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    loads = {name: {t: [] for t in targets} for name, _ in builds}
    memory = {name: [] for name, _ in builds}
    try:
        for _ in range(600):
            if os.path.exists(config) and os.path.getsize(config) > 0:
                break
            time.sleep(0.1)
        for r in range(a.rounds):
            # Alternate which build goes first.
            order = builds if r % 2 == 0 else builds[::-1]
            for name, binary in order:
                print(f"== round {r + 1}: {name}", file=sys.stderr)
                results, mem = run(binary, config, work, targets, a.duration, a.settle, a.sites)
                for t, v in results.items():
                    loads[name][t].append(v)
                memory[name].append(mem)
    finally:
        fleet.terminate()
        fleet.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    def med(values, i):
        return statistics.median(v[i] for v in values)

    first = builds[0][0]
    print(f"{a.sites} sites, gzip, `wrk -t2 -c8 -d{a.duration}`, median of {a.rounds} rounds\n")
    print(f"| target | build | gzip bytes | requests/s | p50 ms | p99 ms | not 2xx "
          f"| requests/s / {first} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for t in targets:
        for name, _ in builds:
            v = loads[name][t]
            ratio = med(v, 0) / med(loads[first][t], 0)
            print(f"| `{t}` | {name} | {med(v, 4):.0f} | {med(v, 0):.1f} | {med(v, 1):.2f} "
                  f"| {med(v, 2):.2f} | {med(v, 3):.0f} | {ratio:.2f} |")
    print("\n| build | RSS once complete MiB | RSS after the runs MiB | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name, _ in builds:
        m = memory[name]
        print(f"| {name} | {med(m, 0):.1f} | {med(m, 1):.1f} | {med(m, 2):.1f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Hostile HTTP clients against the exporter, on loopback only.

For each exporter binary given, against one fake GridPane fleet:

  memory   RSS of the exporter before and while CLIENTS connections each
           send `GET /api/v1/sites` and never read the answer (held for
           HOLD seconds, RSS sampled every 0.2 s); with --gzip they ask
           for gzip.
  plain    IDLE keep-alive connections (each sends `GET /-/healthy` every
           5 s and reconnects when closed) and HALF connections that send
           half a request head and nothing more (reconnecting when closed),
           then the time a fresh `/metrics` scrape takes (given up after
           GIVE_UP seconds).
  tls      the same with TLS and basic auth: half of the idle connections
           authenticate, half do not (401); the half-sent ones send the
           first bytes of a TLS handshake. The scrape authenticates.

Each exporter is loaded once its fleet is complete (every site read, none
pending: the state a user sees, not ready while the first sweep still
runs). Every connection count and every wait is bounded; the script stops its
threads, the exporters and the fleet before it exits. Prints a markdown
table.

  cargo build --release --bin gridpane-backup-exporter --example bench_fleet
  scripts/bench/hostile_clients.py --fleet target/release/examples/bench_fleet \\
      new=target/release/gridpane-backup-exporter old=/path/to/main/build/gridpane-backup-exporter

Needs python3 and openssl (for a throwaway certificate); raise `ulimit -n`
above 2 * (IDLE + HALF + CLIENTS) + 100.
"""

import argparse
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
USER = "prometheus"
PASSWORD = "bench-password"
# bcrypt of PASSWORD at cost 10 (a throwaway benchmark credential).
HASH = "$2b$10$QMYfZl5xhNaHQcJ2kOg6ROzpDjPrBgEAOZ2c9GDkCqOLrlD6aY8Oa"
AUTH = "Basic " + __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Exporter:
    def __init__(self, binary, config, work, web_config=None):
        self.port = free_port()
        args = [binary, "--config.file", config, "--web.listen-address",
                f"{HOST}:{self.port}", "--log.level", "warn"]
        if web_config:
            args += ["--web.config.file", web_config]
        self.tls = web_config is not None
        self.log = open(os.path.join(work, f"exporter-{self.port}.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)

    def connect(self, timeout, ctx=None):
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname=HOST)
        return s

    def wait_ready(self, ctx, seconds=600):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"exporter exited with {self.proc.returncode}")
            try:
                if get(self, "/-/ready", ctx, 2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit("exporter not ready in time")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def get(exp, path, ctx, timeout, body=None):
    """GET on a fresh connection: (status, body length); the body itself
    goes into the list `body` when one is given."""
    if ctx is None:
        conn = http.client.HTTPConnection(HOST, exp.port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection(HOST, exp.port, timeout=timeout, context=ctx)
    try:
        conn.request("GET", path, headers={"Authorization": AUTH} if ctx else {})
        resp = conn.getresponse()
        data = resp.read()
        if body is not None:
            body.append(data)
        return resp.status, len(data)
    finally:
        conn.close()


def series_sum(text, name):
    """The sum of a metric's samples in an exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{"))


def wait_complete(exp, ctx, sites, seconds=900):
    """Until /metrics shows all `sites` sites, none pending."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = []
        try:
            if get(exp, "/metrics", ctx, 30, body)[0] == 200:
                text = body[0].decode("utf-8", "replace")
                if (series_sum(text, "gridpane_sites") == sites
                        and series_sum(text, "gridpane_sites_pending") == 0):
                    return
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.2)
    sys.exit(f"fleet of {sites} sites not complete in time")


def hold_unread(exp, clients, hold, gzip):
    """CLIENTS connections that request /api/v1/sites and never read."""
    req = b"GET /api/v1/sites HTTP/1.1\r\nHost: x\r\n"
    req += b"Accept-Encoding: gzip\r\n\r\n" if gzip else b"\r\n"
    base = rss_mib(exp.proc.pid)
    socks = []
    for _ in range(clients):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(5)
        s.connect((HOST, exp.port))
        s.sendall(req)
        socks.append(s)
    peak = base
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        peak = max(peak, rss_mib(exp.proc.pid))
        time.sleep(0.2)
    for s in socks:
        s.close()
    return base, peak


def persistent(connect, poke, stop):
    """A connection poked every 5 s, opened again whenever it is closed."""
    s = None
    while not stop.is_set():
        try:
            if s is None:
                s = connect()
            poke(s)
        except OSError:
            if s is not None:
                s.close()
            s = None
        stop.wait(5)
    if s is not None:
        s.close()


def crowd(exp, ctx, idle, half, stop):
    """Threads keeping IDLE keep-alive and HALF half-sent connections open."""

    def idle_client(i):
        auth = ctx is not None and i % 2 == 0
        path = b"/-/ready" if ctx else b"/-/healthy"
        req = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n"
        req += f"Authorization: {AUTH}\r\n\r\n".encode() if auth else b"\r\n"

        def poke(s):
            s.sendall(req)
            s.settimeout(2)
            if not s.recv(65536):
                raise OSError("closed")

        persistent(lambda: exp.connect(5, ctx), poke, stop)

    def half_client(_):
        def connect():
            s = exp.connect(5)
            s.sendall(b"\x16\x03\x01" if ctx else b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            return s

        def poke(s):
            s.settimeout(0.01)
            try:
                if s.recv(1) == b"":
                    raise OSError("closed")
            except socket.timeout:
                pass

        persistent(connect, poke, stop)

    threads = [threading.Thread(target=idle_client, args=(i,), daemon=True) for i in range(idle)]
    threads += [threading.Thread(target=half_client, args=(i,), daemon=True) for i in range(half)]
    for t in threads:
        t.start()
        time.sleep(0.002)
    return threads


def lockout(exp, ctx, idle, half, give_up):
    stop = threading.Event()
    threads = crowd(exp, ctx, idle, half, stop)
    time.sleep(3)
    started = time.monotonic()
    try:
        status, _ = get(exp, "/metrics", ctx, give_up)
        took = f"{time.monotonic() - started:.2f} s ({status})"
    except OSError as e:
        took = f"none after {give_up} s ({type(e).__name__})"
    stop.set()
    for t in threads:
        t.join(10)
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fleet", required=True, help="the bench_fleet example binary")
    ap.add_argument("--sites", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=150)
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--idle", type=int, default=400)
    ap.add_argument("--half", type=int, default=200)
    ap.add_argument("--give-up", type=float, default=40)
    ap.add_argument("--gzip", action="store_true",
                    help="the unread clients ask for gzip")
    ap.add_argument("--memory-only", action="store_true",
                    help="skip the crowded-connection scrapes")
    ap.add_argument("exporters", nargs="+", help="name=path of an exporter binary")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="gridpane-hostile.")
    config = os.path.join(work, "bench.yml")
    fleet = subprocess.Popen([a.fleet, "--sites", str(a.sites), "--requests-per-minute", "0",
                              "--config", config], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    rows = []
    try:
        for _ in range(600):
            if os.path.exists(config) and os.path.getsize(config) > 0:
                break
            time.sleep(0.1)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                        os.path.join(work, "tls.key"), "-out", os.path.join(work, "tls.crt")],
                       check=True, capture_output=True)
        web = os.path.join(work, "web.yml")
        with open(web, "w") as f:
            f.write(f"tls_server_config:\n  cert_file: {work}/tls.crt\n  key_file: {work}/tls.key\n"
                    f"basic_auth_users:\n  {USER}: '{HASH}'\n")
        ctx = ssl.create_default_context(cafile=os.path.join(work, "tls.crt"))

        for spec in a.exporters:
            name, _, binary = spec.partition("=")
            print(f"== {name}", file=sys.stderr)
            exp = Exporter(binary, config, work)
            exp.wait_ready(None)
            wait_complete(exp, None, a.sites)
            size = get(exp, "/api/v1/sites", None, 60)[1]
            base, peak = hold_unread(exp, a.clients, a.hold, a.gzip)
            exp.stop()
            if a.memory_only:
                rows.append((name, size / 2**20, base, peak, "not run", "not run"))
                continue
            exp = Exporter(binary, config, work)
            exp.wait_ready(None)
            wait_complete(exp, None, a.sites)
            plain = lockout(exp, None, a.idle, a.half, a.give_up)
            exp.stop()
            exp = Exporter(binary, config, work, web)
            exp.wait_ready(ctx)
            wait_complete(exp, ctx, a.sites)
            tls = lockout(exp, ctx, a.idle, a.half, a.give_up)
            exp.stop()
            rows.append((name, size / 2**20, base, peak, plain, tls))
    finally:
        fleet.terminate()
        fleet.wait(10)

    print(f"| build | /api/v1/sites (MiB) | RSS idle (MiB) | RSS peak, {a.clients} unread "
          f"(MiB) | scrape, {a.idle} idle + {a.half} half-sent | same, TLS + basic auth |")
    print("|---|---|---|---|---|---|")
    for name, size, base, peak, plain, tls in rows:
        print(f"| {name} | {size:.1f} | {base:.0f} | {peak:.0f} | {plain} | {tls} |")


if __name__ == "__main__":
    main()

"""Alertmanager webhook receiver that prints one line per alert.

Standard library only. Usage: python -u alert_log.py [PORT]  (default 8080).
Each line: status, alert name, severity, the alert's labels, its summary.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def lines(notification):
    """The printed lines for one Alertmanager webhook notification."""
    for alert in notification.get("alerts", []):
        labels = dict(alert.get("labels", {}))
        name = labels.pop("alertname", "?")
        severity = labels.pop("severity", "-")
        summary = alert.get("annotations", {}).get("summary", "")
        status = alert.get("status", notification.get("status", "?")).upper()
        parts = [status, name, f"severity={severity}"]
        parts += [f"{k}={v!r}" for k, v in sorted(labels.items())]
        parts.append("::")
        if summary:
            parts.append(summary)
        yield " ".join(parts)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            notification = json.loads(body)
        except ValueError:
            self.send_error(400, "expected an Alertmanager webhook JSON body")
            return
        for line in lines(notification):
            print(line, flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"alert-log: POST Alertmanager webhooks here\n")

    def log_message(self, format, *args):
        pass  # no access log: the alerts are the log


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    server = ThreadingHTTPServer(("", port), Handler)
    print(f"alert-log: listening on :{port}", flush=True)
    server.serve_forever()

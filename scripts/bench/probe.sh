#!/usr/bin/env bash
# The probe on a 200 MB backups.monitoring.log: wall time and peak RSS of
# `gridpane-backup-exporter probe`, ROUNDS runs (default 5), from
# /usr/bin/time. The log is the one tests/it/probe.rs uses: a 100 MB line
# without a newline, then failure lines of 50,000 distinct sites (more than
# the probe keeps) with a reason line each; plus 300 snapshot folders of 30
# revisions.
#
# Usage: scripts/bench/probe.sh [BINARY]   (default: target/release/gridpane-backup-exporter)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/gridpane-backup-exporter}
rounds=${ROUNDS:-5}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gp=$work/opt/gridpane
mkdir -p "$gp/backups/duplications/snapshots" "$work/textfile"
echo 3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab > "$work/uuid"
for s in $(seq 1 300); do
  d="$gp/backups/duplications/snapshots/gridpane-3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab-site-$s.example.com"
  mkdir -p "$d"
  for r in $(seq 1 30); do : > "$d/$r"; done
done
python3 - "$gp/backups.monitoring.log" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    chunk = b"x" * (1 << 20)
    for _ in range(100):
        f.write(chunk)
    f.write(b"\n")
    written, i = 100 << 20, 0
    while written < 200 << 20:
        line = (b"Thu-Jul--1-01:00:11-EDT-2021 | site-%d.example.com | Duplicacy Fail {1}\n"
                b"Automated Local Backup Failed!\n") % (i % 50000)
        f.write(line)
        written += len(line)
        i += 1
PY
ls -l "$gp/backups.monitoring.log"
echo "wall_s peak_rss_kib"
for _ in $(seq 1 "$rounds"); do
  # Read once before timing, so every round reads from the page cache.
  cat "$gp/backups.monitoring.log" > /dev/null
  /usr/bin/time -f "%e %M" "$bin" probe --gridpane.dir "$gp" --gridpane.uuid-file "$work/uuid" \
    --textfile.directory "$work/textfile" --log.level error
done
grep -E '^gridpane_probe_(success|skipped)' "$work/textfile/gridpane_backups.prom"

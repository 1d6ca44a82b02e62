#!/usr/bin/env bash
# Freshness under GridPane's rate limits: the fake GridPane enforces the
# limits observed on the real API (RateLimit::gridpane(): 12 units a minute
# per endpoint, a /site page costing 2, and 60 requests a minute per
# account, in fixed one-minute windows), the exporter runs with its default
# budget, and the first poll after the start (which sweeps /site to its
# end) is timed: that is a complete refresh. Prints a markdown table with
# the 429s seen and the floor the limits permit.
#
#   scripts/bench/freshness.sh                 # 1k and 10k sites (about 12 min)
#   SIZES="1000" scripts/bench/freshness.sh
set -euo pipefail

SIZES=${SIZES:-"1000 10000"}
EXPORTER_PORT=${EXPORTER_PORT:-19888}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
echo "building release binaries..." >&2
cargo build --release --locked --quiet --bin gridpane-backup-exporter --example bench_fleet
bin=$root/target/release/gridpane-backup-exporter
fleet_bin=$root/target/release/examples/bench_fleet

work=$(mktemp -d /tmp/gridpane-fresh.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
metric() { awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { print s + 0 }' "$1"; }

rows=()
for n in $SIZES; do
    echo "== $n sites" >&2
    rm -f "$work/bench.yml"
    "$fleet_bin" --sites "$n" --rate-limit --interval 1h --config "$work/bench.yml" > "$work/fleet.log" 2>&1 &
    fleet_pid=$!
    pids+=("$fleet_pid")
    for ((i = 0; i < 600; i++)); do
        [[ -s $work/bench.yml ]] && break
        sleep 0.1
    done
    servers=$(( n / 25 > 0 ? n / 25 : 1 ))

    t0=$(date +%s.%N)
    "$bin" --config.file "$work/bench.yml" --web.listen-address "127.0.0.1:$EXPORTER_PORT" \
        --log.level warn > "$work/exporter.log" 2>&1 &
    exp_pid=$!
    pids+=("$exp_pid")
    until curl -fs "http://127.0.0.1:$EXPORTER_PORT/-/ready" >/dev/null; do
        kill -0 "$exp_pid" 2>/dev/null || { echo "exporter died" >&2; exit 1; }
        sleep 0.5
    done
    t1=$(date +%s.%N)
    curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/m.txt"
    up=$(metric "$work/m.txt" 'gridpane_up{')
    duration=$(metric "$work/m.txt" 'gridpane_poll_duration_seconds{')
    requests=$(metric "$work/m.txt" 'gridpane_api_requests_total{')
    limited=$(metric "$work/m.txt" 'gridpane_api_rate_limited_total{')
    sites=$(metric "$work/m.txt" 'gridpane_sites{')
    kill "$exp_pid"; wait "$exp_pid" 2>/dev/null || true
    kill "$fleet_pid"; wait "$fleet_pid" 2>/dev/null || true

    # The floor: P site pages cost 2P units of /site's 12 a minute; the
    # account's R requests take R of its 60. In fixed windows opened by the
    # first request, the best schedule bursts each window full, so the last
    # request goes out (ceil(units / budget) - 1) minutes after the first.
    pages=$(( (n + 199) / 200 ))
    total=$(( 2 + (servers + 199) / 200 + pages ))
    floor=$(awk -v u=$((2 * pages)) -v r="$total" 'BEGIN {
        a = int((u + 11) / 12) - 1; b = int((r + 59) / 60) - 1;
        printf "%d", 60 * (a > b ? a : b) }')
    sustained=$(awk -v u=$((2 * pages)) 'BEGIN { printf "%.0f", u / 12 * 60 }')
    rows+=("| $n | $sites | $up | $requests | $limited | $duration | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') | $floor | $sustained | $(awk -v d="$duration" -v f="$sustained" 'BEGIN { if (f > 0) printf "%.2f", d / f; else print "n/a" }') |")
done

cat <<TABLE
### Freshness at GridPane's limits (default budget)

| sites | sites in the snapshot | up | API requests | 429s | complete refresh s (first poll) | start to ready s | floor s, bursting fixed windows | floor s, sustained 12 units/min on /site | refresh / sustained floor |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")
TABLE

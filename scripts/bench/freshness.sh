#!/usr/bin/env bash
# Freshness under GridPane's rate limits: the fake GridPane enforces the
# limits observed on the real API (RateLimit::gridpane(): 12 units a minute
# per endpoint, a /site page costing 2, and 60 requests a minute per
# account, in fixed one-minute windows, with its rate-limit headers), and the
# exporter runs with its default budget. For each size, two starts:
#
# - cold: no state file;
# - warm: a state file holding the whole fleet, written beforehand by a run
#   against an unlimited fake serving the same fleet.
#
# Each start is timed to its first per-site data (the first publication:
# /api/v1/status lists sites) and to a complete refresh (the first poll,
# which sweeps /site to its end; gridpane_poll_duration_seconds). Prints
# markdown tables with the 429s seen and the floor the limits permit.
#
#   scripts/bench/freshness.sh                       # 1k, 3k, 10k (about 25 min)
#   SIZES="1000" scripts/bench/freshness.sh
#   FIRST_DATA_ONLY="100000" scripts/bench/freshness.sh   # sizes timed to first data only
set -euo pipefail

SIZES=${SIZES:-"1000 3000 10000"}
FIRST_DATA_ONLY=${FIRST_DATA_ONLY:-""}
EXPORTER_PORT=${EXPORTER_PORT:-19888}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. scripts/bench/common.sh
bench_setup fresh
metric() { awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { print s + 0 }' "$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# start_fleet NAME SITES [--rate-limit]: a fake and its configuration.
start_fleet() {
    local name=$1 n=$2
    shift 2
    rm -f "$work/$name.yml"
    "$fleet_bin" --sites "$n" "$@" --interval 1h --config "$work/$name.yml" > "$work/$name.log" 2>&1 &
    pids+=("$!")
    eval "${name}_pid=$!"
    for ((i = 0; i < 6000; i++)); do
        [[ -s $work/$name.yml ]] && return
        sleep 0.1
    done
    echo "fake $name did not start" >&2
    exit 1
}

# status_field JSON_FILE: "sites polled" of the one account.
status_fields() {
    python3 -c 'import json,sys
a = json.load(open(sys.argv[1]))["accounts"][0]
print((a.get("data") or {}).get("sites", 0), 1 if a.get("last_poll") else 0)' "$1"
}

# run_exporter CONFIG STATE FULL: starts the exporter, times first data and
# (when FULL is 1) the end of the first poll; sets first_s, ready_s,
# complete_s and leaves the scrape in $work/m.txt.
run_exporter() {
    local config=$1 state=$2 full=$3
    cp "$config" "$work/run.yml"
    echo "state_file: $state" >> "$work/run.yml"
    local t0 t
    t0=$(now)
    "$bin" --config.file "$work/run.yml" --web.listen-address "127.0.0.1:$EXPORTER_PORT" \
        --log.level warn > "$work/exporter.log" 2>&1 &
    local exp_pid=$!
    pids+=("$exp_pid")
    first_s="" ready_s="" complete_s=""
    while :; do
        kill -0 "$exp_pid" 2>/dev/null || { echo "exporter died" >&2; cat "$work/exporter.log" >&2; exit 1; }
        if [[ -z $ready_s ]] && curl -fs "http://127.0.0.1:$EXPORTER_PORT/-/ready" >/dev/null; then
            ready_s=$(since "$t0" "$(now)")
        fi
        if curl -fs "http://127.0.0.1:$EXPORTER_PORT/api/v1/status" -o "$work/status.json"; then
            t=$(now)
            read -r sites polled < <(status_fields "$work/status.json")
            if [[ -z $first_s && $sites -gt 0 ]]; then
                first_s=$(since "$t0" "$t")
            fi
            if [[ $full == 0 && -n $first_s ]] || [[ $polled == 1 ]]; then
                [[ $polled == 1 ]] && complete_s=$(since "$t0" "$t")
                break
            fi
        fi
        sleep 0.25
    done
    curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/m.txt"
    # Time for the state file writer to write the last snapshot.
    [[ -n ${SETTLE:-} ]] && sleep "$SETTLE"
    kill "$exp_pid"
    wait "$exp_pid" 2>/dev/null || true
}

rows=()
for n in $SIZES $FIRST_DATA_ONLY; do
    full=1
    for f in $FIRST_DATA_ONLY; do [[ $f == "$n" ]] && full=0; done
    echo "== $n sites" >&2
    servers=$(( n / 25 > 0 ? n / 25 : 1 ))
    pages=$(( (n + 199) / 200 ))
    total=$(( 2 + (servers + 199) / 200 + pages ))
    floor=$(awk -v u=$((2 * pages)) -v r="$total" 'BEGIN {
        a = int((u + 11) / 12) - 1; b = int((r + 59) / 60) - 1;
        printf "%d", 60 * (a > b ? a : b) }')

    # The warm state: the same fleet (same seed), read without limits.
    start_fleet free "$n" --requests-per-minute 0
    SETTLE=5 run_exporter "$work/free.yml" "$work/warm.json" 1
    kill "$free_pid"; wait "$free_pid" 2>/dev/null || true

    for start in cold warm; do
        start_fleet limited "$n" --rate-limit
        state=$work/$start-run.json
        rm -f "$state"
        [[ $start == warm ]] && cp "$work/warm.json" "$state"
        run_exporter "$work/limited.yml" "$state" "$full"
        kill "$limited_pid"; wait "$limited_pid" 2>/dev/null || true
        limited=$(metric "$work/m.txt" 'gridpane_api_rate_limited_total{')
        if [[ -n $complete_s ]]; then
            duration=$(metric "$work/m.txt" 'gridpane_poll_duration_seconds{')
            ratio=$(awk -v d="$duration" -v f="$floor" 'BEGIN { if (f > 0) printf "%.2f", d / f; else print "n/a" }')
            requests=$(metric "$work/m.txt" 'gridpane_api_requests_total{')
        else
            duration="not measured" ratio="" requests=""
        fi
        rows+=("| $n | $start | $first_s | $ready_s | $duration | $floor | $ratio | $requests | $limited |")
    done
done

cat <<TABLE
### Freshness at GridPane's limits (default budget)

| sites | start | first per-site data s | ready s | complete refresh s (first poll) | floor s | refresh / floor | API requests | 429s |
|---:|---|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")
TABLE

#!/usr/bin/env bash
# Two builds of the exporter side by side, in one run, at one fleet size:
# the end-to-end poll, scrape and memory figures of scripts/bench/run.sh
# (each build against its own bench_fleet, so each reads a configuration it
# knows), alternated over several rounds. Prints medians and the
# after/before ratio. Measured once the fleet is complete (every site read,
# none pending), so a build that serves a first sweep's partial data at
# ready is compared on the same data as one that does not.
#
#   scripts/bench/compare.sh BEFORE_TARGET AFTER_TARGET
#
# Each TARGET is a cargo target directory of a checkout built with
#   cargo build --release --locked --bin gridpane-backup-exporter --example bench_fleet
# e.g. for the commit before a change:
#   git worktree add --detach /tmp/before <commit>
#   (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before-target cargo build ...)
#   scripts/bench/compare.sh /tmp/before-target target
#
# SITES (10000), ROUNDS (3), DURATION (5s), STEADY_SECS (50). Needs wrk and
# curl (Debian: apt-get install wrk curl).
set -euo pipefail

SITES=${SITES:-10000}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
STEADY_SECS=${STEADY_SECS:-50}
EXPORTER_PORT=${EXPORTER_PORT:-19878}
[[ $# == 2 ]] || { sed -n '2,21p' "$0" >&2; exit 2; }
targets=("$1" "$2")
labels=(before after)
for t in "${targets[@]}"; do
    for f in release/gridpane-backup-exporter release/examples/bench_fleet; do
        [[ -x $t/$f ]] || { echo "missing: $t/$f" >&2; exit 2; }
    done
done
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

. "$(dirname "$0")/common.sh"   # wrk_summary, wait_complete
work=$(mktemp -d /tmp/gridpane-compare.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

clk=$(getconf CLK_TCK)
cpu_of() { awk -v t="$clk" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
mem_of() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

wait_ready() { # pid
    local i
    for ((i = 0; i < 9000; i++)); do
        kill -0 "$1" 2>/dev/null || { echo "exporter died" >&2; cat "$work/exporter.log" >&2; return 1; }
        curl -fs "http://127.0.0.1:$EXPORTER_PORT/-/ready" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wrk: prints "rps p50 p99" (latencies in ms).
load() { # gzip(0/1)
    local hdr=()
    [[ $1 == 1 ]] && hdr=(-H 'Accept-Encoding: gzip')
    wrk -t2 -c8 -d"$DURATION" --timeout 60s --latency "${hdr[@]}" \
        "http://127.0.0.1:$EXPORTER_PORT/metrics" > "$work/wrk.out" 2>&1 || true
    wrk_summary "$work/wrk.out"
}

# Starts an exporter (binary, config), sets $exp, and returns once the
# fleet is complete: ready can come before the first sweep has read every
# site (the exporter serves what it knows while it sweeps), and a build
# without the sweep serves the complete fleet at ready.
launch() {
    "$1" --config.file "$2" --web.listen-address "127.0.0.1:$EXPORTER_PORT" \
        --log.level warn > "$work/exporter.log" 2>&1 &
    exp=$!
    pids+=("$exp")
    wait_ready "$exp"
    wait_complete "$EXPORTER_PORT" "$SITES" "$exp"
}

# One round of one build: appends "label key value" lines to $work/results.
measure() { # index
    local t=${targets[$1]} label=${labels[$1]}
    local bin=$t/release/gridpane-backup-exporter
    rec() { echo "$label $1 $2" >> "$work/results"; }
    rm -f "$work/bench.yml"
    "$t/release/examples/bench_fleet" --sites "$SITES" --requests-per-minute 0 \
        --config "$work/bench.yml" > "$work/fleet.log" 2>&1 &
    local fleet=$!
    pids+=("$fleet")
    for ((i = 0; i < 600; i++)); do [[ -s $work/bench.yml ]] && break; sleep 0.1; done

    local t0 t1
    t0=$(date +%s.%N)
    launch "$bin" "$work/bench.yml"
    t1=$(date +%s.%N)
    rec complete_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    rec cpu_at_complete_s "$(cpu_of "$exp")"
    rec peak_rss_at_complete_mib "$(mem_of "$exp" VmHWM)"
    rec plain_bytes "$(curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" | wc -c)"
    rec gzip_bytes "$(curl -fs -H 'Accept-Encoding: gzip' "http://127.0.0.1:$EXPORTER_PORT/metrics" | wc -c)"
    local rps p50 p99
    read -r rps p50 p99 < <(load 0)
    rec plain_rps "$rps"; rec plain_p50_ms "$p50"; rec plain_p99_ms "$p99"
    read -r rps p50 p99 < <(load 1)
    rec gzip_rps "$rps"; rec gzip_p50_ms "$p50"; rec gzip_p99_ms "$p99"
    rec rss_after_wrk_mib "$(mem_of "$exp" VmRSS)"
    rec peak_rss_after_wrk_mib "$(mem_of "$exp" VmHWM)"
    stop "$exp"

    sed 's/^  interval: .*/  interval: 15s/' "$work/bench.yml" > "$work/steady.yml"
    launch "$bin" "$work/steady.yml"
    for ((i = 0; i < STEADY_SECS; i++)); do
        curl -fs -H 'Accept-Encoding: gzip' "http://127.0.0.1:$EXPORTER_PORT/metrics" -o /dev/null || true
        sleep 1
    done
    rec rss_after_polls_mib "$(mem_of "$exp" VmRSS)"
    rec peak_rss_polls_mib "$(mem_of "$exp" VmHWM)"
    stop "$exp"
    stop "$fleet"
}

: > "$work/results"
for ((r = 1; r <= ROUNDS; r++)); do
    # Alternate which build goes first, so neither always runs on a
    # machine just warmed (or loaded) by the other.
    if (( r % 2 )); then order=(0 1); else order=(1 0); fi
    for i in "${order[@]}"; do
        echo "round $r: ${labels[$i]}" >&2
        measure "$i"
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "### End to end, $SITES sites (medians of $ROUNDS rounds; wrk -t2 -c8 -d$DURATION)"
echo
echo "| | before | after | after / before |"
echo "|---|---:|---:|---:|"
for key in complete_s cpu_at_complete_s peak_rss_at_complete_mib plain_bytes gzip_bytes plain_rps plain_p50_ms plain_p99_ms \
    gzip_rps gzip_p50_ms gzip_p99_ms rss_after_wrk_mib peak_rss_after_wrk_mib rss_after_polls_mib peak_rss_polls_mib; do
    b=$(awk -v k="$key" '$1 == "before" && $2 == k { print $3 }' "$work/results" | median)
    a=$(awk -v k="$key" '$1 == "after" && $2 == k { print $3 }' "$work/results" | median)
    echo "| $key | $b | $a | $(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }') |"
done

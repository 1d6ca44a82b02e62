# Sourced by the benchmark scripts, from the repository root ($root):
# `bench_setup NAME` builds the release binaries, sets $bin and $fleet_bin,
# makes $work (a temporary directory named after NAME) and, on exit, stops
# every process whose pid is in $pids and removes $work.

bench_setup() {
    local target=${CARGO_TARGET_DIR:-$root/target}
    echo "building release binaries..." >&2
    cargo build --release --locked --quiet --bin gridpane-backup-exporter --example bench_fleet
    bin=$target/release/gridpane-backup-exporter
    fleet_bin=$target/release/examples/bench_fleet
    work=$(mktemp -d "/tmp/gridpane-$1.XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}

# wrk's output (with --latency) as "requests/s p50 p99", latencies in ms.
wrk_summary() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        END { printf "%.1f %.2f %.2f\n", rps, p50, p99 }' "$1"
}

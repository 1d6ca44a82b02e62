# Sourced by the benchmark scripts, from the repository root ($root):
# `bench_setup NAME` builds the release binaries, sets $bin and $fleet_bin,
# makes $work (a temporary directory named after NAME) and, on exit, stops
# every process whose pid is in $pids and removes $work. `wait_complete`
# waits for the state a user sees: the whole fleet read, none pending.

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

# Sum of the samples of the series whose lines start with $1, from stdin.
sum_of() { awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'; }

# Waits until the exporter on port $1 (pid $3) serves the complete fleet of
# $2 sites, none pending. Ready comes before that: a first sweep publishes
# page by page, so a benchmark started at ready measures a fleet still
# being read (fewer series, a sweep running beside the load). Further
# arguments go to curl (e.g. -u user:password).
wait_complete() { # port, sites, pid, curl args...
    local port=$1 sites=$2 pid=$3 i body
    shift 3
    for ((i = 0; i < 9000; i++)); do
        kill -0 "$pid" 2>/dev/null || { echo "process $pid died" >&2; return 1; }
        body=$(curl -fs "$@" "http://127.0.0.1:$port/metrics" || true)
        if [[ $(sum_of 'gridpane_sites{' <<< "$body") == "$sites" && $(sum_of 'gridpane_sites_pending{' <<< "$body") == 0 ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "fleet of $sites sites not complete after 900 s" >&2
    return 1
}

#!/usr/bin/env bash
# End-to-end benchmark of the exporter at fleet scale, against fake GridPane
# fleets. For each size: one poll (wall, CPU, peak RSS, API requests), then
# scrapes with wrk (8 connections, plain and gzip) against the exporter with
# its exposition cache, the same exporter rendering on every scrape
# (--web.disable-exposition-cache), and nginx serving the exporter's own
# bytes as static files (gzip_static for the gzip case). Prints a markdown
# table. Every figure is taken once the fleet is complete (every site read,
# none pending: `wait_complete`), the state a user sees; a first sweep
# publishes page by page, so ready alone would measure a partial fleet with
# the sweep still running beside wrk.
#
#   scripts/bench/run.sh                    # 1k, 10k and 100k sites
#   SIZES="1000 10000" scripts/bench/run.sh # fewer sizes
#   DURATION=5s scripts/bench/run.sh        # shorter wrk runs (default 10s)
#
# Needs wrk, nginx, curl and gzip (Debian: apt-get install wrk nginx-light
# curl gzip). Builds the release binaries once.
set -euo pipefail

SIZES=${SIZES:-"1000 10000 100000"}
DURATION=${DURATION:-10s}
STEADY_SECS=${STEADY_SECS:-50}
EXPORTER_PORT=${EXPORTER_PORT:-19878}
NGINX_PORT=${NGINX_PORT:-19880}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for tool in wrk nginx curl gzip; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

. scripts/bench/common.sh
bench_setup bench
chmod 755 "$work"

clk=$(getconf CLK_TCK)
# CPU seconds (user + system) of a process.
cpu_of() { awk -v t="$clk" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
# A /proc/PID/status field in MiB.
mem_of() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
metric() { awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { print s + 0 }' "$1"; }

wait_ready() { # port, pid, seconds
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        kill -0 "$2" 2>/dev/null || { echo "process $2 died" >&2; return 1; }
        if curl -fs "http://127.0.0.1:$1/-/ready" >/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "not ready after $3 s" >&2
    return 1
}

# wrk: prints "rps p50 p99" (latencies in ms).
load() { # url, gzip(0/1)
    local hdr=()
    [[ $2 == 1 ]] && hdr=(-H 'Accept-Encoding: gzip')
    wrk -t2 -c8 -d"$DURATION" --timeout 60s --latency "${hdr[@]}" "$1" > "$work/wrk.out" 2>&1 || true
    wrk_summary "$work/wrk.out"
}

start_exporter() { # config, extra flags...; sets $exp_pid
    local config=$1; shift
    "$bin" --config.file "$config" --web.listen-address "127.0.0.1:$EXPORTER_PORT" \
        --log.level warn "$@" > "$work/exporter.log" 2>&1 &
    exp_pid=$!
    pids+=("$exp_pid")
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    gzip off;
    gzip_static on;
    gzip_vary on;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /metrics {
            default_type "text/plain; version=0.0.4; charset=utf-8";
            alias $work/metrics;
        }
    }
}
NGINX

poll_rows=()
scrape_rows=()
rss_rows=()
for n in $SIZES; do
    echo "== $n sites" >&2
    rm -f "$work/bench.yml"
    "$fleet_bin" --sites "$n" --requests-per-minute 0 --config "$work/bench.yml" > "$work/fleet.log" 2>&1 &
    fleet_pid=$!
    pids+=("$fleet_pid")
    for ((i = 0; i < 600; i++)); do
        [[ -s $work/bench.yml ]] && break
        sleep 0.1
    done
    servers=$(( n / 25 > 0 ? n / 25 : 1 ))

    # One poll, the exposition cache on (the default).
    t0=$(date +%s.%N)
    start_exporter "$work/bench.yml"
    wait_ready "$EXPORTER_PORT" "$exp_pid" 900
    t_ready=$(date +%s.%N)
    wait_complete "$EXPORTER_PORT" "$n" "$exp_pid"
    t1=$(date +%s.%N)
    poll_cpu=$(cpu_of "$exp_pid")
    poll_hwm=$(mem_of "$exp_pid" VmHWM)
    curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/first.txt"
    poll_wall=$(metric "$work/first.txt" 'gridpane_poll_duration_seconds{')
    requests=$(metric "$work/first.txt" 'gridpane_api_requests_total{')
    expected=$(( 2 + (servers + 199) / 200 + (n + 199) / 200 ))
    poll_rows+=("| $n | $poll_wall | $(awk -v a="$t0" -v b="$t_ready" 'BEGIN { printf "%.2f", b - a }') | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') | $poll_cpu | $poll_hwm | $requests | $expected |")

    # The bodies nginx serves: exactly what the exporter sent.
    cold=$(curl -fs -w '%{time_total}' -H 'Accept-Encoding: gzip' \
        "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/metrics.gz")
    curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/metrics"
    chmod 644 "$work/metrics" "$work/metrics.gz"
    gzip -t "$work/metrics.gz"
    plain_bytes=$(stat -c %s "$work/metrics")
    gzip_bytes=$(stat -c %s "$work/metrics.gz")

    read -r c_rps c_p50 c_p99 < <(load "http://127.0.0.1:$EXPORTER_PORT/metrics" 0)
    read -r cg_rps cg_p50 cg_p99 < <(load "http://127.0.0.1:$EXPORTER_PORT/metrics" 1)
    cached_rss=$(mem_of "$exp_pid" VmRSS)
    cached_hwm=$(mem_of "$exp_pid" VmHWM)
    stop "$exp_pid"

    nginx -p "$work" -c "$work/nginx.conf" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    for ((i = 0; i < 100; i++)); do
        curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/metrics" && break
        sleep 0.1
    done
    ng_enc=$(curl -fs -D - -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$NGINX_PORT/metrics" \
        | awk 'tolower($1) == "content-encoding:" { print $2 }' | tr -d '\r')
    [[ $ng_enc == gzip ]] || { echo "nginx does not serve the .gz file" >&2; exit 1; }
    read -r n_rps n_p50 n_p99 < <(load "http://127.0.0.1:$NGINX_PORT/metrics" 0)
    read -r ng_rps ng_p50 ng_p99 < <(load "http://127.0.0.1:$NGINX_PORT/metrics" 1)
    stop "$nginx_pid"

    # The same exporter rendering everything on every scrape.
    start_exporter "$work/bench.yml" --web.disable-exposition-cache
    wait_ready "$EXPORTER_PORT" "$exp_pid" 900
    wait_complete "$EXPORTER_PORT" "$n" "$exp_pid"
    read -r u_rps u_p50 u_p99 < <(load "http://127.0.0.1:$EXPORTER_PORT/metrics" 0)
    read -r ug_rps ug_p50 ug_p99 < <(load "http://127.0.0.1:$EXPORTER_PORT/metrics" 1)
    uncached_rss=$(mem_of "$exp_pid" VmRSS)
    uncached_hwm=$(mem_of "$exp_pid" VmHWM)
    stop "$exp_pid"

    # Steady state: a poll every 15 s (each one replaces the snapshot, so
    # the exposition is rendered again) while scraped with gzip every second.
    sed 's/^  interval: .*/  interval: 15s/' "$work/bench.yml" > "$work/steady.yml"
    start_exporter "$work/steady.yml"
    wait_ready "$EXPORTER_PORT" "$exp_pid" 900
    wait_complete "$EXPORTER_PORT" "$n" "$exp_pid"
    for ((i = 0; i < STEADY_SECS; i++)); do
        curl -fs -H 'Accept-Encoding: gzip' "http://127.0.0.1:$EXPORTER_PORT/metrics" -o /dev/null || true
        sleep 1
    done
    curl -fs "http://127.0.0.1:$EXPORTER_PORT/metrics" -o "$work/steady.txt"
    steady_polls=$(metric "$work/steady.txt" 'gridpane_polls_total{')
    steady_rss=$(mem_of "$exp_pid" VmRSS)
    steady_hwm=$(mem_of "$exp_pid" VmHWM)
    stop "$exp_pid"
    stop "$fleet_pid"

    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
    scrape_rows+=("| $n | plain | $plain_bytes | $n_rps / $n_p50 / $n_p99 | $c_rps / $c_p50 / $c_p99 | $u_rps / $u_p50 / $u_p99 | $(ratio "$n_rps" "$c_rps") | $(ratio "$c_rps" "$u_rps") |")
    scrape_rows+=("| $n | gzip | $gzip_bytes | $ng_rps / $ng_p50 / $ng_p99 | $cg_rps / $cg_p50 / $cg_p99 | $ug_rps / $ug_p50 / $ug_p99 | $(ratio "$ng_rps" "$cg_rps") | $(ratio "$cg_rps" "$ug_rps") |")
    rss_rows+=("| $n | $poll_hwm | $cached_rss | $cached_hwm | $steady_rss | $steady_hwm | $steady_polls | $uncached_rss | $uncached_hwm | $(awk -v s="$cold" 'BEGIN { printf "%.0f", s * 1000 }') |")
done

cat <<TABLE
### Poll (first poll after start)

| sites | poll wall s (gridpane_poll_duration_seconds) | start to ready s | start to complete fleet s | process CPU s at complete | peak RSS MiB at complete | API requests | 2 + ceil(servers/200) + ceil(sites/200) |
|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${poll_rows[@]}")

### Scrape: wrk -t2 -c8 -d$DURATION (requests/s / p50 ms / p99 ms)

| sites | encoding | body bytes | nginx static | exporter, cached | exporter, render per scrape | nginx / cached (rps) | cached / per-scrape (rps) |
|---|---|---:|---|---|---|---:|---:|
$(printf '%s\n' "${scrape_rows[@]}")

### Memory of the running exporter (MiB)

| sites | peak RSS once the fleet is complete | RSS after the wrk runs, cached | peak RSS, cached | RSS after ${STEADY_SECS} s of polls every 15 s, cached | peak RSS, same | polls in it | RSS after the wrk runs, render per scrape | peak RSS, render per scrape | first gzip scrape after the poll (cache miss) ms |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rss_rows[@]}")
TABLE

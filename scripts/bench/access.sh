#!/usr/bin/env bash
# Scrapes of /metrics at fleet scale with `access` rules: 20 accounts of
# SITES/20 sites each (one fake GridPane, polled 20 times), 20 basic-auth
# users, and the users' scrapes interleaved by wrk (each request as the next
# user). For each case, requests/s (plain and gzip) and the exporter's RSS
# after the runs. Prints a markdown table. Each case is measured once every
# user's view is complete (`wait_complete`: all their sites read, none
# pending), not at ready, while the first sweep may still run.
#
#   scripts/bench/access.sh                  # 10k sites, 5 s per wrk run
#   SITES=1000 DURATION=3s scripts/bench/access.sh
#
# Cases: no access rules; every user "*" (1 set of accounts); two halves
# (2 sets); one account per user (20 sets, disjoint); every account but one
# per user (20 sets, overlapping: each cache holds 95 % of the fleet).
#
# Needs wrk and curl (Debian: apt-get install wrk curl) and python3 (for
# the bcrypt hash, through the C library's crypt).
set -euo pipefail

SITES=${SITES:-10000}
DURATION=${DURATION:-5s}
PORT=${PORT:-19890}
ACCOUNTS=20

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
. scripts/bench/common.sh
bench_setup access-bench

mem_of() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

per_account=$(( SITES / ACCOUNTS ))
"$fleet_bin" --sites "$per_account" --requests-per-minute 0 --config "$work/fleet.yml" > "$work/fleet.log" 2>&1 &
pids+=("$!")
for ((i = 0; i < 600; i++)); do
    [[ -s $work/fleet.yml ]] && break
    sleep 0.1
done
base_url=$(awk '$1 == "base_url:" { print $2 }' "$work/fleet.yml")
token=$(awk '$1 == "token:" { print $2 }' "$work/fleet.yml")

# 20 users, one password, a cheap bcrypt cost (verified once, then cached).
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("bench", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))')
{
    echo "basic_auth_users:"
    for ((u = 1; u <= ACCOUNTS; u++)); do printf "  u%02d: '%s'\n" "$u" "$hash"; done
} > "$work/web.yml"

# wrk: each request as the next user.
{
    echo 'local users, i = {}, 0'
    for ((u = 1; u <= ACCOUNTS; u++)); do
        printf 'users[%d] = "Basic %s"\n' "$u" "$(printf 'u%02d:bench' "$u" | base64)"
    done
    echo 'request = function()'
    echo '    i = i % #users + 1'
    echo '    wrk.headers["Authorization"] = users[i]'
    echo '    return wrk.format("GET", "/metrics")'
    echo 'end'
} > "$work/users.lua"

config() { # case
    {
        echo "accounts:"
        for ((a = 1; a <= ACCOUNTS; a++)); do
            printf "  - name: client-%02d\n    base_url: %s\n    token: %s\n" "$a" "$base_url" "$token"
        done
        printf "poll:\n  interval: 10m\n  max_body_bytes: 1073741824\n  timeout: 5m\n  requests_per_minute: 0\n"
        [[ $1 == none ]] && return
        echo "access:"
        for ((u = 1; u <= ACCOUNTS; u++)); do
            names=()
            for ((a = 1; a <= ACCOUNTS; a++)); do
                case $1 in
                    1) names=('"*"'); break ;;
                    2) (( (a <= ACCOUNTS / 2) == (u <= ACCOUNTS / 2) )) && names+=("$(printf 'client-%02d' "$a")") ;;
                    20) ((a == u)) && names+=("$(printf 'client-%02d' "$a")") ;;
                    20x) ((a != u)) && names+=("$(printf 'client-%02d' "$a")") ;;
                esac
            done
            printf "  - users: [u%02d]\n    accounts: [%s]\n" "$u" "$(IFS=,; echo "${names[*]}")"
        done
    } > "$work/config.yml"
    return 0
}

load() { # gzip(0/1): prints requests/s
    local hdr=()
    [[ $1 == 1 ]] && hdr=(-H 'Accept-Encoding: gzip')
    wrk -t2 -c8 -d"$DURATION" --timeout 60s -s "$work/users.lua" "${hdr[@]}" \
        "http://127.0.0.1:$PORT/metrics" > "$work/wrk.out" 2>&1 || true
    if grep -q "Non-2xx" "$work/wrk.out"; then
        echo "non-2xx answers:" >&2; cat "$work/wrk.out" >&2; exit 1
    fi
    awk '$1 == "Requests/sec:" { print $2 }' "$work/wrk.out"
}

rows=()
for case in none 1 2 20 20x; do
    echo "== $case" >&2
    config "$case"
    "$bin" --config.file "$work/config.yml" --web.config.file "$work/web.yml" \
        --web.listen-address "127.0.0.1:$PORT" --log.level warn > "$work/exporter.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for ((i = 0; i < 3000; i++)); do
        curl -fs -u u01:bench "http://127.0.0.1:$PORT/-/ready" >/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/exporter.log" >&2; exit 1; }
        sleep 0.1
    done
    for ((u = 1; u <= ACCOUNTS; u++)); do
        case $case in
            none | 1) seen=$ACCOUNTS ;;
            2) seen=$(( ACCOUNTS / 2 )) ;;
            20) seen=1 ;;
            20x) seen=$(( ACCOUNTS - 1 )) ;;
        esac
        wait_complete "$PORT" $(( seen * per_account )) "$pid" -u "$(printf 'u%02d' "$u"):bench"
        [[ $case == none ]] && break
    done
    ready_rss=$(mem_of "$pid" VmRSS)
    bytes=$(curl -fs -u u01:bench "http://127.0.0.1:$PORT/metrics" | wc -c)
    plain=$(load 0)
    gz=$(load 1)
    rss=$(mem_of "$pid" VmRSS)
    hwm=$(mem_of "$pid" VmHWM)
    stop "$pid"
    case $case in
        none) label="no access rules" sets=1 ;;
        1) label="every user \"*\"" sets=1 ;;
        2) label="two halves" sets=2 ;;
        20) label="one account each" sets=20 ;;
        20x) label="every account but one each" sets=20 ;;
    esac
    rows+=("| $label | $sets | $bytes | $plain | $gz | $ready_rss | $rss | $hwm |")
done

echo
echo "| rules | distinct sets | one user's body bytes | plain requests/s | gzip requests/s | RSS once complete MiB | RSS after the runs MiB | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"

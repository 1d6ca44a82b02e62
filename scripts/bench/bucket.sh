#!/usr/bin/env bash
# One listing pass over a big bucket through the exporter's own lister with
# the default poll.remote_storage bounds (40 ms between requests included),
# against two servers on loopback, alternated run by run:
#  - `bench_bucket serve`: the keys in memory, paged by key as AWS S3,
#    Wasabi and B2 do (a page costs the same in any bucket size): SITES x
#    REVISIONS keys (default 10k x 40 = 400k), the issue's case;
#  - s3s-fs 0.14.1 (the tests' real S3 server), whose every page walks and
#    sorts its whole folder: S3S_SITES x REVISIONS keys (default 1k x 40 =
#    40k; at 400k one pass takes near an hour), files dated in the past.
# Prints each run's line, then the medians per server, and the peak of the
# same process without the pass (docs/performance.md, "A bucket of 400k
# revisions").
#
#   scripts/bench/bucket.sh [RUNS [SITES [REVISIONS]]]   # default 3 10000 40
#   S3S_SITES=0 scripts/bench/bucket.sh                  # without s3s-fs
# s3s-fs: .ci/run installs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${1:-3}
sites=${2:-10000}
revisions=${3:-40}
s3s_sites=${S3S_SITES:-1000}
target=${CARGO_TARGET_DIR:-$root/target}
echo "building release example..." >&2
cargo build --release --locked --quiet --example bench_bucket
bench=$target/release/examples/bench_bucket
# shellcheck source=common.sh
. "$root/scripts/bench/common.sh"
work=$(mktemp -d /tmp/gridpane-bucket.XXXXXX)
pids=()
trap bench_cleanup EXIT
key=AKIABENCHKEYID000001
secret=benchsecretkey00000000000000000000000001
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

"$bench" serve "$work/port" "$sites" "$revisions" &
pids+=($!)
for _ in $(seq 600); do [ -s "$work/port" ] && break; sleep 0.1; done
bykey=http://127.0.0.1:$(cat "$work/port")
wait_port "${bykey##*:}"
servers=(bykey)
if [ "$s3s_sites" != 0 ]; then
    s3s=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
    [ -x "$s3s" ] || { echo "s3s-fs not found (cargo install s3s-fs --version 0.14.1 --features binary --locked)" >&2; exit 1; }
    "$bench" fill "$work/s3" "$s3s_sites" "$revisions"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$s3s" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" "$work/s3" >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$port"
    s3sfs=http://127.0.0.1:$port
    servers+=(s3sfs)
fi
"$bench" idle "$bykey" "$key" "$secret"
for _ in $(seq "$runs"); do
    for s in "${servers[@]}"; do
        line=$("$bench" list "${!s}" "$key" "$secret")
        echo "$s $line" | tee -a "$work/runs"
    done
done
for s in "${servers[@]}"; do
    grep "^$s " "$work/runs" | awk -v s="$s" '
        { gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "wall") w[NR] = $(i+1); if ($i == "cpu") c[NR] = $(i+1); if ($i == "growth") g[NR] = $(i+1); if ($i == "requests") r[NR] = $(i+1); if ($i == "keys") k[NR] = $(i+1) } }
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END { printf "%s: %s keys, median of %d: wall %.2f s, cpu %.2f s, requests %s, growth %.1f MiB\n", s, k[1], NR, median(w, NR), median(c, NR), median(r, NR), median(g, NR) }'
done

#!/usr/bin/env bash
# One listing pass over a bucket of 10k sites x 40 revisions (400k keys)
# served by s3s-fs on loopback, through the exporter's own lister with the
# default poll.remote_storage bounds (40 ms between requests included).
# The bucket is written straight into the folder s3s-fs serves, files dated
# in the past. Prints each run's line, then the medians, and the peak of
# the same process without the pass (docs/performance.md, "A bucket of
# 400k revisions").
#
#   scripts/bench/bucket.sh [RUNS [SITES [REVISIONS]]]   # default 3 10000 40; needs s3s-fs (.ci/run)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${1:-3}
sites=${2:-10000}
revisions=${3:-40}
s3s=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
[ -x "$s3s" ] || { echo "s3s-fs not found (cargo install s3s-fs --version 0.14.1 --features binary --locked)" >&2; exit 1; }
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
"$bench" fill "$work/s3" "$sites" "$revisions"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$s3s" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" "$work/s3" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
endpoint=http://127.0.0.1:$port
"$bench" idle "$endpoint" "$key" "$secret"
for _ in $(seq "$runs"); do
    "$bench" list "$endpoint" "$key" "$secret" | tee -a "$work/runs"
done
awk '
    { gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "wall") w[NR] = $(i+1); if ($i == "growth") g[NR] = $(i+1); if ($i == "requests") r[NR] = $(i+1) } }
    function median(a, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { printf "median of %d: wall %.2f s, requests %s, growth %.1f MiB\n", NR, median(w, NR), median(r, NR), median(g, NR) }' "$work/runs"

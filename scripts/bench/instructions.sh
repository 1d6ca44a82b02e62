#!/usr/bin/env bash
# Instructions per site of the in-process work, counted by callgrind: the
# same for the same binary and input whatever else the machine is doing, so
# a ratio between fleet sizes shows whether the code itself grows linearly,
# apart from what caches and the allocator add to its time.
#
#   scripts/bench/instructions.sh                    # 1k, 10k and 100k sites (about 20 min)
#   SIZES="1000 10000" scripts/bench/instructions.sh # fewer sizes
#
# Runs the bench binary (benches/render.rs) with BENCH_INSTRUCTIONS set, so
# that it runs each routine once, under `valgrind --tool=callgrind`
# collecting only inside that run. Needs valgrind (Debian package).
set -euo pipefail

SIZES=${SIZES:-"1000 10000 100000"}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v valgrind >/dev/null || { echo "missing: valgrind" >&2; exit 2; }

echo "building the bench binary..." >&2
# Symbols (and line tables, for callgrind_annotate) name the collected
# function; they change no code.
bin=$(CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo bench --locked --bench render --no-run \
    --target-dir target/instructions \
    --message-format=json 2>/dev/null |
    sed -n 's|.*"executable":"\([^"]*/deps/render-[^"]*\)".*|\1|p' | tail -1)
[[ -x $bin ]] || { echo "bench binary not found" >&2; exit 1; }

work=$(mktemp -d /tmp/gridpane-instructions.XXXXXX)

# Instructions of one run of a routine (decode or render), counted inside
# the bench's `counted` function only.
count() { # sites, routine
    local out=$work/cg.out
    BENCH_SITES=$1 BENCH_INSTRUCTIONS=$2 valgrind --tool=callgrind \
        --callgrind-out-file="$out" --collect-atstart=no \
        --toggle-collect='render::counted*' "$bin" --bench >"$work/log" 2>&1
    local n
    n=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
    [[ -n $n && $n != 0 ]] || { echo "nothing counted ($1 sites, $2): see $work/log" >&2; exit 1; }
    echo "$n"
}

echo "| sites | decode and build: instructions | per site | render (recycled buffers): instructions | per site |"
echo "|---:|---:|---:|---:|---:|"
for sites in $SIZES; do
    decode=$(count "$sites" decode)
    render=$(count "$sites" render)
    awk -v s="$sites" -v d="$decode" -v r="$render" 'BEGIN {
        printf "| %d | %.0f | %.0f | %.0f | %.0f |\n", s, d, d / s, r, r / s }'
done
rm -rf "$work"

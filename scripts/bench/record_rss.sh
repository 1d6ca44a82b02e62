#!/usr/bin/env bash
# Peak memory of reading a hostile 60 MB backup record (zeros), one mode per
# process: as a JSON tree (how the reader worked before), with the bounded
# record reader, and end to end through the client against the fake
# GridPane. Prints one line per mode (docs/performance.md, "A 60 MB record").
#
#   scripts/bench/record_rss.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release --locked --example record_rss >/dev/null
for mode in tree reader client; do
    target/release/examples/record_rss "$mode"
done

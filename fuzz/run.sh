#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 600) seconds, one after the other, one job
# each, starting from the seed corpus in corpus/<target> (kept as it is) and a working
# corpus in corpus-work/<target>. Logs go to fuzz-<target>.log; crashes to artifacts/<target>.
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-600}"
for target in decision provenance; do
    mkdir -p "corpus-work/$target" "artifacts/$target"
    cargo +nightly fuzz run "$target" "corpus-work/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -jobs=1 -workers=1 \
        -artifact_prefix="artifacts/$target/" || echo "$target: exit $?"
    mv -f fuzz-0.log "fuzz-$target.log"
    grep -E "^#[0-9]+ *(DONE|INITED)|Done [0-9]+ runs|ERROR|crash-|SUMMARY" "fuzz-$target.log" | tail -5
done

#!/usr/bin/env bash
# make bench: release builds, then every benchmark against fresh local stacks; writes
# crates/bench/RESULTS.md (machine, date, commit, figures). Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO=${CARGO:-cargo}
out=crates/bench/RESULTS.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# The functions alone, as `make build` builds them: with the bench in the same invocation,
# cargo would unify features and the measured binaries would not be the shipped ones.
for p in tollgate-api tollgate-notifier tollgate-executor tollgate-audit-export; do
  $CARGO build --release --quiet -p "$p"
done
$CARGO build --release --quiet -p tollgate-bench

dirty=""
git diff --quiet HEAD 2>/dev/null || dirty=" (plus uncommitted changes)"
{
  echo "# Tollgate benchmark results"
  echo
  echo "Written by \`make bench\` (crates/bench/run.sh); do not edit by hand."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD)${dirty}"
  echo "- machine: $(uname -sm), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GB RAM; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- toolchain: $(rustc --version); emulator: moto $(.venv/bin/python -c 'import moto; print(moto.__version__)')"
  echo
  # The goals and the reading of the last figures against them are kept by hand beside this.
  cat crates/bench/goals.md
  echo
  ./target/release/tollgate-bench .
  $CARGO bench --quiet -p tollgate-local --bench verify
  echo
  $CARGO bench --quiet -p tollgate-policy --bench decide
  echo
  $CARGO bench --quiet -p tollgate-models --bench models
  echo
  $CARGO bench --quiet -p tollgate-sigv4 --bench verify
  echo
  $CARGO bench --quiet -p tollgate-bench --bench micro
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"

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
# The micro-benchmarks built before anything is timed, each package in its own invocation.
for b in tollgate-local:verify tollgate-policy:decide tollgate-models:models tollgate-sigv4:verify tollgate-bench:micro; do
  $CARGO bench --no-run --quiet -p "${b%%:*}" --bench "${b#*:}"
done

# The deployed sizes: arm64, as `make build` builds them (cargo-lambda, one package at a time);
# the functions section reads target/lambda. A second LTO build of everything for another
# target, so slow; TOLLGATE_BENCH_ARM64=0 skips it and the section then says its sizes are
# the x86_64 ones, which are not the deployed binaries'.
lambda=${CARGO_LAMBDA:-}
[ -n "$lambda" ] || [ ! -x .venv/deploy/bin/cargo-lambda ] || lambda=.venv/deploy/bin/cargo-lambda
[ -n "$lambda" ] || lambda=$(command -v cargo-lambda || true)
arm64="not built: TOLLGATE_BENCH_ARM64=0"
if [ "${TOLLGATE_BENCH_ARM64:-1}" = 0 ]; then
  :
elif [ -z "$lambda" ]; then
  arm64="not built: no cargo-lambda (make build installs it)"
else
  arm64="built with $("$lambda" lambda --version 2>/dev/null | head -1) in"
  start=$(date +%s)
  for p in tollgate-api tollgate-notifier tollgate-executor tollgate-audit-export; do
    # cargo-lambda finds zig (the ziglang package) beside itself, as `make build` arranges.
    PATH="$(cd "$(dirname "$lambda")" && pwd):$PATH" "$lambda" lambda build --release --arm64 \
      --output-format zip --quiet -p "$p" || arm64="failed for $p (see the output above); sizes may be stale"
  done
  arm64="$arm64 $(( $(date +%s) - start )) s"
fi

bench_start=$(date +%s)
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
  echo "- arm64 Lambda binaries (\`make build\`'s cargo-lambda): $arm64"
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
  echo
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(( $(date +%s) - bench_start )) s after the builds)."
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"

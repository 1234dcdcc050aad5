#!/usr/bin/env bash
# Differential conformance: runs a directory of inputs (default tests/conformance) and, when
# present, the shared PVF corpus (with the real blocks tools/candidate-gen wrote under its
# candidates/, executed on their runtimes) through the reference host (refbench) and through
# ours, and prints the verdict classes that differ plus a count of matches. A valid execution's
# class carries its ValidationResult bytes, so results must be identical. Exit status 1 if
# any differ.
#
#   REFBENCH=/path/to/refbench tools/conformance.sh [--record] [INPUT_DIR]
#
#   --record   also rewrite tests/conformance/expected.json from the reference's verdicts
#              (only with the default INPUT_DIR; corpus verdicts are never recorded)
#
# Env: REFBENCH (required), PVF_CORPUS_DIR (default ../shared/pvf-corpus),
#      CARGO_TARGET_DIR (default target).
set -euo pipefail

cd "$(dirname "$0")/.."
record=0
if [[ "${1:-}" == "--record" ]]; then
  record=1
  shift
fi
inputs="${1:-tests/conformance}"
corpus="${PVF_CORPUS_DIR:-../shared/pvf-corpus}"

if [[ -z "${REFBENCH:-}" || ! -x "${REFBENCH}" ]]; then
  cat >&2 <<'MSG'
conformance.sh: set REFBENCH to the reference harness's refbench binary, e.g.
  REFBENCH=/tmp/refh/target/release/refbench tools/conformance.sh
To build it (once per machine, about 25 min on 2 cores; needs protoc), see
../shared/tools/refharness/README.md:
  apt-get install -y protobuf-compiler
  cp -r ../shared/tools/refharness /tmp/refh
  (cd /tmp/refh && CARGO_TARGET_DIR="$PWD/target" cargo build --release)
MSG
  exit 2
fi
if [[ "$record" == 1 && "$inputs" != "tests/conformance" ]]; then
  echo "conformance.sh: --record only with the default input dir" >&2
  exit 2
fi

cargo build -q -p pvf-tests --bins
bin="${CARGO_TARGET_DIR:-target}/debug/conformance"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" materialize "$work/in" --inputs "$inputs" --corpus "$corpus"
echo "reference verdicts (refbench; the endless loop alone takes about a minute)..." >&2
RUST_LOG=error "$bin" refbench "$work/in" >"$work/reference.tsv"
echo "our verdicts..." >&2
"$bin" ours "$work/in" >"$work/ours.tsv"

status=0
"$bin" compare "$work/reference.tsv" "$work/ours.tsv" || status=$?
if [[ "$record" == 1 ]]; then
  "$bin" record "$work/reference.tsv" tests/conformance/expected.json
fi
exit "$status"

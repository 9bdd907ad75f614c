#!/usr/bin/env bash
# Full check of quantc: setup, release build, unit tests, bindings check and
# the ONNX Runtime I/O conformance run. Exits non-zero if any stage fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

stage="(none)"
run_stage() {
  stage=$1; shift
  echo
  echo "==> [$stage] $*"
  local t0=$SECONDS
  "$@"
  echo "==> [$stage] ok ($((SECONDS - t0))s)"
}
trap 'rc=$?; [ $rc -eq 0 ] || echo "==> FAILED in stage [$stage] (exit $rc)" >&2' EXIT

run_stage setup tools/setup.sh
run_stage build swift build -c release
run_stage test swift test
run_stage gcn tools/check_gcn.sh Tests/Fixtures/gcn/gemv_reference.cl
# Issue 8: a minute of importer fuzzing; a crash input lands in Tests/Fixtures/fuzz-regressions.
run_stage fuzz tools/fuzz.sh 60
if [ -x tools/check_bindings.sh ]; then
  run_stage bindings tools/check_bindings.sh
else
  echo "==> [bindings] skipped (tools/check_bindings.sh not present)"
fi
if [ -f tools/conformance_io.py ]; then
  run_stage conformance .venv/bin/python tools/conformance_io.py --report .cache/conformance_io.md
else
  echo "==> [conformance] skipped (tools/conformance_io.py not present)"
fi
run_stage operators .venv/bin/python tools/conformance_ops.py --check --report .cache/conformance_ops.md
run_stage quantization .venv/bin/python tools/compare_ort.py --check
run_stage exec .venv/bin/python tools/verify_artifacts.py --hand-built --samples 64
# Issue 7: compile the bundled models, run them on pocl against quantc's simulation, and check
# every generated kernel for gfx803 (zero scratch, no calls, GEMM/GEMV at >= 4 waves per SIMD).
rm -rf .cache/artifacts
run_stage artifacts .venv/bin/python tools/verify_artifacts.py digits_mlp digits_cnn digits_transformer --samples 16 --work .cache/artifacts
run_stage gcn-artifacts tools/check_gcn.sh .cache/artifacts/digits_mlp.qc .cache/artifacts/digits_cnn.qc .cache/artifacts/digits_transformer.qc
run_stage integrations tools/test_integrations.sh
stage="(done)"
echo
echo "==> all stages passed"

#!/usr/bin/env bash
# Tests quantc's build-system integrations (tools/integrations/, tools/examples/embed): each
# example is built twice, and the second build must do nothing; touching the model or the
# calibration data must rebuild. Usage: tools/test_integrations.sh [make] [cmake] [swiftpm]
# (default: all). QUANTC (default .build/release/quantc) is the binary Make and CMake run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quantc=${QUANTC:-$root/.build/release/quantc}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(make cmake swiftpm)
passed=0 failed=0

check() {  # check NAME COMMAND...: one test
  if "${@:2}"; then echo "ok: $1"; passed=$((passed + 1)); else echo "FAILED: $1"; failed=$((failed + 1)); fi
}
mtime() { stat -c %y "$1"; }

# A scratch copy of the examples and the bundled models, in the same relative layout, so the
# touches below do not reach the checkout.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tools"
cp -r "$root/models" "$scratch/models"
cp -r "$root/tools/integrations" "$scratch/tools/integrations"

# run_twice_then_touch NAME BUILD OUTPUT: BUILD (a shell command) makes OUTPUT.
run_twice_then_touch() {
  local name=$1 build=$2 out=$3 log=$scratch/$1.log
  eval "$build" >"$log" 2>&1 || { cat "$log"; check "$name: first build" false; return; }
  check "$name: first build makes the model" test -s "$out"
  local t1; t1=$(mtime "$out")
  local h1; h1=$(sha256sum <"$out")
  sleep 1
  eval "$build" >"$log" 2>&1
  check "$name: second build leaves the model as it was" test "$(mtime "$out")" = "$t1"
  check "$name: second build runs no quantc" bash -c "! grep -q 'quantc build\\|built ' '$log'"
  sleep 1; touch "$scratch/models/digits_mlp.onnx"
  eval "$build" >"$log" 2>&1
  check "$name: touching the model rebuilds" test "$(mtime "$out")" != "$t1"
  check "$name: the rebuilt model is byte-identical" test "$(sha256sum <"$out")" = "$h1"
  local t2; t2=$(mtime "$out")
  sleep 1; touch "$scratch/models/digits/calib_x.npy"
  eval "$build" >"$log" 2>&1
  check "$name: touching the calibration data rebuilds" test "$(mtime "$out")" != "$t2"
  local t3; t3=$(mtime "$out")
  eval "$build" >"$log" 2>&1
  check "$name: and then it is up to date again" test "$(mtime "$out")" = "$t3"
}

for suite in "${suites[@]}"; do
  case $suite in
    make)
      dir=$scratch/tools/integrations/make
      run_twice_then_touch make "make -C '$dir' QUANTC='$quantc'" "$dir/out/digits_mlp.int8.onnx"
      check "make: -q says up to date" make -q -C "$dir" QUANTC="$quantc"
      check "make: the depfile names the calibration data" grep -q 'models/digits/calib_x.npy' "$dir/out/digits_mlp.d"
      ;;
    cmake)
      dir=$scratch/tools/integrations/cmake/example
      cmake -S "$dir" -B "$dir/build" -DQUANTC_EXECUTABLE="$quantc" >"$scratch/cmake-configure.log" 2>&1 \
        || { cat "$scratch/cmake-configure.log"; check "cmake: configure" false; continue; }
      run_twice_then_touch cmake "cmake --build '$dir/build'" "$dir/build/digits_mlp.int8.onnx"
      ;;
    swiftpm)
      # Builds quantc once more (debug) inside the example package, and runs both examples.
      # Every build runs the same way, in the same environment: SwiftPM reruns a plugin's commands
      # when any environment variable differs (a `cd` changes OLDPWD, bash sets `_`), and switching products
      # relinks the plugin's tool.
      pkg=$root/tools/examples/embed
      # The checkout's pins, so the example resolves the same dependency versions (from SwiftPM's cache).
      if [ -f "$root/Package.resolved" ] && ! cmp -s "$root/Package.resolved" "$pkg/Package.resolved"; then
        cp "$root/Package.resolved" "$pkg/Package.resolved"
      fi
      build="(cd '$pkg' && exec env -u OLDPWD -u _ swift build)"
      out=$pkg/.build/debug
      eval "$build" >"$scratch/swiftpm.log" 2>&1 || { tail -40 "$scratch/swiftpm.log"; check "swiftpm: build" false; continue; }
      check "swiftpm: plugin-example finds the quantized model" "$out/plugin-example"
      artifact=$(find "$pkg/.build/plugins/outputs" -name digits_mlp.int8.onnx | head -1)
      check "swiftpm: the plugin built the model" test -s "$artifact"
      # Known gap (issue 8): from a clean .build, SwiftPM 6.3.1 on Linux builds the plugin's tool in
      # a separate pass that rebuilds (C objects, debug AST wrapping) and relinks quantc-tool on the
      # second build too, so the plugin command runs a second time; from the third build on it is
      # up to date. Seen on a fresh clone in CI; the settle build below keeps the checks that
      # follow meaningful, and the README says so.
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      t1=$(mtime "$artifact"); sleep 1
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      check "swiftpm: second build leaves the model as it was" test "$(mtime "$artifact")" = "$t1"
      check "swiftpm: second build runs no quantc" bash -c "! grep -q 'quantc build' '$scratch/swiftpm.log'"
      sleep 1; touch "$pkg/Sources/DigitsModel/digits_mlp.onnx"
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      check "swiftpm: touching the model rebuilds" test "$(mtime "$artifact")" != "$t1"
      t2=$(mtime "$artifact"); sleep 1; touch "$root/models/digits/calib_x.npy"
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      check "swiftpm: touching the calibration data rebuilds" test "$(mtime "$artifact")" != "$t2"
      t3=$(mtime "$artifact")
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      check "swiftpm: and then it is up to date again" test "$(mtime "$artifact")" = "$t3"
      mkdir -p "$scratch/embed-out"
      check "swiftpm: embed-example quantizes through QuantCKit" "$out/embed-example" "$root" "$scratch/embed-out"
      ;;
    *) echo "unknown suite '$suite' (make, cmake, swiftpm)" >&2; exit 64 ;;
  esac
done
echo "integrations: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

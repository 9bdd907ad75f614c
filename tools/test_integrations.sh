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
      # when any environment variable differs (a `cd` changes OLDPWD, bash sets `_`; the environment
      # is part of the PackageStructure signature, so it replans: step 3 below), and switching
      # products relinks the plugin's tool.
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
      # Known SwiftPM gap (issue 8; native build system, the default of `swift build` 6.3.1): from a
      # clean .build the SECOND build runs `quantc build` once more, the third does nothing. Not
      # ours: the same happens to any build-tool plugin whose tool is an executable target. Traced
      # with `swift build -v` and the llbuild databases (.build/build.db, .build/plugin-tools.db):
      # 1. The first build plans without running llbuild's PackageStructure command (debug.yaml does
      #    not exist yet), so build.db has no record of it and the second build replans.
      # 2. Planning builds the plugin's tools first, from plugin-tools.yaml into its own database,
      #    plugin-tools.db (SwiftPM Sources/Build/BuildOperation.swift, buildPluginTools: "FIXME: It
      #    should be possible to share database between plugin tools and regular builds").
      # 3. debug.yaml holds the same commands for quantc-tool. build.db had never run them, so the
      #    first build's main pass reran CONNX's C compiles, the debug `-modulewrap` steps and the
      #    link of quantc-tool, rewriting outputs plugin-tools.db had recorded. llbuild reruns a
      #    command whose outputs changed since its record, so the replan recompiles those and
      #    relinks quantc-tool (then the main pass does so again), and the plugin command, whose
      #    inputs include quantc-tool, runs again.
      # Any later replan (Package.swift or a target folder changes, another environment) repeats
      # step 3. `--build-system swiftbuild` does nothing on the second build but reran quantc on 6 of
      # 10 back-to-back no-change builds (cf. swiftlang/swift-build#305). So one settle build here;
      # it says so when it was not needed.
      eval "$build" >"$scratch/swiftpm.log" 2>&1
      grep -q 'quantc build' "$scratch/swiftpm.log" \
        || echo "note: swiftpm: the second build ran no quantc; the settle build may no longer be needed"
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

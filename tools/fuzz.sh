#!/usr/bin/env bash
# Fuzzes quantc's ONNX importer for SECONDS (default 60) with libFuzzer and ASan.
#
#   tools/fuzz.sh [SECONDS]
#
# Builds Sources/quantc-fuzz with -sanitize=fuzzer,address into .build-fuzz, seeds it with
# the ONNX backend node-test models of the venv's onnx package (tools/fuzz_seeds.py),
# Tests/Fixtures/bad and the regression corpus, and runs it. Any input that crashes, leaks, times out or runs out of
# memory is copied into Tests/Fixtures/fuzz-regressions/ (commit it; FuzzRegressionTests
# replays every file there on each `swift test`) and the script exits 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
scratch=.build-fuzz
regressions=Tests/Fixtures/fuzz-regressions

mkdir -p "$scratch"
echo "fuzz: building the importer target with -sanitize=fuzzer,address"
swift build -c release --product quantc-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DQUANTC_FUZZ -Xcc -fsanitize=address >"$scratch/build.log" 2>&1 \
  || { tail -n 40 "$scratch/build.log" >&2; echo "fuzz: build failed" >&2; exit 1; }
binary="$scratch/release/quantc-fuzz"

# Seeds, gathered once: the node-test models (tools/fuzz_seeds.py) and the malformed corpus.
seeds="$scratch/seeds"
if [ ! -d "$seeds" ]; then
  rm -rf "$seeds.tmp"
  .venv/bin/python tools/fuzz_seeds.py "$seeds.tmp"
  for f in Tests/Fixtures/bad/*/*.onnx; do
    [ -f "$f" ] && cp "$f" "$seeds.tmp/bad-$(basename "$(dirname "$f")")-$(basename "$f")"
  done
  mv "$seeds.tmp" "$seeds"
fi
corpus="$scratch/corpus"      # what libFuzzer finds interesting; kept between runs
artifacts="$scratch/artifacts"
mkdir -p "$corpus" "$artifacts" "$regressions"
rm -f "$artifacts"/*
echo "fuzz: $(ls "$seeds" | wc -l) seeds, $(ls "$corpus" | wc -l) corpus inputs, $(ls "$regressions" | wc -l) regressions; running ${seconds}s"

status=0
# -timeout: one input may take 10 s; -rss_limit_mb: 2 GiB; -max_len covers the node-test models.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$binary" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$corpus" "$seeds" "$regressions" >"$scratch/fuzz.log" 2>&1 || status=$?
tail -n 15 "$scratch/fuzz.log"

found=0
for f in "$artifacts"/*; do
  [ -f "$f" ] || continue
  kind=$(basename "$f" | cut -d- -f1)
  name="$kind-$(sha256sum "$f" | cut -c1-16).onnx"
  cp "$f" "$regressions/$name"
  echo "fuzz: $kind input saved as $regressions/$name" >&2
  found=$((found + 1))
done
if [ "$found" -gt 0 ] || [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED ($found failing inputs, libFuzzer exit $status; log: $scratch/fuzz.log)" >&2
  exit 1
fi
echo "fuzz: ok, no crash in ${seconds}s"

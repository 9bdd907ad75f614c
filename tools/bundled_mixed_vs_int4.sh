#!/bin/bash
# Bundled models, as `quantc quantize` writes them (bias correction on): uniform int4/g128 against
# mixed precision at 4.5 value bits, rounded by RTN and by GPTQ. Prints test accuracy and the
# output SQNR against float (mean over outputs) from each model's report.
#   tools/bundled_mixed_vs_int4.sh [QUANTC]
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${1:-.build/release/quantc}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
summary() {
    .venv/bin/python - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = [o["error"]["sqnr_db"] for o in r["outputs"]]
print("%.2f%%, %.1f dB" % (100 * r["accuracy"]["quantized"], sum(s) / len(s)))
PY
}
int4="quantize(weights=int4,granularity=per-group,group=128)"
for m in mlp cnn transformer; do
    case $m in cnn) x=_img ;; transformer) x=_seq ;; *) x= ;; esac
    A=(models/digits_$m.onnx --calibration models/digits/calib_x$x.npy --test models/digits/test_x$x.npy
       --labels models/digits/test_y.npy --no-cache -q)
    "$Q" quantize "${A[@]}" -o "$W/u_rtn.onnx" --pipeline "canonicalize,calibrate(method=auto),$int4,bias-correct(samples=64),insert-qdq" 2>/dev/null
    "$Q" quantize "${A[@]}" -o "$W/m_rtn.onnx" --budget 4.5wbits 2>/dev/null
    "$Q" quantize "${A[@]}" -o "$W/u_gptq.onnx" --pipeline "canonicalize,calibrate(method=auto),$int4,layer-hessian,round(method=gptq),bias-correct(samples=64),insert-qdq" 2>/dev/null
    "$Q" quantize "${A[@]}" -o "$W/m_gptq.onnx" --budget 4.5wbits --rounding gptq 2>/dev/null
    echo "digits_$m | int4/g128 RTN $(summary "$W/u_rtn.report.json") | mixed 4.5wbits RTN $(summary "$W/m_rtn.report.json")" \
         "| int4/g128 GPTQ $(summary "$W/u_gptq.report.json") | mixed 4.5wbits GPTQ $(summary "$W/m_gptq.report.json")"
done

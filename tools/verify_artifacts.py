#!/usr/bin/env python3
"""Checks that `quantc exec` runs a compiled artifact as quantc simulates it.

For each model: `quantc compile MODEL --calibration DATA --target gfx803 -o WORK/KEY.qc`
(`--qdq` when the model already holds Q/DQ nodes), then over N test samples
`quantc exec KEY.qc` (pocl, or --device) and `quantc run KEY.qc/model.onnx` on the same
inputs, and compares: output cosine >= 0.9999 (all outputs of a sample together, in
float64), and the task's decision: the same top-1 (digits, orientation), the same
detections (layout_cdla: PicoDet decode + NMS, common_det: YOLOX decode + NMS, both from
tools/task_metrics.py, every box matched at IoU >= 0.5 with its class), the same CTC
argmax path (common: what ddddocr's greedy decode reads). Prints a table; exits 1 when any
model fails.

    .venv/bin/python tools/verify_artifacts.py                        # every bundled and real model
    .venv/bin/python tools/verify_artifacts.py digits_cnn orientation --samples 32
    .venv/bin/python tools/verify_artifacts.py --artifact orientation=out/orientation.qc
    .venv/bin/python tools/verify_artifacts.py --hand-built           # no compiler needed

`--hand-built` writes an artifact of digits_mlp by hand (int8 per-channel weights, one
OpenCL GEMV kernel per Gemm with bias and Relu fused, Softmax as a host launch; the
manifest, plan and weights.bin exactly as Sources/Artifact defines them) and verifies it
the same way: the exec half of this check, usable before `quantc compile` exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

DIGITS = ROOT / "models" / "digits"
CACHE = ROOT / ".cache"
# key -> (model, calibration data, test data, decision)
MODELS = {
    "digits_mlp": (ROOT / "models/digits_mlp.onnx", DIGITS / "calib_x.npy", DIGITS / "test_x.npy", "top1"),
    "digits_cnn": (ROOT / "models/digits_cnn.onnx", DIGITS / "calib_x_img.npy", DIGITS / "test_x_img.npy", "top1"),
    "digits_transformer": (ROOT / "models/digits_transformer.onnx", DIGITS / "calib_x_seq.npy", DIGITS / "test_x_seq.npy", "top1"),
    "orientation": (CACHE / "models/orientation.onnx", CACHE / "data/orientation/calib", CACHE / "data/orientation/test", "top1"),
    "layout_cdla": (CACHE / "models/layout_cdla.onnx", CACHE / "data/layout_cdla/calib", CACHE / "data/layout_cdla/test", "layout"),
    "common_det": (CACHE / "models/common_det.onnx", CACHE / "data/common_det/calib", CACHE / "data/common_det/test", "yolox"),
    "common": (CACHE / "models/common.onnx", CACHE / "data/common/calib", CACHE / "data/common/test", "ctc"),
}
COSINE_MIN = 0.9999


def safe(name: str) -> str:
    """The file name quantc gives an output (Sources/quantc/Run.swift, Exec.swift)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)


def samples(test: Path, names: list[str], limit: int):
    """(feed, meta) per sample, batch 1: rows of a .npy, or the .npz files of a data split."""
    if test.suffix == ".npy":
        x = np.load(test)
        for i in range(min(limit, len(x))):
            yield {names[0]: x[i:i + 1]}, None
        return
    import task_metrics
    n = 0
    for _, arrays, metas, _ in task_metrics.iter_split(test):
        k = next(iter(arrays.values())).shape[0]
        for i in range(k):
            if n >= limit:
                return
            yield {name: v[i:i + 1] for name, v in arrays.items()}, metas[i]
            n += 1


def run_quantc(quantc: str, args: list[str], tmp: Path, feed: dict, outputs: list[str], env=None) -> list[np.ndarray]:
    ins = []
    for i, (k, v) in enumerate(feed.items()):
        p = tmp / f"in{i}.npy"
        np.save(p, np.ascontiguousarray(v))
        ins += ["--input", f"{k}={p}"]
    out = tmp / "out"
    if out.exists():
        for f in out.iterdir():
            f.unlink()
    r = subprocess.run([quantc, *args, *ins, *(["-o", str(out)] if args[0] == "exec" else ["--output-dir", str(out)])],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"quantc {args[0]} failed ({r.returncode}): {r.stderr.strip()}")
    return [np.load(out / f"{safe(o)}.npy") for o in outputs]


def cosine(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    x = np.concatenate([v.ravel().astype(np.float64) for v in a])
    y = np.concatenate([v.ravel().astype(np.float64) for v in b])
    d = np.linalg.norm(x) * np.linalg.norm(y)
    return 1.0 if d == 0 and np.array_equal(x, y) else float(x @ y / (d + 1e-300))


def same_decision(kind: str, got: list[np.ndarray], ref: list[np.ndarray], meta) -> bool:
    if kind == "top1":
        return bool(np.array_equal(got[0].reshape(-1, got[0].shape[-1]).argmax(-1), ref[0].reshape(-1, ref[0].shape[-1]).argmax(-1)))
    if kind == "ctc":
        return bool(np.array_equal(got[0].argmax(-1), ref[0].argmax(-1)))
    import task_metrics
    if kind == "layout":
        b1, _, c1 = task_metrics.picodet_postprocess(got, meta["image_hw"])
        b2, _, c2 = task_metrics.picodet_postprocess(ref, meta["image_hw"])
        tp, fp, fn = task_metrics.match_boxes(b1.tolist(), b2.tolist(), c1.tolist(), c2.tolist())
    else:
        tp, fp, fn = task_metrics.match_boxes(task_metrics.yolox_postprocess(got[0], meta["image_hw"]),
                                              task_metrics.yolox_postprocess(ref[0], meta["image_hw"]))
    return fp == 0 and fn == 0


def first_feed(key: str) -> dict:
    import onnx
    model, _, test, _ = MODELS[key]
    m = onnx.load(str(model), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    return next(samples(test, names, 1))[0]


def is_qdq(model: Path) -> bool:
    import onnx
    m = onnx.load(str(model), load_external_data=False)
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in m.graph.node)


def verify(key: str, artifact: Path, quantc: str, limit: int, device: str | None, cache: Path) -> dict:
    import onnx
    _, _, test, kind = MODELS[key]
    m = onnx.load(str(artifact / "model.onnx"), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    outputs = [o.name for o in m.graph.output]
    exec_args = ["exec", str(artifact), "--cache-dir", str(cache)] + (["--device", device] if device else [])
    # On a CPU device GEMV kernels have their own body; --gcn-bodies runs the gfx803 one. Both are checked.
    bodies = [[]] + ([["--gcn-bodies"]] if "#define KERNEL_NAME gemv_" in (artifact / "kernels.cl").read_text() else [])
    # A plan has fixed shapes: samples of another shape (common's image width) are skipped.
    shapes = {v["name"]: v["shape"] for v in json.loads((artifact / "plan.json").read_text())["inputs"]}
    cos, same, n, skipped, diff = [], 0, 0, 0, 0.0
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for feed, meta in samples(test, names, 100 * limit):
            if n >= limit:
                break
            if any(list(v.shape) != shapes.get(k) for k, v in feed.items()):
                skipped += 1
                continue
            ref = run_quantc(quantc, ["run", str(artifact / "model.onnx")], tmp, feed, outputs)
            for body in bodies:
                got = run_quantc(quantc, exec_args + body, tmp, feed, outputs)
                cos.append(cosine(got, ref))
                diff = max(diff, max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0)) for a, b in zip(got, ref)))
                same += same_decision(kind, got, ref, meta)
            n += 1
    ok = n > 0 and min(cos) >= COSINE_MIN and same == n * len(bodies)
    return {"model": key, "samples": n, "bodies": len(bodies), "skipped": skipped, "max_abs_diff": diff, "cosine_min": min(cos) if cos else float("nan"),
            "cosine_mean": float(np.mean(cos)) if cos else float("nan"), "same": same, "decision": kind, "ok": ok}


# --------------------------------------------------------------------------
# a hand-built artifact (the Artifact module's format, written from Python)
# --------------------------------------------------------------------------

GEMV_KERNEL = """
// Work-item ids and multiply-add without library calls on gfx803 (-nogpulib turns OpenCL's
// work-item functions into calls; see /work/shared/notes/gcn.md), OpenCL's own on pocl.
#ifdef __AMDGCN__
#define QC_LID0() ((int)__builtin_amdgcn_workitem_id_x())
#define QC_GROUP0() ((int)__builtin_amdgcn_workgroup_id_x())
#else
#define QC_LID0() ((int)get_local_id(0))
#define QC_GROUP0() ((int)get_group_id(0))
#endif
#define WG 64
static inline float qc_mad(float a, float b, float c) { return a * b + c; }

// y[n] = act(scale[n] * sum_k w[n,k] x[k] + bias[n]): int8 weights dequantized in registers
// (the per-row scale applied once after the dot), fp32 accumulation; one work-item per row,
// work-groups of WG, rows past N idle.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void gemv_i8_bias_act(__global const float *x, __global const char *w, __global const float *scale,
                      __global const float *bias, __global float *y, int N, int K, int relu) {
    int n = QC_GROUP0() * WG + QC_LID0();
    if (n >= N) return;
    __global const char *row = w + n * K;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc = qc_mad((float)row[k], x[k], acc);
    float v = qc_mad(acc, scale[n], bias[n]);
    y[n] = relu ? __builtin_fmaxf(v, 0.0f) : v;
}
"""


def align(n: int, a: int = 256) -> int:
    return (n + a - 1) // a * a


def hand_built_mlp(out: Path) -> Path:
    """digits_mlp with int8 per-channel weights: model.onnx is the QDQ graph
    (DequantizeLinear on each weight), kernels.cl one GEMV launch per Gemm (Relu fused),
    Softmax on the host."""
    import onnx
    from onnx import helper, numpy_helper
    src = onnx.load(str(MODELS["digits_mlp"][0]))
    w = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    nodes, inits, weights, blobs, launches = [], [], bytearray(), [], []
    arena_values, offset = [], 0

    def place(name, shape):
        nonlocal offset
        v = {"name": name, "elementType": "float32", "shape": list(shape), "offset": offset, "bytes": int(np.prod(shape)) * 4}
        offset = align(offset + v["bytes"])
        return v

    def blob(name, arr, etype):
        nonlocal weights
        weights += b"\0" * (align(len(weights)) - len(weights))
        b = {"name": name, "elementType": etype, "shape": list(arr.shape), "offset": len(weights), "bytes": arr.nbytes}
        weights += arr.tobytes()
        blobs.append(b)
        return b

    values = {"input": place("input", (1, 64))}
    prev = "input"
    layers = [("fc1", "relu1", True), ("fc2", "relu2", True), ("fc3", "logits", False)]
    for fc, outname, relu in layers:
        W, B = w[f"{fc}.weight"], w[f"{fc}.bias"]
        scale = (np.abs(W).max(axis=1) / 127).astype(np.float32)
        q = np.clip(np.rint(W / scale[:, None]), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(q, f"{fc}.w_q"), numpy_helper.from_array(scale, f"{fc}.w_scale"),
                  numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{fc}.w_zp"), numpy_helper.from_array(B, f"{fc}.bias")]
        nodes.append(helper.make_node("DequantizeLinear", [f"{fc}.w_q", f"{fc}.w_scale", f"{fc}.w_zp"], [f"{fc}.w"], name=f"{fc}.dq", axis=0))
        gemm_out = fc if relu else outname
        nodes.append(helper.make_node("Gemm", [prev, f"{fc}.w", f"{fc}.bias"], [gemm_out], name=fc, transB=1))
        if relu:
            nodes.append(helper.make_node("Relu", [fc], [outname], name=outname))
        values[outname] = place(outname, (1, W.shape[0]))
        bq, bs, bb = blob(f"{fc}.w_q", q, "int8"), blob(f"{fc}.w_scale", scale, "float32"), blob(f"{fc}.bias", B.astype(np.float32), "float32")
        x, y = values[prev], values[outname]
        launches.append({"nodes": [f"{fc}.dq", fc] + ([outname] if relu else []), "kernel": "gemv_i8_bias_act",
                         "arguments": [{"buffer": {"region": "arena", "name": prev, "offset": x["offset"], "bytes": x["bytes"]}},
                                       {"buffer": {"region": "weights", "name": bq["name"], "offset": bq["offset"], "bytes": bq["bytes"]}},
                                       {"buffer": {"region": "weights", "name": bs["name"], "offset": bs["offset"], "bytes": bs["bytes"]}},
                                       {"buffer": {"region": "weights", "name": bb["name"], "offset": bb["offset"], "bytes": bb["bytes"]}},
                                       {"buffer": {"region": "arena", "name": outname, "offset": y["offset"], "bytes": y["bytes"]}},
                                       {"int32": {"_0": int(W.shape[0])}}, {"int32": {"_0": int(W.shape[1])}},
                                       {"int32": {"_0": int(relu)}}],
                         "globalSize": [align(int(W.shape[0]), 64)], "localSize": [64]})
        prev = outname
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))
    values["probs"] = place("probs", (1, 10))
    launches.append({"nodes": ["softmax"], "arguments": [], "globalSize": [],
                     "host": {"node": "softmax", "opType": "Softmax", "inputs": ["logits"], "outputs": ["probs"],
                              "reason": "hand-built: no softmax kernel"}})
    graph = helper.make_graph(nodes, "digits_mlp_int8", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 10]) for n in ("logits", "probs")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="verify_artifacts.py")
    order = ["input", "relu1", "relu2", "logits", "probs"]
    first = {"input": -1, "relu1": 0, "relu2": 1, "logits": 2, "probs": 3}
    last = {"input": 0, "relu1": 1, "relu2": 2, "logits": 4, "probs": 4}
    plan = {"formatVersion": 1, "quantcVersion": "verify_artifacts.py", "target": "gfx803",
            "inputs": [values["input"]], "outputs": [values["logits"], values["probs"]],
            "arena": {"peakBytes": offset, "values": [{"value": values[v], "firstLaunch": first[v], "lastLaunch": last[v]} for v in order]},
            "weights": blobs, "launches": launches}
    files = {"model.onnx": model.SerializeToString(), "kernels.cl": GEMV_KERNEL.encode(),
             "plan.json": json.dumps(plan, indent=2, sort_keys=True).encode(), "weights.bin": bytes(weights)}
    return write_artifact(out, files, MODELS["digits_mlp"][0], "hand-built int8 per-channel RTN")


def write_artifact(out: Path, files: dict, source_model: Path, pipeline: str) -> Path:
    """The Artifact module's layout: manifest.json with the SHA-256 of every other file."""
    manifest = {"formatVersion": 1, "quantcVersion": "verify_artifacts.py",
                "sourceModelSHA256": hashlib.sha256(source_model.read_bytes()).hexdigest(),
                "pipeline": pipeline, "target": "gfx803",
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}
    files = dict(files, **{"manifest.json": (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()})
    out.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (out / k).write_bytes(v)
    return out


def place_by_liveness(values: list[dict]) -> int:
    """First fit at 256-byte aligned offsets: a value may share bytes with another only
    when their launch intervals [firstLaunch, lastLaunch] are disjoint. Returns the peak."""
    placed, peak = [], 0
    for v in sorted(values, key=lambda v: (v["firstLaunch"], -v["value"]["bytes"])):
        live = sorted((p["value"]["offset"], p["value"]["offset"] + p["value"]["bytes"]) for p in placed
                      if p["firstLaunch"] <= v["lastLaunch"] and v["firstLaunch"] <= p["lastLaunch"])
        offset = 0
        for a, b in live:
            if offset + v["value"]["bytes"] <= a:
                break
            offset = max(offset, align(b))
        v["value"]["offset"] = offset
        peak = max(peak, offset + v["value"]["bytes"])
        placed.append(v)
    return peak


def host_only(key: str, out: Path, feed: dict) -> Path:
    """An artifact of KEY's model in which every node is a host launch: no kernels, every
    value the nodes exchange placed in the arena by liveness. Exercises the runtime's arena,
    host path and plan handling on a real graph before the code generator exists. Shapes
    come from one ONNX Runtime run of `feed` with every value as an output."""
    import onnx
    import onnxruntime as ort
    model_path = MODELS[key][0]
    m = onnx.load(str(model_path))
    inits = {t.name for t in m.graph.initializer}
    produced = [o for n in m.graph.node for o in n.output if o]
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    have = {o.name for o in probe.graph.output}
    for name in produced:
        if name not in have:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    arrays = dict(zip(names, sess.run(names, feed)))
    arrays.update(feed)
    outputs = [o.name for o in m.graph.output]
    consumers: dict[str, int] = {}
    launches, nodes = [], []
    # Nodes none of whose outputs is read or is a graph output are left out, as a compiler would.
    read = set(outputs)
    for n in reversed(m.graph.node):
        if any(o in read for o in n.output if o):
            nodes.append(n)
            read.update(i for i in n.input if i)
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in n.attribute):
                raise RuntimeError(f"node '{n.name}' has a subgraph, which the host-only builder does not follow")
    nodes.reverse()
    first: dict[str, int] = {i.name: -1 for i in m.graph.input if i.name not in inits}
    for k, n in enumerate(nodes):
        for i in n.input:
            if i and i not in inits:
                consumers[i] = k
        for o in n.output:
            if o:
                first[o] = k
        launches.append({"nodes": [n.name or n.output[0]], "arguments": [], "globalSize": [],
                         "host": {"node": n.name, "opType": n.op_type, "inputs": list(n.input), "outputs": list(n.output),
                                  "reason": "host-only verification artifact"}})
    dtype = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64", np.dtype(np.int32): "int32",
             np.dtype(np.bool_): "bool", np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype(np.float16): "float16"}
    values = []
    for name, k in first.items():
        last = len(launches) if name in outputs else consumers.get(name)
        if last is None:
            continue
        a = np.asarray(arrays[name])
        values.append({"value": {"name": name, "elementType": dtype[a.dtype], "shape": list(a.shape), "offset": 0,
                                 "bytes": max(int(a.nbytes), 1)}, "firstLaunch": k, "lastLaunch": last})
    peak = place_by_liveness(values)
    by_name = {v["value"]["name"]: v["value"] for v in values}
    plan = {"formatVersion": 1, "quantcVersion": "verify_artifacts.py", "target": "gfx803",
            "inputs": [by_name[i.name] for i in m.graph.input if i.name not in inits],
            "outputs": [by_name[o] for o in outputs],
            "arena": {"peakBytes": peak, "values": sorted(values, key=lambda v: v["value"]["name"])},
            "weights": [], "launches": launches}
    files = {"model.onnx": model_path.read_bytes(), "kernels.cl": b"// host-only artifact: every node runs on the host\n",
             "plan.json": json.dumps(plan, indent=2, sort_keys=True).encode(), "weights.bin": b""}
    return write_artifact(out, files, model_path, "host-only (no kernels)")


# Models with a symbolic input dimension other than the batch: the shape compiled (the test samples
# of another shape are skipped by `verify`).
INPUT_SHAPES = {"common": "input1=1x1x64x192"}  # the most common width of the test lines (78 of 200)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help=" ".join(MODELS))
    ap.add_argument("--samples", type=int, default=16, help="test samples per model (default 16)")
    ap.add_argument("--quantc", default=str(ROOT / ".build/release/quantc"))
    ap.add_argument("--work", type=Path, help="folder for artifacts (default: a temporary one)")
    ap.add_argument("--device", help="quantc exec --device")
    ap.add_argument("--compile-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for quantc compile, e.g. --compile-arg=--no-bias-correction (repeatable)")
    ap.add_argument("--artifact", action="append", default=[], metavar="KEY=DIR", help="verify this artifact instead of compiling KEY")
    ap.add_argument("--hand-built", action="store_true", help="verify a hand-written digits_mlp artifact (no compiler needed)")
    ap.add_argument("--host-only", action="store_true",
                    help="instead of compiling, verify artifacts whose every node is a host launch (the runtime's arena and host path)")
    args = ap.parse_args()

    given = dict(a.split("=", 1) for a in args.artifact)
    keys = args.models or ([] if (given or args.hand_built) else list(MODELS))
    keys += [k for k in given if k not in keys]
    work = args.work or Path(tempfile.mkdtemp(prefix="quantc-verify-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "kernel-cache"
    rows, failed = [], False
    jobs = [(k, "host" if args.host_only and k not in given else None) for k in keys]
    jobs += [("digits_mlp", "hand")] if args.hand_built else []
    for key, how in jobs:
        if key not in MODELS:
            ap.error(f"unknown model '{key}' (known: {', '.join(MODELS)})")
        model, calib, test, _ = MODELS[key]
        label = key + {"hand": " (hand-built)", "host": " (host-only)", None: ""}[how]
        try:
            if how == "hand":
                artifact = hand_built_mlp(work / f"{key}.hand.qc")
            elif how == "host":
                artifact = host_only(key, work / f"{key}.host.qc", first_feed(key))
            elif key in given:
                artifact = Path(given[key])
            else:
                if not model.exists():
                    raise RuntimeError(f"{model} is missing (tools/fetch_models.sh)")
                artifact = work / f"{key}.qc"
                cmd = [args.quantc, "compile", str(model), "--calibration", str(calib), "--target", "gfx803", "-o", str(artifact)]
                if is_qdq(model):
                    cmd.append("--qdq")
                    cmd = [c for c in cmd if c not in ("--calibration", str(calib))]
                else:
                    cmd += args.compile_arg
                if key in INPUT_SHAPES:
                    cmd += ["--input-shape", INPUT_SHAPES[key]]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError(f"quantc compile failed ({r.returncode}): {r.stderr.strip()}")
            row = verify(key, artifact, args.quantc, args.samples, args.device, cache)
        except Exception as e:  # one model's failure is a row of the table, not the end of the run
            row = {"model": key, "samples": 0, "cosine_min": float("nan"), "cosine_mean": float("nan"), "same": 0,
                   "decision": MODELS[key][3], "ok": False, "error": " ".join(str(e).split())}
        row["model"] = label
        rows.append(row)
        failed |= not row["ok"]
        print(f"{label}: {'ok' if row['ok'] else 'FAIL'}" + (f" ({row['error']})" if "error" in row else ""), file=sys.stderr)

    print("| model | samples | exec bodies | min cosine | mean cosine | max abs diff | same decision | check |")
    print("|---|---:|---|---:|---:|---:|---|---|")
    for r in rows:
        what = {"top1": "top-1", "layout": "detections", "yolox": "detections", "ctc": "CTC path"}[r["decision"]]
        runs = r['samples'] * r.get('bodies', 1)
        print(f"| {r['model']} | {r['samples']} | {'CPU GEMV + gfx803' if r.get('bodies', 1) == 2 else 'gfx803'} | {r['cosine_min']:.7f} | "
              f"{r['cosine_mean']:.7f} | {r.get('max_abs_diff', float('nan')):.2g} | {r['same']}/{runs} {what} | {'ok' if r['ok'] else 'FAIL: ' + r.get('error', f'cosine < {COSINE_MIN} or a decision differs')} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

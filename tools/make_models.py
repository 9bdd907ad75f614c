#!/usr/bin/env python3
"""Builds the small ONNX models and data sets that quantc's tests and demos use.

Run with the project venv (created by tools/setup.sh):

    .venv/bin/python tools/make_models.py            # (re)build every model
    .venv/bin/python tools/make_models.py digits_mlp # just one
    .venv/bin/python tools/make_models.py --check    # rebuild in a temp dir and
                                                     # compare with models/

Everything is deterministic: fixed seeds, single-threaded BLAS, no timestamps,
deterministic protobuf serialisation. A rerun gives byte-identical files.

Each model is one function registered in MODELS; it writes its files under the
output folder and returns the list of paths it wrote. To add a model (a CNN, a
small transformer, ...) write another `build_<name>(out: Path) -> list[Path]`
and add it to MODELS.
"""

from __future__ import annotations

import os

# Single-threaded BLAS before numpy is imported: results must not depend on the
# number of cores of the machine that runs this.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import filecmp
import hashlib
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
OPSET = 17
IR_VERSION = 8
PRODUCER = "quantc-tools"
PRODUCER_VERSION = "1"

# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------


def save_onnx(model: onnx.ModelProto, path: Path) -> Path:
    """Checks the model fully and writes it with deterministic serialisation."""
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString(deterministic=True))
    # The file on disk must load and pass the checker too.
    onnx.checker.check_model(str(path), full_check=True)
    return path


def save_npy(array: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    return path


def run_ort(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs a saved model on ONNX Runtime's CPU provider, single-threaded."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def make_model(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    model.model_version = 1
    return model


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------
# digits_mlp: sklearn MLPClassifier on the 8x8 digits, Gemm+Relu stack
# --------------------------------------------------------------------------

DIGITS_SEED = 0
DIGITS_CALIB_N = 600  # training split, also the calibration set
DIGITS_HIDDEN = (64, 32)


def digits_split():
    """Returns (x_calib, y_calib, x_test, y_test) of sklearn's bundled digits.

    Stratified, seeded split of the 1797 samples into 600 (train/calibration)
    and 1197 (test); each part keeps the data set's original order.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    x = (ds.data / 16.0).astype(np.float32)  # pixels 0..16 -> [0, 1], exact
    y = ds.target.astype(np.int64)
    idx = np.arange(len(y))
    calib_idx, test_idx = train_test_split(
        idx, train_size=DIGITS_CALIB_N, stratify=y, random_state=DIGITS_SEED
    )
    calib_idx = np.sort(calib_idx)
    test_idx = np.sort(test_idx)
    return x[calib_idx], y[calib_idx], x[test_idx], y[test_idx]


def build_digits_mlp(out: Path) -> list[Path]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_cal, y_cal, x_test, y_test = digits_split()

    clf = MLPClassifier(
        hidden_layer_sizes=DIGITS_HIDDEN,
        activation="relu",
        solver="adam",
        alpha=1e-4,
        learning_rate_init=1e-3,
        max_iter=2000,
        tol=1e-6,
        n_iter_no_change=20,
        random_state=DIGITS_SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(x_cal, y_cal)
    assert list(clf.classes_) == list(range(10)), clf.classes_
    assert clf.out_activation_ == "softmax", clf.out_activation_

    # Graph: input -> [Gemm(transB=1) -> Relu]* -> Gemm -> logits -> Softmax -> probs
    inits, nodes = [], []
    cur = "input"
    n_layers = len(clf.coefs_)
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_), start=1):
        wname, bname = f"fc{i}.weight", f"fc{i}.bias"
        # sklearn stores W as [in, out]; ONNX Gemm with transB=1 wants [out, in].
        inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T.astype(np.float32)), wname))
        inits.append(numpy_helper.from_array(b.astype(np.float32), bname))
        last = i == n_layers
        gemm_out = "logits" if last else f"fc{i}"
        nodes.append(
            helper.make_node("Gemm", [cur, wname, bname], [gemm_out], name=f"fc{i}", transB=1)
        )
        if last:
            cur = gemm_out
        else:
            nodes.append(helper.make_node("Relu", [gemm_out], [f"relu{i}"], name=f"relu{i}"))
            cur = f"relu{i}"
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))

    n_in, n_out = clf.coefs_[0].shape[0], clf.coefs_[-1].shape[1]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n_in])],
        outputs=[
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", n_out]),
        ],
        initializer=inits,
        doc_string="8x8 digit classifier: input pixels scaled to [0,1] (value/16).",
    )
    model = make_model(
        graph,
        "MLP 64-64-32-10 (ReLU) trained with scikit-learn's MLPClassifier on "
        "sklearn.datasets.load_digits; built by tools/make_models.py.",
    )

    model_path = save_onnx(model, out / "digits_mlp.onnx")
    d = out / "digits"
    written = [
        model_path,
        save_npy(x_cal, d / "calib_x.npy"),
        save_npy(x_test, d / "test_x.npy"),
        save_npy(y_test, d / "test_y.npy"),
    ]

    # Cross-check ONNX Runtime against sklearn on both splits.
    x_all = np.concatenate([x_cal, x_test])
    got = run_ort(model_path, {"input": x_all})
    want = clf.predict_proba(x_all)
    diff = float(np.max(np.abs(got["probs"].astype(np.float64) - want)))
    if diff >= 1e-5:
        raise SystemExit(f"digits_mlp: ONNX probs differ from sklearn by {diff:.3g}")
    ort_test_pred = got["probs"][len(x_cal):].argmax(1)
    acc = float(np.mean(ort_test_pred == y_test))
    skl_acc = float(clf.score(x_test, y_test))
    assert np.array_equal(ort_test_pred, clf.predict(x_test)), "argmax mismatch"
    train_acc = float(clf.score(x_cal, y_cal))
    print(
        f"digits_mlp: {clf.n_iter_} epochs, train acc {train_acc:.4f}, "
        f"test acc {acc:.4f} ({int(round(acc * len(y_test)))}/{len(y_test)}), "
        f"max |ORT-sklearn| probs {diff:.2e}"
    )
    assert abs(acc - skl_acc) < 1e-12

    readme = d / "README.md"
    readme.write_text(
        f"""# digits data for `models/digits_mlp.onnx`

Generated by `tools/make_models.py` from scikit-learn's bundled 8x8 digits data
(`sklearn.datasets.load_digits`, 1797 samples, 10 classes). Regenerate with

    tools/setup.sh && .venv/bin/python tools/make_models.py digits_mlp

(`--check` rebuilds into a temporary folder and compares bytes with these files.)
The output is deterministic: a rerun writes byte-identical files.

Pixels (0..16) are divided by 16, so every value lies in [0, 1] and is exact in
float32. The samples are split once, stratified by class with seed {DIGITS_SEED}, into
{len(y_cal)} training samples and {len(y_test)} held-out test samples; each split keeps
the data set's original order.

| file | dtype | shape | what |
| --- | --- | --- | --- |
| `calib_x.npy` | float32 | {list(x_cal.shape)} | the training split; the model was trained on it, and it is the calibration set for post-training quantization |
| `test_x.npy` | float32 | {list(x_test.shape)} | held-out test inputs (never seen in training or calibration) |
| `test_y.npy` | int64 | {list(y_test.shape)} | labels 0..9 of `test_x` |

`../digits_mlp.onnx` (opset {OPSET}, IR version {IR_VERSION}): input `input` float32 `[N, 64]`;
Gemm(transB=1)+Relu layers of widths {DIGITS_HIDDEN[0]} and {DIGITS_HIDDEN[1]}, a final Gemm to
`logits` `[N, 10]` and Softmax to `probs` `[N, 10]`. Trained with scikit-learn's
`MLPClassifier(hidden_layer_sizes={DIGITS_HIDDEN}, activation="relu", solver="adam",
random_state={DIGITS_SEED})`. Float32 test accuracy under ONNX Runtime: {acc:.4f}
({int(round(acc * len(y_test)))}/{len(y_test)}); ONNX Runtime's `probs` match sklearn's
`predict_proba` within 1e-5.
"""
    )
    written.append(readme)
    return written


# --------------------------------------------------------------------------

MODELS = {
    "digits_mlp": build_digits_mlp,
    # "digits_cnn": build_digits_cnn,          # to come
    # "tiny_transformer": build_tiny_transformer,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=f"which to build (default: all of {', '.join(MODELS)})")
    ap.add_argument("--out", type=Path, default=REPO / "models", help="output folder (default: models/)")
    ap.add_argument("--check", action="store_true",
                    help="build into a temporary folder and fail if any file differs from --out")
    args = ap.parse_args()

    names = args.models or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; known: {list(MODELS)}")

    if not args.check:
        for name in names:
            for p in MODELS[name](args.out):
                print(f"  wrote {p.relative_to(args.out.parent) if p.is_relative_to(args.out.parent) else p}"
                      f"  {p.stat().st_size} B  sha256 {sha256(p)[:16]}")
        return 0

    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp_out = Path(tmp) / "models"
        for name in names:
            for p in MODELS[name](tmp_out):
                rel = p.relative_to(tmp_out)
                ref = args.out / rel
                same = ref.exists() and filecmp.cmp(p, ref, shallow=False)
                print(f"  {'same' if same else 'DIFFERS'}  {rel}")
                bad += not same
    if bad:
        print(f"make_models --check: {bad} file(s) differ from {args.out}", file=sys.stderr)
        return 1
    print("make_models --check: all files identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Builds the small ONNX models and data sets that quantc's tests and demos use.

Run with the project venv (created by tools/setup.sh):

    .venv/bin/python tools/make_models.py            # (re)build every model
    .venv/bin/python tools/make_models.py digits_mlp # just one
    .venv/bin/python tools/make_models.py --check    # rebuild in a temp dir and
                                                     # compare with models/

Everything is deterministic: fixed seeds, single-threaded BLAS, no timestamps,
deterministic protobuf serialisation. A rerun gives byte-identical files.

Models (all on the same split of sklearn's 8x8 digits, see models/digits/README.md):

    digits_mlp          Gemm+Relu MLP trained with scikit-learn
    digits_cnn          Conv+BatchNormalization (unfolded)+Relu CNN, trained here in numpy
    digits_transformer  pre-LN transformer encoder over the image rows, trained here in numpy

The CNN and the transformer are trained by hand-written numpy forward and
backward passes (no deep-learning framework), which are checked against
numerical gradients on every build. The whole run takes about two minutes.

Each model is one function registered in MODELS; it writes its files under the
output folder and returns the list of paths it wrote. To add a model write
another `build_<name>(out: Path) -> list[Path]` and add it to MODELS.
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
import shutil
import sys
import tempfile
import time
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

    written.append(write_digits_readme(out))
    return written


# --------------------------------------------------------------------------
# numpy training toolkit (digits_cnn, digits_transformer)
#
# No deep-learning framework: each layer is written out as a forward pass that
# keeps what its backward pass needs, and a backward pass that maps
# d(loss)/d(output) to d(loss)/d(input) and the gradients of its parameters.
# Training runs in float64 (so the numerical gradient checks are tight); the
# exported weights are rounded to float32. Parameters live in plain dicts
# {onnx initializer name: array}; dict order is fixed, so is every update.
# --------------------------------------------------------------------------


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dp: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
    """d(loss)/d(z) from d(loss)/d(p) for p = softmax(z): the Jacobian is diag(p) - p p^T."""
    return p * (dp - np.sum(dp * p, axis=axis, keepdims=True))


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits."""
    n = len(y)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -float(np.mean(log_p[np.arange(n), y]))
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1.0
    return loss, dlogits / n


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float):
    """(x - mean) / sqrt(var + eps) with mean and biased variance taken over `axes`.

    Batch norm in training mode normalises over the batch and spatial axes,
    layer norm over the feature axis; both then scale and shift per feature.
    Returns (xhat, inv_std, mean, var).
    """
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mean) * inv_std, inv_std, mean, var


def normalize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                       axes: tuple[int, ...]) -> np.ndarray:
    """d(loss)/d(x) for xhat = normalize(x): mean and variance depend on x too, which
    removes the gradient's mean and its component along xhat."""
    return inv_std * (
        dxhat
        - dxhat.mean(axis=axes, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
    )


class Adam:
    """Adam (Kingma & Ba 2015) with decoupled weight decay (AdamW) on the named
    parameters; the others (biases, norm scales and shifts, embeddings) are not decayed."""

    def __init__(self, params: dict[str, np.ndarray], decay: set[str], weight_decay: float,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.decay, self.wd = decay, weight_decay
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.b1**self.t, 1.0 - self.b2**self.t  # bias corrections
        for k, p in params.items():
            g = grads[k]
            self.m[k] = self.b1 * self.m[k] + (1.0 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1.0 - self.b2) * g * g
            if k in self.decay:
                p -= lr * self.wd * p
            p -= lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


def train_adam(loss_and_grads, params: dict[str, np.ndarray], n: int, *, epochs: int,
               batch: int, lr: float, warmup_epochs: int, decay: set[str],
               weight_decay: float, seed: int) -> list[float]:
    """Minibatch AdamW over n samples, reshuffled every epoch with a seeded generator.

    The learning rate warms up linearly for `warmup_epochs`, then follows a cosine
    from `lr` down to 0 at the last step. `loss_and_grads(params, idx)` returns
    (loss, grads) on the samples `idx`. Updates `params` in place and returns the
    mean training loss of every epoch.
    """
    rng = np.random.default_rng(seed)
    opt = Adam(params, decay, weight_decay)
    steps_per_epoch = -(-n // batch)
    total, warm = epochs * steps_per_epoch, warmup_epochs * steps_per_epoch
    history, step = [], 0
    for _ in range(epochs):
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, batch):
            if step < warm:
                lr_t = lr * (step + 1) / warm
            else:
                lr_t = lr * 0.5 * (1.0 + np.cos(np.pi * (step - warm) / (total - warm)))
            loss, grads = loss_and_grads(params, order[start:start + batch])
            opt.step(params, grads, lr_t)
            losses.append(loss)
            step += 1
        history.append(float(np.mean(losses)))
    return history


def check_gradients(name: str, loss_and_grads, params: dict[str, np.ndarray], seed: int,
                    coords: int = 4, h: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8) -> float:
    """Compares the analytic gradient with central differences (loss(p+h) - loss(p-h)) / 2h
    at a few random coordinates of every parameter; `loss_and_grads(params)` returns
    (loss, grads). Fails the build unless |numeric - analytic| <= atol + rtol * (|numeric| +
    |analytic|) everywhere (atol covers gradients that are exactly 0 in theory, where the
    difference quotient is rounding noise). Returns the worst relative error among the
    coordinates with a gradient above 1e-6."""
    rng = np.random.default_rng(seed)
    _, grads = loss_and_grads(params)
    worst = 0.0
    for k, p in params.items():
        flat, gflat = p.reshape(-1), grads[k].reshape(-1)  # flat is a view of p
        for i in rng.choice(p.size, size=min(coords, p.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            loss_plus, _ = loss_and_grads(params)
            flat[i] = old - h
            loss_minus, _ = loss_and_grads(params)
            flat[i] = old
            numeric, analytic = (loss_plus - loss_minus) / (2.0 * h), gflat[i]
            size = abs(numeric) + abs(analytic)
            if abs(numeric - analytic) > atol + rtol * size:
                raise SystemExit(f"{name}: gradient check failed for {k}[{i}]: "
                                 f"analytic {analytic:.8g}, numeric {numeric:.8g}")
            if size > 1e-6:
                worst = max(worst, abs(numeric - analytic) / size)
    return worst


def to_float32(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in arrays.items()}


def to_float64(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float64) for k, v in arrays.items()}


def check_against_ort(name: str, path: Path, x: np.ndarray, want_probs: np.ndarray) -> float:
    """Runs the saved model on x and fails unless ONNX Runtime's probs match the numpy
    forward pass within 1e-4; returns the largest absolute difference."""
    got = run_ort(path, {"input": x})
    diff = float(np.max(np.abs(got["probs"].astype(np.float64) - want_probs)))
    if diff >= 1e-4:
        raise SystemExit(f"{name}: ONNX Runtime probs differ from the numpy forward pass by {diff:.3g}")
    if not np.allclose(softmax(got["logits"].astype(np.float64)), got["probs"], atol=1e-6):
        raise SystemExit(f"{name}: probs is not softmax(logits)")
    return diff


# --------------------------------------------------------------------------
# digits_cnn: small CNN on the 8x8 images, trained in numpy; BatchNormalization
# nodes are exported unfolded (quantc's canonicalisation folds them into Conv)
# --------------------------------------------------------------------------

CNN_SEED = 0
CNN_CHANNELS = (8, 16, 16)  # conv1, conv2 (then MaxPool 2x2 -> 4x4), conv3
CNN_CONV_BIAS = (True, False, False)  # Conv bias inputs (see cnn_init)
CNN_BN_EPS = 1e-5
CNN_BN_MOMENTUM = 0.1  # running = (1 - m) * running + m * batch, as in PyTorch
CNN_EPOCHS = 150
CNN_BATCH = 32
CNN_LR = 3e-3
CNN_WARMUP = 5
CNN_WEIGHT_DECAY = 1e-2


def im2col3x3(x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N*H*W, C*9]: each pixel's 3x3 neighbourhood (zero padding 1),
    ordered (c, kh, kw) like a row of an ONNX Conv weight [M, C, 3, 3], so that a
    3x3 convolution is one matrix product."""
    n, hgt, wid, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.empty((n, hgt, wid, c, 3, 3), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[..., i, j] = xp[:, i:i + hgt, j:j + wid, :]
    return cols.reshape(n * hgt * wid, c * 9)


def col2im3x3(dcols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Adjoint of im2col3x3: adds every neighbourhood's gradient back onto its pixels."""
    n, hgt, wid, c = shape
    d = dcols.reshape(n, hgt, wid, c, 3, 3)
    dxp = np.zeros((n, hgt + 2, wid + 2, c), dtype=dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + hgt, j:j + wid, :] += d[..., i, j]
    return dxp[:, 1:-1, 1:-1, :]


def maxpool2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N, H, W, C] -> [N, H/2, W/2, C] and, per output, which of the 4 window
    elements (row-major) was the maximum (the first one on ties)."""
    n, hgt, wid, c = x.shape
    win = x.reshape(n, hgt // 2, 2, wid // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    win = win.reshape(n, hgt // 2, wid // 2, c, 4)
    arg = win.argmax(axis=-1)
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], arg


def maxpool2x2_backward(dy: np.ndarray, arg: np.ndarray) -> np.ndarray:
    """Routes each output's gradient to the window element that was the maximum."""
    n, h2, w2, c = dy.shape
    dwin = np.zeros((n, h2, w2, c, 4), dtype=dy.dtype)
    np.put_along_axis(dwin, arg[..., None], dy[..., None], axis=-1)
    dwin = dwin.reshape(n, h2, w2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return dwin.reshape(n, 2 * h2, 2 * w2, c)


def cnn_init(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Returns (trainable parameters, fixed tensors), keyed by ONNX initializer name.

    Convs use He-normal weights. BatchNormalization subtracts the batch mean right
    after the Conv, so a Conv bias has no effect in training (its gradient is 0); conv1
    nevertheless has one, as many exported models do, to give quantc's BN folding
    both cases. It stays at its random init and the running mean absorbs it.
    """
    params, fixed = {}, {}
    c_in = 1
    for i, (c_out, has_bias) in enumerate(zip(CNN_CHANNELS, CNN_CONV_BIAS), start=1):
        params[f"conv{i}.weight"] = rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (c_out, c_in, 3, 3))
        if has_bias:
            fixed[f"conv{i}.bias"] = rng.normal(0.0, 0.1, c_out)
        params[f"bn{i}.scale"] = np.ones(c_out)
        params[f"bn{i}.bias"] = np.zeros(c_out)
        fixed[f"bn{i}.mean"] = np.zeros(c_out)
        fixed[f"bn{i}.var"] = np.ones(c_out)
        c_in = c_out
    params["fc.weight"] = rng.normal(0.0, np.sqrt(1.0 / c_in), (10, c_in))  # Gemm transB=1
    params["fc.bias"] = np.zeros(10)
    return params, fixed


def cnn_forward(params: dict[str, np.ndarray], fixed: dict[str, np.ndarray], x: np.ndarray,
                train: bool, update_stats: bool = False):
    """x [N, 1, 8, 8] -> (logits [N, 10], cache for cnn_backward).

    Activations are kept channels-last (NHWC) so that each convolution is
    im2col + one matrix product. train=True normalises with the batch statistics
    (and, with update_stats, moves the running statistics in `fixed` towards
    them); train=False uses the running statistics, as ONNX BatchNormalization does.
    """
    h = x.transpose(0, 2, 3, 1)
    layers = []
    for i in range(1, len(CNN_CHANNELS) + 1):
        w = params[f"conv{i}.weight"]
        n, hgt, wid, _ = h.shape
        cols = im2col3x3(h)
        z = (cols @ w.reshape(w.shape[0], -1).T).reshape(n, hgt, wid, w.shape[0])
        if f"conv{i}.bias" in fixed:
            z = z + fixed[f"conv{i}.bias"]
        if train:
            zhat, inv_std, mean, var = normalize(z, (0, 1, 2), CNN_BN_EPS)
            if update_stats:
                m = z.size // z.shape[-1]  # the running variance is the unbiased one
                fixed[f"bn{i}.mean"] += CNN_BN_MOMENTUM * (mean.ravel() - fixed[f"bn{i}.mean"])
                fixed[f"bn{i}.var"] += CNN_BN_MOMENTUM * (var.ravel() * m / (m - 1) - fixed[f"bn{i}.var"])
        else:
            inv_std = 1.0 / np.sqrt(fixed[f"bn{i}.var"] + CNN_BN_EPS)
            zhat = (z - fixed[f"bn{i}.mean"]) * inv_std
        a = np.maximum(params[f"bn{i}.scale"] * zhat + params[f"bn{i}.bias"], 0.0)
        pool_arg = None
        if i == 2:
            h, pool_arg = maxpool2x2(a)
        else:
            h = a
        layers.append((cols, zhat, inv_std, a, pool_arg))
    feat = h.mean(axis=(1, 2))  # GlobalAveragePool + Flatten -> [N, C]
    logits = feat @ params["fc.weight"].T + params["fc.bias"]
    return logits, (layers, h.shape, feat)


def cnn_backward(params: dict[str, np.ndarray], cache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of every trainable parameter from d(loss)/d(logits) (training mode)."""
    layers, h_shape, feat = cache
    g = {"fc.weight": dlogits.T @ feat, "fc.bias": dlogits.sum(axis=0)}
    dfeat = dlogits @ params["fc.weight"]
    # GlobalAveragePool: every pixel gets an equal share of its channel's gradient
    dh = np.broadcast_to(dfeat[:, None, None, :] / (h_shape[1] * h_shape[2]), h_shape)
    for i in range(len(CNN_CHANNELS), 0, -1):
        cols, zhat, inv_std, a, pool_arg = layers[i - 1]
        da = maxpool2x2_backward(dh, pool_arg) if pool_arg is not None else dh
        dy = da * (a > 0)  # Relu
        g[f"bn{i}.scale"] = (dy * zhat).sum(axis=(0, 1, 2))
        g[f"bn{i}.bias"] = dy.sum(axis=(0, 1, 2))
        dz = normalize_backward(dy * params[f"bn{i}.scale"], zhat, inv_std, (0, 1, 2))
        w = params[f"conv{i}.weight"]
        dz2 = dz.reshape(-1, w.shape[0])
        g[f"conv{i}.weight"] = (dz2.T @ cols).reshape(w.shape)
        if i > 1:
            dh = col2im3x3(dz2 @ w.reshape(w.shape[0], -1), a.shape[:3] + (w.shape[1],))
    return g


def cnn_self_test() -> float:
    """Numerical gradient check of cnn_forward/cnn_backward on a tiny random batch."""
    rng = np.random.default_rng(1234)
    params, fixed = cnn_init(rng)
    for k in params:  # move the norm parameters off 1 and 0
        if k.startswith("bn"):
            params[k] = params[k] + rng.normal(0.0, 0.3, params[k].shape)
    x = rng.normal(0.0, 1.0, (3, 1, 8, 8))
    y = np.array([1, 7, 3])

    def loss_and_grads(p):
        logits, cache = cnn_forward(p, fixed, x, train=True)
        loss, dlogits = cross_entropy(logits, y)
        return loss, cnn_backward(p, cache, dlogits)

    return check_gradients("digits_cnn", loss_and_grads, params, seed=1)


def build_digits_cnn(out: Path) -> list[Path]:
    worst = cnn_self_test()
    x_cal, y_cal, x_test, y_test = digits_split()
    img_cal, img_test = x_cal.reshape(-1, 1, 8, 8), x_test.reshape(-1, 1, 8, 8)
    x_train = img_cal.astype(np.float64)

    rng = np.random.default_rng(CNN_SEED)
    params, fixed = cnn_init(rng)

    def loss_and_grads(p, idx):
        logits, cache = cnn_forward(p, fixed, x_train[idx], train=True, update_stats=True)
        loss, dlogits = cross_entropy(logits, y_cal[idx])
        return loss, cnn_backward(p, cache, dlogits)

    t0 = time.perf_counter()
    history = train_adam(
        loss_and_grads, params, len(y_cal), epochs=CNN_EPOCHS, batch=CNN_BATCH, lr=CNN_LR,
        warmup_epochs=CNN_WARMUP, decay={k for k in params if k.endswith(".weight")},
        weight_decay=CNN_WEIGHT_DECAY, seed=CNN_SEED,
    )
    train_s = time.perf_counter() - t0

    # Export float32 tensors; the numpy reference below runs on exactly these.
    tensors = to_float32({**params, **fixed})
    inits = [numpy_helper.from_array(v, k) for k, v in sorted(tensors.items())]
    nodes = []
    cur = "input"
    for i in range(1, len(CNN_CHANNELS) + 1):
        conv_in = [cur, f"conv{i}.weight"] + ([f"conv{i}.bias"] if f"conv{i}.bias" in tensors else [])
        nodes += [
            helper.make_node("Conv", conv_in, [f"conv{i}"], name=f"conv{i}",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization",
                             [f"conv{i}", f"bn{i}.scale", f"bn{i}.bias", f"bn{i}.mean", f"bn{i}.var"],
                             [f"bn{i}"], name=f"bn{i}", epsilon=CNN_BN_EPS),
            helper.make_node("Relu", [f"bn{i}"], [f"relu{i}"], name=f"relu{i}"),
        ]
        cur = f"relu{i}"
        if i == 2:
            nodes.append(helper.make_node("MaxPool", [cur], ["pool"], name="pool",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            cur = "pool"
    nodes += [
        helper.make_node("GlobalAveragePool", [cur], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_cnn",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        outputs=[
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10]),
        ],
        initializer=inits,
        doc_string="8x8 digit classifier: input [N, 1, 8, 8], pixels scaled to [0,1] (value/16).",
    )
    model = make_model(
        graph,
        "CNN Conv3x3(8)+BN+Relu, Conv3x3(16)+BN+Relu, MaxPool2x2, Conv3x3(16)+BN+Relu, "
        "GlobalAveragePool, Gemm(10) trained with numpy (AdamW) on sklearn.datasets.load_digits; "
        "BatchNormalization left unfolded; built by tools/make_models.py.",
    )
    model_path = save_onnx(model, out / "digits_cnn.onnx")
    d = out / "digits"
    written = [
        model_path,
        save_npy(img_cal, d / "calib_x_img.npy"),
        save_npy(img_test, d / "test_x_img.npy"),
        save_npy(y_test, d / "test_y.npy"),
    ]

    # numpy inference forward pass (running statistics) on the exported float32 tensors
    t64 = to_float64(tensors)
    p64 = {k: t64[k] for k in params}
    f64 = {k: t64[k] for k in fixed}
    x_all = np.concatenate([img_cal, img_test])
    want = softmax(cnn_forward(p64, f64, x_all.astype(np.float64), train=False)[0])
    diff = check_against_ort("digits_cnn", model_path, x_all, want)
    probs = run_ort(model_path, {"input": x_all})["probs"]
    train_acc = float(np.mean(probs[:len(y_cal)].argmax(1) == y_cal))
    acc = float(np.mean(probs[len(y_cal):].argmax(1) == y_test))
    print(
        f"digits_cnn: gradient check worst rel. error {worst:.1e}; {CNN_EPOCHS} epochs in "
        f"{train_s:.1f} s, final loss {history[-1]:.4f}, train acc {train_acc:.4f}, "
        f"test acc {acc:.4f} ({int(round(acc * len(y_test)))}/{len(y_test)}), "
        f"max |ORT-numpy| probs {diff:.2e}"
    )
    written.append(write_digits_readme(out))
    return written


# --------------------------------------------------------------------------
# digits_transformer: pre-LN transformer encoder over the image rows (8 tokens
# of 8 pixels), trained in numpy, exported with plain opset-17 ops
# --------------------------------------------------------------------------

TF_SEED = 0
TF_TOKENS = 8  # image rows
TF_FEATURES = 8  # pixels per row
TF_DIM = 32  # model width d
TF_HEADS = 2  # d_k = TF_DIM / TF_HEADS = 16
TF_MLP = 64  # hidden width of each block's MLP
TF_BLOCKS = 2
TF_LN_EPS = 1e-5
TF_EPOCHS = 200
TF_BATCH = 32
TF_LR = 2e-3
TF_WARMUP = 10
TF_WEIGHT_DECAY = 0.5


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2))."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def gelu_grad(x: np.ndarray) -> np.ndarray:
    """d gelu / dx = Phi(x) + x * phi(x) (standard normal CDF and density)."""
    from scipy.special import erf

    return 0.5 * (1.0 + erf(x / np.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def transformer_init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Linear weights are stored [in, out] (ONNX MatMul's B) and drawn N(0, 1/fan_in); the
    projections that write into the residual stream (attention output, MLP fc2) are
    scaled down by 1/sqrt(2 * blocks). LayerNorm starts as the identity."""
    d, f = TF_DIM, TF_MLP
    res = 1.0 / np.sqrt(2.0 * TF_BLOCKS)
    p = {
        "embed.weight": rng.normal(0.0, 1.0 / np.sqrt(TF_FEATURES), (TF_FEATURES, d)),
        "embed.bias": np.zeros(d),
        "pos": rng.normal(0.0, 0.1, (TF_TOKENS, d)),  # learned positional embedding
    }
    for b in range(1, TF_BLOCKS + 1):
        pre = f"block{b}."
        p[pre + "ln1.scale"], p[pre + "ln1.bias"] = np.ones(d), np.zeros(d)
        for proj in ("q", "k", "v", "out"):
            scale = res if proj == "out" else 1.0
            p[pre + f"attn.{proj}.weight"] = rng.normal(0.0, scale / np.sqrt(d), (d, d))
            p[pre + f"attn.{proj}.bias"] = np.zeros(d)
        p[pre + "ln2.scale"], p[pre + "ln2.bias"] = np.ones(d), np.zeros(d)
        p[pre + "mlp.fc1.weight"] = rng.normal(0.0, 1.0 / np.sqrt(d), (d, f))
        p[pre + "mlp.fc1.bias"] = np.zeros(f)
        p[pre + "mlp.fc2.weight"] = rng.normal(0.0, res / np.sqrt(f), (f, d))
        p[pre + "mlp.fc2.bias"] = np.zeros(d)
    p["head.weight"] = rng.normal(0.0, 1.0 / np.sqrt(d), (10, d))  # Gemm transB=1: [out, in]
    p["head.bias"] = np.zeros(10)
    return p


def transformer_forward(p: dict[str, np.ndarray], x: np.ndarray):
    """x [N, T, 8] -> (logits [N, 10], cache for transformer_backward). Per block:

        h = h + MHA(LN1(h))      MHA: Q, K, V = u Wq + bq, ...; split into heads;
        h = h + MLP(LN2(h))           softmax(Q K^T / sqrt(d_k)) V; merge; Wo, bo
                                 MLP: GELU(u W1 + b1) W2 + b2
    then the mean over the tokens and a linear head.
    """
    n, t, _ = x.shape
    d, nh = TF_DIM, TF_HEADS
    dk = d // nh

    def split(z):  # [N, T, d] -> [N, heads, T, d_k]
        return z.reshape(n, t, nh, dk).transpose(0, 2, 1, 3)

    h = x @ p["embed.weight"] + p["embed.bias"] + p["pos"]
    blocks = []
    for b in range(1, TF_BLOCKS + 1):
        pre = f"block{b}."
        uhat, inv1, _, _ = normalize(h, (-1,), TF_LN_EPS)
        u = uhat * p[pre + "ln1.scale"] + p[pre + "ln1.bias"]
        q, k, v = (split(u @ p[pre + f"attn.{c}.weight"] + p[pre + f"attn.{c}.bias"]) for c in "qkv")
        att = softmax((q @ k.transpose(0, 1, 3, 2)) / np.sqrt(dk))  # [N, heads, T, T]
        o = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, d)  # merge the heads
        h = h + o @ p[pre + "attn.out.weight"] + p[pre + "attn.out.bias"]
        u2hat, inv2, _, _ = normalize(h, (-1,), TF_LN_EPS)
        u2 = u2hat * p[pre + "ln2.scale"] + p[pre + "ln2.bias"]
        m = u2 @ p[pre + "mlp.fc1.weight"] + p[pre + "mlp.fc1.bias"]
        g = gelu(m)
        h = h + g @ p[pre + "mlp.fc2.weight"] + p[pre + "mlp.fc2.bias"]
        blocks.append((uhat, inv1, u, q, k, v, att, o, u2hat, inv2, u2, m, g))
    pooled = h.mean(axis=1)
    logits = pooled @ p["head.weight"].T + p["head.bias"]
    return logits, (x, blocks, pooled)


def transformer_backward(p: dict[str, np.ndarray], cache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of every parameter from d(loss)/d(logits)."""
    x, blocks, pooled = cache
    n, t, _ = x.shape
    d, nh = TF_DIM, TF_HEADS
    dk = d // nh

    def merge(z):  # [N, heads, T, d_k] -> [N, T, d]
        return z.transpose(0, 2, 1, 3).reshape(n, t, d)

    def linear_grads(name, inp, dout):  # y = inp @ W + b over all tokens
        g[name + ".weight"] = inp.reshape(-1, inp.shape[-1]).T @ dout.reshape(-1, dout.shape[-1])
        g[name + ".bias"] = dout.reshape(-1, dout.shape[-1]).sum(axis=0)

    g = {"head.weight": dlogits.T @ pooled, "head.bias": dlogits.sum(axis=0)}
    dh = np.repeat((dlogits @ p["head.weight"])[:, None, :] / t, t, axis=1)  # mean over tokens
    for b in range(TF_BLOCKS, 0, -1):
        pre = f"block{b}."
        uhat, inv1, u, q, k, v, att, o, u2hat, inv2, u2, m, gl = blocks[b - 1]
        # MLP branch: h_out = h_mid + GELU(u2 W1 + b1) W2 + b2, u2 = LN2(h_mid)
        linear_grads(pre + "mlp.fc2", gl, dh)
        dm = (dh @ p[pre + "mlp.fc2.weight"].T) * gelu_grad(m)
        linear_grads(pre + "mlp.fc1", u2, dm)
        du2 = dm @ p[pre + "mlp.fc1.weight"].T
        g[pre + "ln2.scale"] = (du2 * u2hat).sum(axis=(0, 1))
        g[pre + "ln2.bias"] = du2.sum(axis=(0, 1))
        dh = dh + normalize_backward(du2 * p[pre + "ln2.scale"], u2hat, inv2, (-1,))
        # attention branch: h_mid = h_in + merge(softmax(Q K^T / sqrt(d_k)) V) Wo + bo
        linear_grads(pre + "attn.out", o, dh)
        do = (dh @ p[pre + "attn.out.weight"].T).reshape(n, t, nh, dk).transpose(0, 2, 1, 3)
        datt = do @ v.transpose(0, 1, 3, 2)
        dv = att.transpose(0, 1, 3, 2) @ do
        ds = softmax_backward(datt, att) / np.sqrt(dk)
        dq, dkk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
        du = np.zeros_like(u)
        for c, dc in zip("qkv", (dq, dkk, dv)):
            dc = merge(dc)
            linear_grads(pre + f"attn.{c}", u, dc)
            du += dc @ p[pre + f"attn.{c}.weight"].T
        g[pre + "ln1.scale"] = (du * uhat).sum(axis=(0, 1))
        g[pre + "ln1.bias"] = du.sum(axis=(0, 1))
        dh = dh + normalize_backward(du * p[pre + "ln1.scale"], uhat, inv1, (-1,))
    linear_grads("embed", x, dh)
    g["pos"] = dh.sum(axis=0)
    return g


def transformer_self_test() -> float:
    """Numerical gradient check of transformer_forward/_backward on a tiny random batch
    (through the attention, both LayerNorms, GELU and the token mean)."""
    rng = np.random.default_rng(1234)
    params = transformer_init(rng)
    for k in params:  # move LayerNorm and biases off their 1 / 0 init
        if "ln" in k or k.endswith(".bias"):
            params[k] = params[k] + rng.normal(0.0, 0.3, params[k].shape)
    x = rng.normal(0.0, 1.0, (3, TF_TOKENS, TF_FEATURES))
    y = np.array([1, 7, 3])

    def loss_and_grads(p):
        logits, cache = transformer_forward(p, x)
        loss, dlogits = cross_entropy(logits, y)
        return loss, transformer_backward(p, cache, dlogits)

    return check_gradients("digits_transformer", loss_and_grads, params, seed=1)


def build_digits_transformer(out: Path) -> list[Path]:
    worst = transformer_self_test()
    x_cal, y_cal, x_test, y_test = digits_split()
    seq_cal = x_cal.reshape(-1, TF_TOKENS, TF_FEATURES)  # row r of the image is token r
    seq_test = x_test.reshape(-1, TF_TOKENS, TF_FEATURES)
    x_train = seq_cal.astype(np.float64)

    params = transformer_init(np.random.default_rng(TF_SEED))

    def loss_and_grads(p, idx):
        logits, cache = transformer_forward(p, x_train[idx])
        loss, dlogits = cross_entropy(logits, y_cal[idx])
        return loss, transformer_backward(p, cache, dlogits)

    t0 = time.perf_counter()
    history = train_adam(
        loss_and_grads, params, len(y_cal), epochs=TF_EPOCHS, batch=TF_BATCH, lr=TF_LR,
        warmup_epochs=TF_WARMUP, decay={k for k in params if k.endswith(".weight")},
        weight_decay=TF_WEIGHT_DECAY, seed=TF_SEED,
    )
    train_s = time.perf_counter() - t0

    d, nh = TF_DIM, TF_HEADS
    dk = d // nh
    tensors = to_float32(params)
    consts = [
        numpy_helper.from_array(np.array(1.0 / np.sqrt(dk), np.float32), "attn.scale"),
        numpy_helper.from_array(np.array([0, 0, nh, dk], np.int64), "attn.heads_shape"),
        numpy_helper.from_array(np.array([0, 0, d], np.int64), "attn.merged_shape"),
        numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "gelu.sqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "gelu.one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "gelu.half"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in sorted(tensors.items())] + consts
    nodes = []

    def node(op, inputs, name, **attrs):  # one output, named like the node
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(inp, prefix):  # MatMul + Add, as exporters write nn.Linear on 3-D input
        return node("Add", [node("MatMul", [inp, prefix + ".weight"], prefix + ".matmul"),
                            prefix + ".bias"], prefix + ".add")

    h = node("Add", [linear("input", "embed"), "pos"], "embed.pos")
    for b in range(1, TF_BLOCKS + 1):
        pre = f"block{b}."
        u = node("LayerNormalization", [h, pre + "ln1.scale", pre + "ln1.bias"], pre + "ln1",
                 axis=-1, epsilon=TF_LN_EPS)
        heads = {}
        for c, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            r = node("Reshape", [linear(u, pre + f"attn.{c}"), "attn.heads_shape"], pre + f"attn.{c}.split")
            heads[c] = node("Transpose", [r], pre + f"attn.{c}.heads", perm=perm)  # K: already K^T
        s = node("MatMul", [heads["q"], heads["k"]], pre + "attn.qk")
        s = node("Mul", [s, "attn.scale"], pre + "attn.scaled")
        a = node("Softmax", [s], pre + "attn.softmax", axis=-1)
        o = node("MatMul", [a, heads["v"]], pre + "attn.av")
        o = node("Transpose", [o], pre + "attn.merge_heads", perm=[0, 2, 1, 3])
        o = node("Reshape", [o, "attn.merged_shape"], pre + "attn.merged")
        h = node("Add", [h, linear(o, pre + "attn.out")], pre + "residual1")
        u2 = node("LayerNormalization", [h, pre + "ln2.scale", pre + "ln2.bias"], pre + "ln2",
                  axis=-1, epsilon=TF_LN_EPS)
        m = linear(u2, pre + "mlp.fc1")
        # GELU in erf form, the pattern PyTorch exports below opset 20:
        # Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)
        e = node("Erf", [node("Div", [m, "gelu.sqrt2"], pre + "gelu.div")], pre + "gelu.erf")
        gl = node("Mul", [node("Mul", [m, node("Add", [e, "gelu.one"], pre + "gelu.add")],
                               pre + "gelu.mul"), "gelu.half"], pre + "gelu")
        h = node("Add", [h, linear(gl, pre + "mlp.fc2")], pre + "residual2")
    pooled = node("ReduceMean", [h], "pool", axes=[1], keepdims=0)
    nodes.append(helper.make_node("Gemm", [pooled, "head.weight", "head.bias"], ["logits"],
                                  name="head", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes,
        "digits_transformer",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", TF_TOKENS, TF_FEATURES])],
        outputs=[
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10]),
        ],
        initializer=inits,
        doc_string="8x8 digit classifier: input [N, 8 rows, 8 pixels], pixels scaled to [0,1] (value/16).",
    )
    model = make_model(
        graph,
        f"Transformer encoder (d={d}, {nh} heads, MLP {TF_MLP}, {TF_BLOCKS} pre-LN blocks, GELU "
        "in erf form) over the 8 image rows, mean-pooled, Gemm(10); trained with numpy (AdamW) "
        "on sklearn.datasets.load_digits; built by tools/make_models.py.",
    )
    model_path = save_onnx(model, out / "digits_transformer.onnx")
    dd = out / "digits"
    written = [
        model_path,
        save_npy(seq_cal, dd / "calib_x_seq.npy"),
        save_npy(seq_test, dd / "test_x_seq.npy"),
        save_npy(y_test, dd / "test_y.npy"),
    ]

    # numpy forward pass on the exported float32 weights
    x_all = np.concatenate([seq_cal, seq_test])
    want = softmax(transformer_forward(to_float64(tensors), x_all.astype(np.float64))[0])
    diff = check_against_ort("digits_transformer", model_path, x_all, want)
    probs = run_ort(model_path, {"input": x_all})["probs"]
    train_acc = float(np.mean(probs[:len(y_cal)].argmax(1) == y_cal))
    acc = float(np.mean(probs[len(y_cal):].argmax(1) == y_test))
    print(
        f"digits_transformer: gradient check worst rel. error {worst:.1e}; {TF_EPOCHS} epochs in "
        f"{train_s:.1f} s, final loss {history[-1]:.4f}, train acc {train_acc:.4f}, "
        f"test acc {acc:.4f} ({int(round(acc * len(y_test)))}/{len(y_test)}), "
        f"max |ORT-numpy| probs {diff:.2e}"
    )
    written.append(write_digits_readme(out))
    return written


# --------------------------------------------------------------------------
# models/digits/README.md: describes the data and every digits model present
# --------------------------------------------------------------------------

DIGITS_MODELS = ("digits_mlp", "digits_cnn", "digits_transformer")


def digits_model_summary(path: Path, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Operators, parameter count, size and ONNX Runtime test accuracy of a saved model
    (x_test is reshaped to the model's input shape)."""
    model = onnx.load(str(path))
    ops: dict[str, int] = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    n_params = sum(
        int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT
    )
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    probs = run_ort(path, {"input": x_test.reshape(-1, *dims)})["probs"]
    correct = int(np.sum(probs.argmax(1) == y_test))
    return {
        "input": "[N, " + ", ".join(map(str, dims)) + "]",
        "ops": ", ".join(f"{op} x{c}" if c > 1 else op for op, c in ops.items()),
        "params": n_params,
        "bytes": path.stat().st_size,
        "acc": f"{correct / len(y_test):.4f} ({correct}/{len(y_test)})",
    }


def write_digits_readme(out: Path) -> Path:
    """Writes models/digits/README.md for the digits models found in `out`; every digits
    builder calls it last, so it always describes the files on disk."""
    x_cal, y_cal, x_test, y_test = digits_split()
    nc, nt = len(y_cal), len(y_test)
    summaries = {}
    for name in DIGITS_MODELS:
        path = out / f"{name}.onnx"
        if path.exists():
            summaries[name] = digits_model_summary(path, x_test, y_test)
    rows = "\n".join(
        f"| `../{name}.onnx` | `{s['input']}` | {s['acc']} | {s['bytes']} | {s['params']} | {s['ops']} |"
        for name, s in summaries.items()
    )
    missing = [n for n in DIGITS_MODELS if n not in summaries]
    if missing:
        rows += "\n\nNot built in this folder: " + ", ".join(f"`{n}`" for n in missing) + "."
    dk = TF_DIM // TF_HEADS

    def sci(v: float) -> str:  # 1e-05 -> 1e-5
        return f"{v:.0e}".replace("e-0", "e-")

    readme = out / "digits" / "README.md"
    readme.parent.mkdir(parents=True, exist_ok=True)
    readme.write_text(
        f"""# digits data and models

Generated by `tools/make_models.py` from scikit-learn's bundled 8x8 digits data
(`sklearn.datasets.load_digits`, 1797 samples, 10 classes). Regenerate with

    tools/setup.sh && .venv/bin/python tools/make_models.py

or a single model with `.venv/bin/python tools/make_models.py digits_cnn` (or
`digits_mlp`, `digits_transformer`); each rewrites this README, which describes the
model files present. `--check` rebuilds into a temporary folder and compares bytes with
these files. The output is deterministic: a rerun writes byte-identical files.

Pixels (0..16) are divided by 16, so every value lies in [0, 1] and is exact in
float32. The samples are split once, stratified by class with seed {DIGITS_SEED}, into
{nc} training samples and {nt} held-out test samples; each split keeps
the data set's original order. All three models are trained on the same {nc} samples
and read the same pixels, only shaped differently.

| file | dtype | shape | what |
| --- | --- | --- | --- |
| `calib_x.npy` | float32 | [{nc}, 64] | the training split; the models were trained on it, and it is the calibration set for post-training quantization (input of `digits_mlp`) |
| `calib_x_img.npy` | float32 | [{nc}, 1, 8, 8] | the same samples as 1-channel images, NCHW (input of `digits_cnn`) |
| `calib_x_seq.npy` | float32 | [{nc}, 8, 8] | the same samples as 8 tokens (the image rows) of 8 pixels (input of `digits_transformer`) |
| `test_x.npy` | float32 | [{nt}, 64] | held-out test inputs (never seen in training or calibration) |
| `test_x_img.npy` | float32 | [{nt}, 1, 8, 8] | `test_x` as images |
| `test_x_seq.npy` | float32 | [{nt}, 8, 8] | `test_x` as row tokens |
| `test_y.npy` | int64 | [{nt}] | labels 0..9 of the test inputs |

## Models

All are opset {OPSET}, IR version {IR_VERSION}, with input `input` (float32, batch
dimension `N`) and outputs `logits` and `probs` = Softmax(`logits`), float32 `[N, 10]`.
Accuracies are float32 test accuracies under ONNX Runtime (CPU); parameters count the
float initializer elements.

| model | input | test accuracy | bytes | parameters | operators |
| --- | --- | --- | --- | --- | --- |
{rows}

### `digits_mlp.onnx`

Gemm(transB=1)+Relu layers of widths {DIGITS_HIDDEN[0]} and {DIGITS_HIDDEN[1]}, a final Gemm to
`logits` and Softmax to `probs`. Trained with scikit-learn's
`MLPClassifier(hidden_layer_sizes={DIGITS_HIDDEN}, activation="relu", solver="adam",
random_state={DIGITS_SEED})`. ONNX Runtime's `probs` match sklearn's `predict_proba` within 1e-5.

### `digits_cnn.onnx`

    conv1: Conv 3x3 pad 1, 1 -> {CNN_CHANNELS[0]} channels, with bias -> BatchNormalization -> Relu
    conv2: Conv 3x3 pad 1, {CNN_CHANNELS[0]} -> {CNN_CHANNELS[1]} channels, no bias -> BatchNormalization -> Relu
    MaxPool 2x2 stride 2 -> [N, {CNN_CHANNELS[1]}, 4, 4]
    conv3: Conv 3x3 pad 1, {CNN_CHANNELS[1]} -> {CNN_CHANNELS[2]} channels, no bias -> BatchNormalization -> Relu
    GlobalAveragePool -> Flatten -> Gemm(transB=1) -> logits -> Softmax -> probs

The BatchNormalization nodes (epsilon {sci(CNN_BN_EPS)}, trained scale and bias, running mean and
variance) are deliberately left unfolded: quantc's canonicalization has to fold them
into the Convs. conv1 has a bias input and the others none, so folding meets both cases;
batch norm cancels a Conv bias during training, so conv1's bias kept its random initial
value and the running mean absorbed it.

Trained with numpy in `tools/make_models.py` (no framework): im2col convolutions,
training-mode batch norm over batch and pixels with running statistics (momentum
{CNN_BN_MOMENTUM:g}, unbiased variance, as PyTorch keeps them), softmax cross-entropy, AdamW
(learning rate {CNN_LR:g} with {CNN_WARMUP} warm-up epochs then a cosine decay, weight decay
{CNN_WEIGHT_DECAY:g} on the Conv and Gemm weights), batch {CNN_BATCH}, {CNN_EPOCHS} epochs, seed {CNN_SEED}, float64;
the weights are rounded to float32 for export. The backward pass is checked against
numerical gradients and ONNX Runtime's `probs` against the numpy inference pass (within
1e-4) every time the model is built.

### `digits_transformer.onnx`

Each image row is a token of 8 pixels: input `[N, 8, 8]`.

    MatMul [8, {TF_DIM}] -> Add bias -> Add pos (learned positional embedding, [8, {TF_DIM}])
    {TF_BLOCKS} x pre-LN encoder block:
        LayerNormalization (axis -1, epsilon {sci(TF_LN_EPS)})
        Q, K, V: MatMul [{TF_DIM}, {TF_DIM}] -> Add -> Reshape [0, 0, {TF_HEADS}, {dk}] -> Transpose
                 (Q, V: perm [0, 2, 1, 3]; K: perm [0, 2, 3, 1], i.e. K^T)
        MatMul Q K^T -> Mul 1/sqrt({dk}) -> Softmax(axis -1) -> MatMul V
        Transpose [0, 2, 1, 3] -> Reshape [0, 0, {TF_DIM}] -> MatMul [{TF_DIM}, {TF_DIM}] -> Add -> residual Add
        LayerNormalization -> MatMul [{TF_DIM}, {TF_MLP}] -> Add -> GELU -> MatMul [{TF_MLP}, {TF_DIM}] -> Add -> residual Add
    ReduceMean over the tokens (axes [1], keepdims 0) -> Gemm(transB=1) -> logits -> Softmax -> probs

{TF_HEADS} attention heads of d_k = {dk}. GELU: opset {OPSET} has no Gelu operator (it arrived in
opset 20), and the model keeps opset {OPSET} like the others (LayerNormalization needs 17), so
GELU is the exact erf form that PyTorch exports, `Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)),
0.5)`; ONNX Runtime's graph optimizer fuses it (into BiasGelu) and its quantization tool
(`quantize_static`) takes it as it is. The scalars, the Reshape shapes and the attention
scale are initializers.

Trained with numpy in `tools/make_models.py`: backpropagation through attention,
LayerNormalization, GELU and the token mean (checked against numerical gradients at every
build), softmax cross-entropy, AdamW (learning rate {TF_LR:g} with {TF_WARMUP} warm-up epochs then a
cosine decay, weight decay {TF_WEIGHT_DECAY:g} on the weight matrices; none on biases, LayerNorm and
`pos`), batch {TF_BATCH}, {TF_EPOCHS} epochs, seed {TF_SEED}, float64; weights rounded to float32 for
export; ONNX Runtime's `probs` match the numpy forward pass within 1e-4. The K projection's
bias gets no gradient (softmax ignores a shift shared by all keys) and stays at about 0
(below 1e-10).
"""
    )
    return readme


# --------------------------------------------------------------------------

MODELS = {
    "digits_mlp": build_digits_mlp,
    "digits_cnn": build_digits_cnn,
    "digits_transformer": build_digits_transformer,
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

    def build(out: Path) -> list[Path]:
        """Runs the builders; returns every file written, once, in first-written order
        (several builders write the shared digits files, test_y.npy and README.md)."""
        written: list[Path] = []
        for name in names:
            written += [p for p in MODELS[name](out) if p not in written]
        return written

    if not args.check:
        for p in build(args.out):
            print(f"  wrote {p.relative_to(args.out.parent) if p.is_relative_to(args.out.parent) else p}"
                  f"  {p.stat().st_size} B  sha256 {sha256(p)[:16]}")
        return 0

    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp_out = Path(tmp) / "models"
        # Start from a copy of --out, so that models/digits/README.md, which describes every
        # digits model in the folder, sees the same models as a real run of these builders.
        if args.out.is_dir():
            shutil.copytree(args.out, tmp_out)
        for p in build(tmp_out):
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

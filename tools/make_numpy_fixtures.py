#!/usr/bin/env python3
"""Writes the small .npy/.npz files of Tests/Fixtures/numpy that test quantc's
NumPy readers: plain arrays, a 0-d array, unicode strings, and archives that
are stored and deflated (numpy.savez / savez_compressed layouts, with fixed
zip timestamps so reruns are byte-identical).

    .venv/bin/python tools/make_numpy_fixtures.py
"""
import io
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "numpy"


def savez(path: Path, compress: bool, **arrays) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        for name, value in arrays.items():
            buf = io.BytesIO()
            np.save(buf, value)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, buf.getvalue())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    b = np.array([[1, -2], [3, 4]], dtype=np.int64)
    c = np.array([True, False, True])
    h = np.array([1.5, -2.25], dtype=np.float16)
    np.save(OUT / "a.npy", a)
    np.save(OUT / "scalar.npy", np.float32(3.25))
    np.save(OUT / "strings.npy", np.array(["ab", "c\u00fc"]))
    savez(OUT / "stored.npz", False, a=a, b=b, c=c, h=h)
    savez(OUT / "deflated.npz", True, a=a, b=b, c=c, h=h)


if __name__ == "__main__":
    main()

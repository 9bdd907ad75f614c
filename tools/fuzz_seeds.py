#!/usr/bin/env python3
"""Writes the fuzz seeds for tools/fuzz.sh into a folder: every ONNX backend node-test
model of the installed onnx package (generated with onnx.backend.test.case.node.
collect_testcases, as tools/conformance_io.py does, since the pip wheel ships no
data/node folder), and the wheel's own test models under 256 KiB.

Usage: .venv/bin/python tools/fuzz_seeds.py OUT_DIR
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx.backend.test.case.node import collect_testcases

MAX_BYTES = 256 << 10


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # test generators warn about overflow etc.
        cases = collect_testcases(None)
    n = 0
    for tc in cases:
        data = tc.model.SerializeToString(deterministic=True)
        if len(data) <= MAX_BYTES:
            (out / f"node-{tc.name}.onnx").write_bytes(data)
            n += 1
    shipped = Path(onnx.__file__).parent / "backend" / "test" / "data"
    for f in sorted(shipped.rglob("*.onnx")):
        if f.stat().st_size <= MAX_BYTES:
            (out / f"data-{f.relative_to(shipped).as_posix().replace('/', '-')}").write_bytes(f.read_bytes())
            n += 1
    print(f"fuzz_seeds: {n} models in {out} (onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

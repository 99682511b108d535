"""Export the trained lip-closure detector to ONNX (core/training/closure_net.py).

    python tools/export_closure_onnx.py [core/assets/closure_base.pt] [--out core/assets/closure_base.onnx]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.training.closure_net import WEIGHTS, export_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", default=WEIGHTS)
    ap.add_argument("--out")
    args = ap.parse_args()
    out = export_file(args.weights, args.out)
    print(f"{out}: {os.path.getsize(out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

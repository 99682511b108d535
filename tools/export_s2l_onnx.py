"""Export trained S2L weights to ONNX for the torch-free engine (core/training/s2l_export.py).

    python tools/export_s2l_onnx.py [core/assets/s2l_whisper.pt] [--out core/assets/s2l_whisper.onnx]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.motion import s2l  # noqa: E402
from core.training.s2l_export import export_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", default=s2l.WHISPER_WEIGHTS)
    ap.add_argument("--out")
    args = ap.parse_args()
    out = export_file(args.weights, args.out)
    print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

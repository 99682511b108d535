"""Speech → `Animation`. One entry point, `animate`, whatever the engine.

Engines:
- "auto" (the default): what measured best on real speech (docs/benchmarks.md, every set): with a
  transcript its forced alignment; else "phonetic-whisper" where a Whisper model hears the language,
  "neural-whisper" where none does; "phonetic" where the Whisper models are not installed.
- "phonetic": pocketsphinx phone timing (forced alignment when a transcript is
  given, else word recognition + alignment) → coarticulated visemes.
- "phonetic-fast": the same model on pocketsphinx's phone loop (no words, faster).
- "neural": the S2L network (motion/s2l.py) predicts landmark motion from log-mel,
  conditioned on the emotions; ARKit weights are solved from it (motion/solve_arkit.py).
  The emotions are then part of the motion, not a separate layer.
- "neural-whisper": the same network trained on Whisper tiny.en encoder features (learned from real
  speech), both networks run by onnxruntime (motion/s2l_onnx.py): no PyTorch or librosa needed.
- "phonetic-whisper": the words Whisper hears in the clip's language (speech/transcribe.py: tiny.en for
  English, base for the others) force-aligned like a transcript; where it hears none that fit, or knows
  no model for the language, pocketsphinx's words (English) or phone loop. Plus the lip closures the
  Whisper-feature network hears that the phones missed.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from .errors import InputError
from .face.arkit import INDEX
from .motion.articulation import articulate, blinks
from .motion.neural import closure_heard, neural_weights, whisper_available
from .output.animation import Animation
from .progress import LOADING, MOTION, TIMING, Progress
from .speech import languages, noise, recognise, transcribe
from .speech.audio import Audio, load_audio
from .speech.languages import ENGLISH

ENGINES = ("auto", "phonetic", "phonetic-fast", "neural", "neural-whisper", "phonetic-whisper")
DEFAULT_ENGINE = "auto"
NEURAL = {"neural": "log-mel", "neural-whisper": "whisper"}  # engine → the S2L network's input features
WITHOUT_MODELS = ("Automatic used the Phonetic engine: the Whisper models are not installed (the Talking Head Models "
                  "extension, talkinghead_models-<version>.zip, brings them: better lip sync, other languages).")


def read_text(text: str | None) -> str | None:
    """A transcript given as the text itself or as the path of a .txt file."""
    if text and text.strip().lower().endswith(".txt"):
        path = os.path.expanduser(text.strip())
        if not os.path.isfile(path):
            raise InputError(f"Transcript file not found: {path}")
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    return text


def phones_for(audio: Audio, text: str | None, engine: str, language: str = ENGLISH,
               progress: Progress | None = None, fps: float = 30.0) -> tuple[list, dict, np.ndarray | None]:
    """The timed phones for `audio`, a note of how they were found, and for "phonetic-whisper" without a
    transcript the lip closure that the Whisper-feature network hears (`closure_heard`, one value per frame
    at `fps`: round(duration × fps) frames; else None).

    Word recognition knows only English words (pocketsphinx's US-English language model): in another
    language it would hear English words and lose the clip's own p/b/m, so there the phonetic engine
    listens with the language-free phone loop instead."""
    words_known = languages.is_english(language)
    warning = {}
    if text and text.strip():
        try:
            phones, unknown = _align(audio, text, language)
            return phones, {"timing": "forced alignment", "unknown_words": unknown}, None
        except recognise.AlignmentFailed as exc:  # heard from the audio alone instead, as without a transcript
            warning = {"warning": f"{exc} The phones were recognised from the audio instead."}
    closed = None
    if engine == "phonetic-whisper":
        n = max(1, round(audio.duration * fps))
        if transcribe.available(language):
            phones, heard, closed = _whisper_words(audio, language, fps, n, progress)
            if phones is not None:
                return phones, {"timing": "Whisper words, aligned", "recognised_text": heard, **warning}, closed
        else:
            closed = closure_heard(audio, fps, n, progress)
    if engine == "phonetic-fast" or not words_known:
        return recognise.recognise_phones(audio, progress=progress), {"timing": "phone loop", **warning}, closed
    phones, words = recognise.recognise_words(audio, progress=progress)
    return phones, {"timing": "word recognition", "recognised_text": words, **warning}, closed


def _align(audio: Audio, text: str, language: str) -> tuple[list, list[str]]:
    """recognise.align of `text`, in steady noise on `audio` with the noise gated out (noise.denoised), else, or where
    that fails (a held vowel is steady too, and gates out with the noise), on `audio` itself. Whisper's words are
    aligned on `audio` itself: gated, they kept fewer of the closures the detector hears (docs/benchmarks.md, *Worse
    recordings*)."""
    if noise.is_noisy(audio):
        try:
            return recognise.align(noise.denoised(audio), text, language)
        except recognise.AlignmentFailed:
            pass
    return recognise.align(audio, text, language)


def _whisper_words(audio: Audio, language: str, fps: float, n_frames: int, progress: Progress | None
                   ) -> tuple[list | None, str, np.ndarray]:
    """Whisper's words force-aligned, piece by piece: each window, split at its pauses where Whisper's
    segments break (`transcribe.split_at_pauses`), goes to the alignment workers a piece at a time, each as
    soon as Whisper's later words cannot change it, while Whisper hears on; the closure network runs while the
    last pieces are aligned (`closure_heard`, on the features of the same windows that heard the words:
    tiny.en's or base's). (phones, or None where no piece's words fit or none were heard; the words heard;
    the closure)."""
    windows = transcribe.speech_windows(audio)
    with recognise.Aligner(audio, language, progress, sum(map(len, windows))) as aligner:
        for piece in transcribe.hear(audio, language, windows, progress):
            aligner.add(*piece)
        closed = closure_heard(audio, fps, n_frames, progress, windows, transcribe.model_for(language))
        try:
            phones = aligner.phones()
        except recognise.AlignmentFailed:
            phones = None
    return phones, aligner.text(), closed


def resolve(engine: str, text: str | None, language: str) -> str:
    """The engine that runs for `engine` ("auto" chooses by transcript and language, see the module doc)."""
    if engine != "auto":
        return engine
    if (text and text.strip()) or not whisper_available():
        return "phonetic"
    return "phonetic-whisper" if transcribe.available(language) else "neural-whisper"


def animate(audio: Audio | str, text: str | None = None, engine: str = DEFAULT_ENGINE, fps: float = 30.0,
            emotions: dict[str, float] | None = None, start_frame: int = 1, seed: int = 0,
            blink: bool = True, language: str = ENGLISH, progress: Progress | None = None) -> Animation:
    """Animate the built-in head's ARKit rig from speech in `language` (an espeak-ng code: en, fr, ...).

    `progress` hears the stages (LOADING, TIMING, MOTION) as they start; its cancel raises Cancelled."""
    progress = progress or Progress()
    if engine not in ENGINES:
        raise InputError(f"Unknown engine '{engine}': choose from {', '.join(ENGINES)}.")
    languages.voice_of(language)  # an unknown code fails before any work
    chosen, engine = engine, resolve(engine, text, language)
    if not (fps > 0 and math.isfinite(fps)):
        raise InputError(f"Frame rate must be positive, got {fps}.")
    t0 = time.perf_counter()
    progress.stage(LOADING)
    if isinstance(audio, str):
        audio = load_audio(audio)
    t1 = time.perf_counter()
    n = max(1, int(round(audio.duration * fps)))
    landmark_motion = None
    progress.stage(TIMING)
    if engine in NEURAL:  # the network times and moves at once: all of it is motion
        progress.stage(MOTION)
        w, landmark_motion = neural_weights(audio, fps, n, emotions, NEURAL[engine], progress)
        phones, note = [], {"timing": "neural", "emotions_in_motion": dict(emotions or {})}
        t2 = time.perf_counter()
    else:
        phones, note, heard = phones_for(audio, text, engine, language, progress, fps)
        if chosen == "auto" and engine == "phonetic" and not (text and text.strip()) and not whisper_available():
            note = {**note, "warning": WITHOUT_MODELS}
        progress.stage(MOTION)
        t2 = time.perf_counter()
        w = articulate(phones, fps, n, layered=emotions, closed=heard)
    if blink:
        b = blinks(n, fps, seed)
        w[:, INDEX["eyeBlinkLeft"]] = b[:, 0]
        w[:, INDEX["eyeBlinkRight"]] = b[:, 1]
    progress.step(1.0)
    t3 = time.perf_counter()
    meta = {"engine": engine, "chosen_as": chosen, "language": language, **note, "phones": [(p.name, round(p.start, 3), round(p.end, 3)) for p in phones],
            "seconds": {"load": t1 - t0, "phones": t2 - t1, "articulate": t3 - t2}}
    return Animation(weights=w, fps=fps, start_frame=start_frame, emotions=dict(emotions or {}),
                     audio_path=audio.path, duration=audio.duration, metadata=meta,
                     emotions_in_weights=engine in NEURAL, landmark_motion=landmark_motion)


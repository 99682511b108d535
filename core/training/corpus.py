"""Synthetic training corpus for the neural engine: synthetic speech with exact phoneme timing.

Every utterance is drawn from a seed. Even ones are espeak-ng speech: a language,
a voice variant, pitch, pitch range, rate and word gaps. Odd ones are English
from one of flite's voices recorded from people (`core.flite`), at a random
rate and pitch, played faster or slower (a shorter or longer vocal tract). For the
closure detector, every other even one is an MBROLA voice's (`mbrola`: recorded from
people, in 14 languages). The
text is random dictionary words (English) or pseudo-words built from each
language's spelling (so no sentence used for evaluation can leak in); the audio
is augmented (EQ, band limits, reverb, noise, level, clipping) so the model
learns speech, not the synthesisers' clean signal. Targets are not stored: the
timed phones are, and the articulation model turns them into landmark motion at
training time for whatever emotion is drawn.

    python -m core data synth --out DIR --utterances 4000 --seed 0
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soxr
from scipy.signal import fftconvolve

from ..errors import InputError
from ..motion.features import log_mel
from ..speech.audio import SAMPLE_RATE
from ..speech.espeak import synthesise
from ..speech.phones import ARPABET, Phone
from . import flite, mbrola

# language (espeak-ng voice) → onsets, nuclei, codas for pseudo-words
SPELLING: dict[str, tuple[str, str, str]] = {
    "de": ("b d f g h k l m n p r s t w z sch sp st pf br tr kr fl gr", "a e i o u ä ö ü ei au ie eu",
           "n r s t m l ch ng nd st"),
    "fr": ("b d f g j l m n p r s t v ch br tr pl cr gr", "a e i o u ou eu é è ai au on an in oi", "s t r l"),
    "es": ("b c d f g j l m n p r s t v ll ch br tr pl", "a e i o u ue ie", "n s r l"),
    "it": ("b c d f g l m n p r s t v z gn sc br tr pr", "a e i o u ie uo", "n r l s"),
    "pt": ("b d f g j l m n p r s t v ch lh nh br tr", "a e i o u ão ei ou ã", "s r l m"),
    "nl": ("b d f g h k l m n p r s t v w z sch br tr", "a e i o u aa ee oo uu ij ui oe eu ie", "n r s t k l"),
    "pl": ("b c d f g h k l m n p r s t w z sz cz rz ch dz ł ś ż", "a e i o u y ą ę ó", "k n m ł ć ś"),
    "sv": ("b d f g h j k l m n p r s t v sk st sj", "a e i o u y å ä ö", "n r k t l g"),
    "cs": ("b c č d f h ch k l m n p r ř s š t v z ž", "a e i o u y á é í ů", "k t n l m"),
}
# languages only MBROLA voices speak in the corpus (espeak-ng's draws stay those of SPELLING, so the corpus
# without MBROLA, the S2L networks', is unchanged)
MORE_SPELLING: dict[str, tuple[str, str, str]] = {
    "el": ("β γ δ ζ θ κ λ μ ν π ρ σ τ φ χ μπ ντ γκ τσ", "α ε ι ο ου αι ει η ω υ ά έ ί ό ού", "ς ν ρ"),
    "ro": ("b c d f g j l m n p r s t v z ș ț ch br tr pl", "a e i o u ă â î ea oa ie", "n r l s t m"),
    "hu": ("b c d f g h j k l m n p r s t v z sz cs zs gy ny ty br tr", "a e i o u á é í ó ö ő ü ű", "n r l s t k m"),
    "tr": ("b c ç d f g h k l m n p r s ş t v y z br tr", "a e i o u ı ö ü", "n r l k m t"),
}
ENGLISH = ("en-us", "en")
LANGUAGES = ENGLISH + tuple(SPELLING)
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "Alex", "Annie", "Andy", "adam", "anika", "belinda", "benjamin", "boris", "david",
            "ed", "edward", "grandma", "grandpa", "ian", "john", "linda", "max", "michel", "norbert", "pablo",
            "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac")
PHONE_INDEX = {p: i for i, p in enumerate(ARPABET)}


@functools.lru_cache(maxsize=1)
def _dictionary_words() -> tuple[str, ...]:
    from pocketsphinx import get_model_path

    with open(os.path.join(get_model_path(), "en-us", "cmudict-en-us.dict"), encoding="utf-8") as fh:
        words = {line.split(" ", 1)[0] for line in fh}
    return tuple(sorted(w for w in words if w.isalpha() and len(w) <= 12))


def sentence(rng: np.random.Generator, language: str) -> str:
    """Random words of `language`, with commas now and then (pauses)."""
    n = int(rng.integers(3, 14))
    if language in ENGLISH:
        vocab = _dictionary_words()
        words = [vocab[int(rng.integers(len(vocab)))] for _ in range(n)]
    else:
        onsets, nuclei, codas = (s.split() for s in {**SPELLING, **MORE_SPELLING}[language])
        words = []
        for _ in range(n):
            syllables = int(rng.integers(1, 4))
            words.append("".join(
                (rng.choice(onsets) if rng.random() < 0.85 else "") + rng.choice(nuclei)
                + (rng.choice(codas) if rng.random() < 0.35 else "") for _ in range(syllables)))
    return " ".join(w + ("," if rng.random() < 0.12 else "") for w in words) + "."


def _coloured_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink or brown noise at unit RMS."""
    alpha = rng.choice([0.0, 1.0, 2.0])
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    x = np.fft.irfft(spec / f ** (alpha / 2), n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Room, microphone and channel: EQ + band limits, reverb, noise, level and clipping."""
    n = len(x)
    # EQ: a smooth random gain curve (±9 dB at 8 log-spaced points), sometimes a telephone/low-rate band
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    knots = np.geomspace(60, 8000, 8)
    gain_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(knots), rng.uniform(-9, 9, len(knots)))
    if rng.random() < 0.3:
        lo, hi = rng.uniform(50, 350), rng.uniform(3000, 7500)
        band = 1 / (1 + np.exp((lo - freqs) / 30)) / (1 + np.exp((freqs - hi) / 150))
        gain_db += 20 * np.log10(1e-3 + band)
    x = np.fft.irfft(np.fft.rfft(x) * 10 ** (gain_db / 20), n)
    if rng.random() < 0.6:  # reverb: exponentially decaying noise, RT60 0.1-0.8 s
        rt60 = rng.uniform(0.1, 0.8)
        t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
        rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * rng.uniform(0.05, 0.5)
        rir[0] = 1.0
        x = fftconvolve(x, rir)[:n]
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-9)
    if rng.random() < 0.8:
        snr_db = rng.uniform(5, 40)
        x = x + _coloured_noise(rng, n) * 10 ** (-snr_db / 20)
    peak = 10 ** (rng.uniform(-30, -1) / 20)
    x = x * peak / (np.abs(x).max() + 1e-9)
    if rng.random() < 0.05:
        x = np.clip(x * rng.uniform(2, 6), -peak, peak)
    return x.astype(np.float32)


def _espeak(rng: np.random.Generator) -> tuple[str, str, np.ndarray, list[Phone]]:
    language = LANGUAGES[int(rng.integers(len(LANGUAGES)))]
    variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
    voice = language + (f"+{variant}" if variant else "")
    text = sentence(rng, language)
    speech = synthesise(text, voice=voice, rate_wpm=int(rng.integers(110, 260)), pitch=int(rng.integers(15, 85)),
                        word_gap=int(rng.integers(0, 6)), pitch_range=int(rng.integers(10, 90)),
                        seed=int(rng.integers(2 ** 31)))
    return voice, text, soxr.resample(speech.samples, speech.sample_rate, SAMPLE_RATE), speech.phones()


def _flite(rng: np.random.Generator) -> tuple[str, str, np.ndarray, list[Phone]]:
    voice = flite.VOICES[int(rng.integers(len(flite.VOICES)))]
    text = sentence(rng, "en-us")
    samples, rate, phones = flite.synthesise(text, voice, stretch=float(rng.uniform(0.75, 1.5)),
                                             pitch=float(rng.uniform(0.8, 1.3)))
    warp = float(rng.uniform(0.88, 1.12))  # pitch, formants and timing scaled together
    x = soxr.resample(samples, rate * warp, SAMPLE_RATE)
    return f"flite-{voice}", text, x, [Phone(p.name, p.start / warp, p.end / warp) for p in phones]


def _mbrola(rng: np.random.Generator) -> tuple[str, str, np.ndarray, list[Phone]]:
    voice, language = mbrola.VOICES[int(rng.integers(len(mbrola.VOICES)))]
    text = sentence(rng, language)
    speech = mbrola.synthesise(text, voice, rate_wpm=int(rng.integers(120, 230)), pitch=int(rng.integers(20, 80)),
                               pitch_range=int(rng.integers(10, 90)), word_gap=int(rng.integers(0, 6)))
    return voice, text, soxr.resample(speech.samples, speech.sample_rate, SAMPLE_RATE), speech.phones()


def utterance_audio(seed: int, index: int, with_mbrola: bool = False) -> dict:
    """One utterance drawn from (seed, index): 16 kHz float32 audio, phones N×3 [id, start s, end s] and how
    it was made; odd indices are flite's, and `with_mbrola` gives every other even one to an MBROLA voice
    (index 2 mod 4; the rest are drawn as without it). Shared by every feature kind (log-mel here, Whisper in
    corpus_whisper), so they hear the same audio.

    espeak-ng's audio also depends on what the process synthesised before (and its
    phoneme times, by a millisecond or so): `build` makes each shard in a fresh process."""
    rng = np.random.default_rng([seed, index])
    voice, text, x, timed = (_flite if index % 2 else _mbrola if with_mbrola and index % 4 == 2 else _espeak)(rng)
    lead, tail = rng.uniform(0.05, 0.6, 2)
    x = np.concatenate([np.zeros(int(lead * SAMPLE_RATE)), x, np.zeros(int(tail * SAMPLE_RATE))])
    x = augment(x.astype(np.float64), rng)
    phones = [(PHONE_INDEX[p.name], p.start + lead, p.end + lead) for p in timed]
    return {"samples": x, "phones": np.array(phones, np.float32).reshape(-1, 3), "voice": voice, "text": text}


def utterance(seed: int, index: int) -> dict:
    """One utterance drawn from (seed, index): log-mel features, phones and how it was made."""
    u = utterance_audio(seed, index)
    return {"mel": log_mel(u.pop("samples")).astype(np.float16), **u}


def _shard(args: tuple[str, int, int, int]) -> str:
    out, seed, first, count = args
    path = os.path.join(out, f"shard-{first:06d}.npz")
    if os.path.exists(path):
        return path
    items = [utterance(seed, i) for i in range(first, first + count)]
    mel_len = np.array([len(u["mel"]) for u in items])
    ph_len = np.array([len(u["phones"]) for u in items])
    tmp = path + ".tmp.npz"
    np.savez(tmp, mel=np.concatenate([u["mel"] for u in items]), mel_len=mel_len,
             phones=np.concatenate([u["phones"] for u in items]), phone_len=ph_len,
             voices=np.array([u["voice"] for u in items]), texts=np.array([u["text"] for u in items]))
    os.replace(tmp, path)
    return path


def claim(out: str, spec: dict) -> None:
    """Make `out` the folder of the corpus `spec` describes (seed, size, version...): it may resume one
    built with the same spec, never mix two. Needs flite, whose voices are half the corpus."""
    if not flite.available():
        raise InputError("Building the training corpus needs the flite program for its human-recorded voices "
                         "(apt install flite); it is used for training only.")
    os.makedirs(out, exist_ok=True)
    spec_path = os.path.join(out, "corpus.json")
    if os.path.exists(spec_path):
        with open(spec_path) as fh:
            if json.load(fh) != spec:
                raise ValueError(f"{out} holds a different corpus; choose another folder")
    with open(spec_path, "w") as fh:
        json.dump(spec, fh)


def build(out: str, utterances: int, seed: int = 0, workers: int | None = None, shard_size: int = 100,
          progress=print) -> list[str]:
    """Write (or reuse) the corpus shards in `out`; deterministic from `seed`. Returns the shard paths."""
    claim(out, {"seed": seed, "utterances": utterances, "shard_size": shard_size, "version": 4})
    jobs = [(out, seed, a, min(shard_size, utterances - a)) for a in range(0, utterances, shard_size)]
    paths = []
    # one freshly started process per shard: espeak-ng keeps state from one utterance to the next
    # (its audio differs slightly on a second call), so a shard is reproducible only from a clean start
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count(), max_tasks_per_child=1,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for k, path in enumerate(pool.map(_shard, jobs), 1):
            paths.append(path)
            progress(f"corpus: shard {k}/{len(jobs)} ({path})")
    return paths


def load(folder: str, features: str = "mel") -> list[tuple[np.ndarray, np.ndarray]]:
    """All utterances of a corpus folder as (features: log-mel T×80 or Whisper's F×384, float16;
    phones N×3 [id, start, end])."""
    items = []
    for name in sorted(os.listdir(folder)):
        if not (name.startswith("shard-") and name.endswith(".npz")) or name.endswith(".tmp.npz"):
            continue
        with np.load(os.path.join(folder, name)) as z:
            feats = np.split(z[features], np.cumsum(z[f"{features}_len"])[:-1])
            phones = np.split(z["phones"], np.cumsum(z["phone_len"])[:-1])
        items += list(zip(feats, phones))
    return items


def cache_folder(name: str) -> str:
    """A training corpus's folder in the cache (~/.cache/talkinghead/NAME)."""
    root = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    return os.path.join(root, "talkinghead", name)


def default_folder(seed: int, utterances: int, name: str = "corpus-v4") -> str:
    """The corpus cache folder (~/.cache/talkinghead/NAME-seedS-nU)."""
    return cache_folder(f"{name}-seed{seed}-n{utterances}")

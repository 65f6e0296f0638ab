"""A faithful stand-in for ollama.com and registry.ollama.ai, built from one table of real models.

Pages follow docs/library-pages.md (both row forms — the compact link with
its info line and the wide grid row with separate cells — navigation links that also name the
model, the `latest` badge, cloud tags; llama3.3 in the older layout that shows a 12-hex digest).
Architectures are the models' real GGUF shapes. Registry manifests follow Ollama's format; model
blobs are GGUF headers generated with the `gguf` package, served with Range support.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

LIB = "https://ollama.com"
REG = "https://registry.ollama.ai"
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Arch:
    arch: str
    layers: int
    emb: int
    ff: int
    heads: int
    kv: int
    head_dim: int
    ctx: int
    vocab: int
    experts: int = 0
    used: int = 0
    expert_ff: int = 0
    swa: int = 0
    tied: bool = False  # no output.weight: token_embd doubles as output (gemma)
    shared: bool = False  # a shared expert beside the routed ones (Llama 4)


ARCH = {
    ("llama3.3", "70b"): Arch("llama", 80, 8192, 28672, 64, 8, 128, 131072, 128256),
    ("phi4", "14b"): Arch("phi3", 40, 5120, 17920, 40, 10, 128, 16384, 100352),
    ("qwen3", "0.6b"): Arch("qwen3", 28, 1024, 3072, 16, 8, 128, 40960, 151936, tied=True),
    ("qwen3", "4b"): Arch("qwen3", 36, 2560, 9728, 32, 8, 128, 40960, 151936, tied=True),
    ("qwen3", "8b"): Arch("qwen3", 36, 4096, 12288, 32, 8, 128, 40960, 151936),
    ("qwen3", "14b"): Arch("qwen3", 40, 5120, 17408, 40, 8, 128, 40960, 151936),
    ("qwen3", "32b"): Arch("qwen3", 64, 5120, 25600, 64, 8, 128, 40960, 151936),
    ("qwen3", "30b-a3b"): Arch("qwen3moe", 48, 2048, 6144, 32, 4, 128, 40960, 151936, 128, 8,
                               768),
    ("gemma3", "4b"): Arch("gemma3", 34, 2560, 10240, 8, 4, 256, 131072, 262144, swa=1024,
                           tied=True),
    ("gemma3", "27b"): Arch("gemma3", 62, 5376, 21504, 32, 16, 128, 131072, 262144, swa=1024,
                            tied=True),
    # used by bench/accuracy.py only (no library page in the fixtures)
    ("llama3.1", "8b"): Arch("llama", 32, 4096, 14336, 32, 8, 128, 131072, 128256),
    ("llama3.2", "3b"): Arch("llama", 28, 3072, 8192, 24, 8, 128, 131072, 128256, tied=True),
    ("mixtral", "8x7b"): Arch("llama", 32, 4096, 14336, 32, 8, 128, 32768, 32000, 8, 2, 14336),
    ("gpt-oss", "20b"): Arch("gptoss", 24, 2880, 2880, 64, 8, 64, 131072, 201088, 32, 4, 2880,
                             swa=128),
}

# model → (layout, description, capabilities, inputs, [(size, quant, [tags])], [cloud tags]).
# The first tag of each artifact is its most specific name; `latest` aliases the default.
MODELS = {
    "llama3.3": ("digest", "New state of the art 70B model. Llama 3.3 70B offers similar "
                 "performance compared to the Llama 3.1 405B model.", ["tools"], "Text", [
        ("70b", "q4_K_M", ["70b-instruct-q4_K_M", "latest", "70b"]),
        ("70b", "q2_K", ["70b-instruct-q2_K"]), ("70b", "q3_K_S", ["70b-instruct-q3_K_S"]),
        ("70b", "q3_K_M", ["70b-instruct-q3_K_M"]), ("70b", "q4_0", ["70b-instruct-q4_0"]),
        ("70b", "q4_1", ["70b-instruct-q4_1"]), ("70b", "q4_K_S", ["70b-instruct-q4_K_S"]),
        ("70b", "q5_0", ["70b-instruct-q5_0"]), ("70b", "q5_1", ["70b-instruct-q5_1"]),
        ("70b", "q5_K_S", ["70b-instruct-q5_K_S"]), ("70b", "q5_K_M", ["70b-instruct-q5_K_M"]),
        ("70b", "q6_K", ["70b-instruct-q6_K"]), ("70b", "q8_0", ["70b-instruct-q8_0"]),
        ("70b", "fp16", ["70b-instruct-fp16"]),
    ], []),
    "phi4": ("plain", "Phi-4 is a 14B parameter, state-of-the-art open model from Microsoft.",
             [], "Text", [
        ("14b", "q4_K_M", ["14b-q4_K_M", "latest", "14b"]),
        ("14b", "q8_0", ["14b-q8_0"]), ("14b", "fp16", ["14b-fp16"]),
    ], []),
    "qwen3": ("plain", "Qwen3 is the latest generation of large language models in Qwen "
              "series, offering a comprehensive suite of dense and mixture-of-experts (MoE) "
              "models.", ["tools", "thinking"], "Text", [
        ("0.6b", "q4_K_M", ["0.6b-q4_K_M", "0.6b"]), ("0.6b", "q8_0", ["0.6b-q8_0"]),
        ("4b", "q4_K_M", ["4b-q4_K_M", "4b"]), ("4b", "q8_0", ["4b-q8_0"]),
        ("8b", "q4_K_M", ["8b-q4_K_M", "latest", "8b"]), ("8b", "q8_0", ["8b-q8_0"]),
        ("8b", "fp16", ["8b-fp16"]),
        ("14b", "q4_K_M", ["14b-q4_K_M", "14b"]), ("14b", "q8_0", ["14b-q8_0"]),
        ("14b", "fp16", ["14b-fp16"]),
        ("30b-a3b", "q4_K_M", ["30b-a3b-q4_K_M", "30b-a3b", "30b"]),
        ("30b-a3b", "q8_0", ["30b-a3b-q8_0"]), ("30b-a3b", "fp16", ["30b-a3b-fp16"]),
        ("32b", "q4_K_M", ["32b-q4_K_M", "32b"]), ("32b", "q8_0", ["32b-q8_0"]),
        ("32b", "fp16", ["32b-fp16"]),
    ], []),
    "gemma3": ("plain", "The current, most capable model that runs on a single GPU.",
               ["vision"], "Text, Image", [
        ("4b", "q4_K_M", ["4b-it-q4_K_M", "latest", "4b"]), ("4b", "q8_0", ["4b-it-q8_0"]),
        ("4b", "qat", ["4b-it-qat"]),
        ("27b", "q4_K_M", ["27b-it-q4_K_M", "27b"]), ("27b", "q8_0", ["27b-it-q8_0"]),
        ("27b", "qat", ["27b-it-qat"]), ("27b", "fp16", ["27b-it-fp16"]),
    ], []),
    "gpt-oss": ("plain", "OpenAI's open-weight models designed for powerful reasoning, agentic "
                "tasks, and versatile developer use cases.", ["tools", "thinking"], "Text", [
        ("20b", "mxfp4", ["20b", "latest"]),
    ], ["20b-cloud", "120b-cloud"]),
}

PARAMS = {("llama3.3", "70b"): 70.6, ("phi4", "14b"): 14.7, ("qwen3", "0.6b"): 0.6,
          ("qwen3", "4b"): 4.0, ("qwen3", "8b"): 8.2, ("qwen3", "14b"): 14.8,
          ("qwen3", "32b"): 32.8, ("qwen3", "30b-a3b"): 30.5, ("gemma3", "4b"): 4.3,
          ("gemma3", "27b"): 27.4, ("gpt-oss", "20b"): 20.9, ("llama3.1", "8b"): 8.0,
          ("mixtral", "8x7b"): 46.7}

# ggml type ids (ggml.h) and file types (llama.h) used by the generator.
T = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q2_K": 10,
     "q3_K": 11, "q4_K": 12, "q5_K": 13, "q6_K": 14, "bf16": 30, "mxfp4": 39}
FTYPE = {"fp16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q2_K": 10,
         "q3_K_S": 11, "q3_K_M": 12, "q3_K_L": 13, "q4_K_S": 14, "q4_K_M": 15, "q5_K_S": 16,
         "q5_K_M": 17, "q6_K": 18, "mxfp4": 38, "qat": 2}
BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
         10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
         30: (1, 2), 39: (32, 17)}
# base type, type of attn_v/ffn_down on llama.cpp's use_more_bits layers, output type
MIX = {"fp16": ("f16", "f16", "f16"), "q8_0": ("q8_0", "q8_0", "q8_0"),
       "q6_K": ("q6_K", "q6_K", "q6_K"), "q5_K_M": ("q5_K", "q6_K", "q6_K"),
       "q5_K_S": ("q5_K", "q5_K", "q6_K"), "q5_0": ("q5_0", "q5_0", "q6_K"),
       "q5_1": ("q5_1", "q5_1", "q6_K"), "q4_K_M": ("q4_K", "q6_K", "q6_K"),
       "q4_K_S": ("q4_K", "q4_K", "q6_K"), "q4_0": ("q4_0", "q4_0", "q6_K"),
       "q4_1": ("q4_1", "q4_1", "q6_K"), "q3_K_L": ("q3_K", "q5_K", "q6_K"),
       "q3_K_M": ("q3_K", "q4_K", "q6_K"), "q3_K_S": ("q3_K", "q3_K", "q6_K"),
       "q2_K": ("q2_K", "q3_K", "q6_K"), "qat": ("q4_0", "q4_0", "f16"),
       "mxfp4": ("q8_0", "q8_0", "q8_0")}



def said(text: str) -> list[str]:
    """stderr as the lines it says: a wrapped note's continuation lines (indented two spaces)
    joined back to the line they continue, so a test can name a whole note."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("  ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out

def nbytes(ttype: int, shape: list[int]) -> int:
    block, size = BLOCK[ttype]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensors(a: Arch, quant: str) -> list[tuple[str, list[int], int]]:
    """(name, shape as ne0.., ggml type) for every tensor of a model at `quant`."""
    base, more, out = (T[x] for x in MIX[quant])
    emb_type = T["f16"] if quant == "qat" else base
    q, kv = a.heads * a.head_dim, a.kv * a.head_dim
    ts = [("token_embd.weight", [a.emb, a.vocab], emb_type)]
    for i in range(a.layers):
        mb = more if _more_bits(i, a.layers) else base
        p = f"blk.{i}."
        ts += [(p + "attn_norm.weight", [a.emb], 0), (p + "attn_q.weight", [a.emb, q], base),
               (p + "attn_k.weight", [a.emb, kv], base), (p + "attn_v.weight", [a.emb, kv], mb),
               (p + "attn_output.weight", [q, a.emb], base), (p + "ffn_norm.weight", [a.emb], 0)]
        if a.experts:
            et = T["mxfp4"] if quant == "mxfp4" else base
            ts += [(p + "ffn_gate_inp.weight", [a.emb, a.experts], 0),
                   (p + "ffn_gate_exps.weight", [a.emb, a.expert_ff, a.experts], et),
                   (p + "ffn_up_exps.weight", [a.emb, a.expert_ff, a.experts], et),
                   (p + "ffn_down_exps.weight", [a.expert_ff, a.emb, a.experts], et)]
        else:
            ts += [(p + "ffn_gate.weight", [a.emb, a.ff], base),
                   (p + "ffn_up.weight", [a.emb, a.ff], base),
                   (p + "ffn_down.weight", [a.ff, a.emb], mb)]
    ts.append(("output_norm.weight", [a.emb], 0))
    if not a.tied:
        ts.append(("output.weight", [a.emb, a.vocab], out))
    return ts


HEADER_ALLOWANCE = 4_000_000  # bytes before the tensor data (vocabulary and tensor table)


@dataclass
class Artifact:
    model: str
    size: str
    quant: str
    tags: list[str]

    @property
    def arch(self) -> Arch:
        return ARCH[(self.model, self.size)]

    @property
    def blob_digest(self) -> str:
        return "sha256:" + hashlib.sha256(f"{self.model}:{self.size}:{self.quant}".encode()
                                          ).hexdigest()

    @property
    def model_bytes(self) -> int:
        return HEADER_ALLOWANCE + sum(nbytes(t, s) for _, s, t in tensors(self.arch, self.quant))

    @property
    def config(self) -> dict:
        params = PARAMS[(self.model, self.size)]
        ft = "Q4_0" if self.quant == "qat" else self.quant.upper()
        return {"model_format": "gguf", "model_family": self.arch.arch,
                "model_families": [self.arch.arch], "model_type": f"{params}B",
                "file_type": ft, "architecture": "amd64", "os": "linux", "rootfs":
                {"type": "layers", "diff_ids": [self.blob_digest]}}

    @property
    def config_text(self) -> str:
        return json.dumps(self.config, separators=(",", ":"))

    @property
    def config_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.config_text.encode()).hexdigest()

    @property
    def layers(self) -> list[dict]:
        def blob(kind: str, size: int) -> dict:
            d = hashlib.sha256(f"{self.model}:{kind}".encode()).hexdigest()
            return {"mediaType": f"application/vnd.ollama.image.{kind}", "digest": f"sha256:{d}",
                    "size": size}
        layers = [{"mediaType": "application/vnd.ollama.image.model",
                   "digest": self.blob_digest, "size": self.model_bytes}]
        if "Image" in MODELS[self.model][3]:
            layers.append(blob("projector", 851_251_104))
        return layers + [blob("license", 7627), blob("template", 1542), blob("params", 96)]

    @property
    def manifest_text(self) -> str:
        return json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1"
                                      "+json", "digest": self.config_digest,
                                      "size": len(self.config_text)},
                           "layers": self.layers}, indent=2)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.manifest_text.encode()).hexdigest()

    @property
    def download_bytes(self) -> int:
        return sum(x["size"] for x in self.layers)


def artifacts(model: str) -> list[Artifact]:
    return [Artifact(model, size, quant, tags) for size, quant, tags in MODELS[model][4]]


def find(model: str, tag: str) -> Artifact | None:
    return next((a for a in artifacts(model) if tag in a.tags), None)


class Vocab(tuple):
    """The placeholder vocabulary t0, t1, ... of a header, with its GGUF array packed once."""

    @cached_property
    def packed(self) -> bytes:
        import struct

        items = [t.encode() for t in self]
        return struct.pack("<IQ", 8, len(items)) + b"".join(  # 8: GGUF_TYPE_STRING
            x for item in items for x in (struct.pack("<Q", len(item)), item))


@cache
def vocab(n: int) -> Vocab:
    return Vocab(f"t{i}" for i in range(n))


@cache
def add_shape(w, a: Arch, name: str, file_type: int) -> None:
    """The keys every fixture header starts with: name, file type, and the model's shape."""
    w.add_string("general.name", name)
    w.add_uint32("general.file_type", file_type)
    w.add_uint32(f"{a.arch}.block_count", a.layers)
    w.add_uint32(f"{a.arch}.context_length", a.ctx)
    w.add_uint32(f"{a.arch}.embedding_length", a.emb)
    w.add_uint32(f"{a.arch}.feed_forward_length", a.ff)
    w.add_uint32(f"{a.arch}.attention.head_count", a.heads)
    w.add_uint32(f"{a.arch}.attention.head_count_kv", a.kv)


def gguf_writer():
    """`gguf.GGUFWriter`, except that a `Vocab` is packed once per size: the package packs each
    string through three calls, ~0.2 s for a 262,144-token vocabulary, and the fixtures write
    ~18 headers with 7 vocabulary sizes. Same bytes (tests/test_gguf.py compares them)."""
    import struct

    import gguf

    class Writer(gguf.GGUFWriter):
        def _pack_val(self, val, vtype, add_vtype, sub_type=None):
            if isinstance(val, Vocab) and self.endianess == gguf.GGUFEndian.LITTLE:
                return (struct.pack("<I", vtype) if add_vtype else b"") + val.packed
            return super()._pack_val(val, vtype, add_vtype, sub_type)
    return Writer


@cache
def gguf_header(model: str, size: str, quant: str) -> bytes:
    """The GGUF header (metadata + tensor table) of an artifact, written by the gguf package."""
    import gguf
    import numpy as np

    a = ARCH[(model, size)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.gguf"
        w = gguf_writer()(path, a.arch)
        add_shape(w, a, f"{model} {size}", FTYPE[quant])
        if a.head_dim != a.emb // a.heads:
            w.add_uint32(f"{a.arch}.attention.key_length", a.head_dim)
            w.add_uint32(f"{a.arch}.attention.value_length", a.head_dim)
        if a.experts:
            w.add_uint32(f"{a.arch}.expert_count", a.experts)
            w.add_uint32(f"{a.arch}.expert_used_count", a.used)
        if a.swa:
            w.add_uint32(f"{a.arch}.attention.sliding_window", a.swa)
        w.add_string("tokenizer.ggml.model", "gpt2")
        w.add_array("tokenizer.ggml.tokens", vocab(a.vocab))
        w.add_array("tokenizer.ggml.token_type", [1] * 64)
        for name, shape, ttype in tensors(a, quant):
            w.add_tensor_info(name, list(reversed(shape)), np.dtype(np.float32),
                              nbytes(ttype, shape), raw_dtype=gguf.GGMLQuantizationType(ttype))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        return path.read_bytes()


@cache
def _header_info(model: str, size: str, quant: str):
    from ollama_quantpick.gguf import parse_header

    return parse_header(gguf_header(model, size, quant))


def header_info(model: str, size: str, quant: str):
    """`gguf.parse_header` of an artifact's header: parsed once per run (~30 ms each, asked for
    ~50 times by the estimator tests), a fresh copy per call so no test sees another's edits."""
    import copy

    return copy.deepcopy(_header_info(model, size, quant))


# ---- pages -------------------------------------------------------------------------------------

def _page_size(n: int) -> str:
    if n >= 10e9:
        return f"{round(n / 1e9)}GB"
    if n >= 1e9:
        return f"{n / 1e9:.1f}GB"
    return f"{round(n / 1e6)}MB"


def _ctx(n: int) -> str:
    return f"{n // 1024}K"


def tags_page(model: str) -> str:
    """The tags page in the layout the table names for this model."""
    layout, description, caps, inputs, _, cloud = MODELS[model]
    rows = []
    for a in artifacts(model):
        for tag in [*a.tags[1:], a.tags[0]] if "latest" in a.tags else a.tags:
            rows.append((tag, a))
    rows.sort(key=lambda r: (r[0] != "latest", r[0]))
    html = [f"""<!DOCTYPE html><html class="h-full"><head><meta charset="utf-8">
<title>Tags · {model}</title><meta name="description" content="{description}"></head>
<body><header><nav class="flex"><a href="/">Ollama</a><a href="/search">Models</a>
<a href="/library/{model}">{model}</a><a href="/library/{model}/tags">Tags</a>
<a href="https://docs.ollama.com">Docs</a></nav></header>
<main><div class="flex items-center"><h1 x-test-model-name>{model}</h1></div>
<section class="flex-1"><div class="min-w-full divide-y divide-gray-200">
<div class="items-center grid bg-neutral-50 px-4 py-3 text-xs grid-cols-12 text-neutral-900">
<p class="col-span-6 hidden md:block">Name</p><p class="block col-span-6 md:hidden">{len(rows)} models</p>
<p class="col-span-2 hidden md:block">Size</p><p class="col-span-2 hidden md:block">Context</p>
<p class="col-span-2 hidden md:block">Input</p></div>"""]
    latest = find(model, "latest")
    for tag, a in rows:
        ctx = _ctx(a.arch.ctx)
        size = _page_size(a.model_bytes + sum(x["size"] for x in a.layers[1:2]
                                              if "projector" in x["mediaType"]))
        badge = ""
        if latest is not None and a.tags == latest.tags and tag != "latest":
            badge = '<span class="ml-2 rounded-full border px-1.5 text-xs">latest</span>'
        if layout == "digest":
            # The layout public scrapers saved (e.g. HelgeSverre/ollama-library-scraper's
            # fixtures): "•" bullets, the digest in a font-mono span, "Text input", a compact
            # link for small screens and a grid row with cells and the digest again.
            digest = a.digest[:12]
            kind = inputs
            html.append(f"""<div class="group px-4 py-3">
<a href="/library/{model}:{tag}" class="md:hidden flex flex-col space-y-[6px] group">
<div class="flex items-center font-medium"><div><span class="group-hover:underline">{model}:{tag}</span>
{badge}</div></div>
<div class="flex flex-col text-neutral-500 text-[13px]"><span>
<span class="font-mono">{digest}</span> • {size} •
{ctx} context window  •
<span class="hidden sm:inline">{kind} input •
11 months ago</span></span>
<div class="flex sm:hidden">{kind} input •
11 months ago</div></div></a>
<div class="hidden md:flex flex-col space-y-[6px]"><div class="grid grid-cols-12 items-center">
<span class="flex items-center font-medium col-span-6 group text-sm">
<a href="/library/{model}:{tag}" class="group-hover:underline">{model}:{tag}</a>
{badge}<input class="command hidden" value="{model}:{tag}" /></span>
<p class="col-span-2 text-neutral-500 text-[13px]">{size}</p>
<p class="col-span-2 text-neutral-500 text-[13px]">{ctx}</p>
<div class="col-span-2 text-neutral-500 text-[13px] ">{kind}</div></div>
<div class="flex text-neutral-500 text-xs items-center">
<span class="font-mono text-[11px]">{digest}</span>&nbsp;·&nbsp;11 months ago</div></div></div>""")
        else:
            info = f"{size} · {ctx} context window · {inputs} · 5 months ago"
            html.append(f"""<div class="group px-4 py-3">
<a href="/library/{model}:{tag}" class="sm:hidden flex flex-col space-y-[6px] group text-[13px] px-4 py-3">
<p class="flex text-neutral-800 font-medium">{tag}{badge}</p>
<p class="flex text-neutral-500">{info}</p></a>
<div class="hidden sm:grid grid-cols-12 items-center">
<span class="col-span-6"><a href="/library/{model}:{tag}">
<p class="truncate hover:underline text-sm font-medium text-neutral-800">{model}:{tag}</p></a>
{badge}</span>
<p class="col-span-2 text-neutral-500 text-[13px]">{size}</p>
<p class="col-span-2 text-neutral-500 text-[13px]">{ctx}</p>
<div class="col-span-2 text-neutral-500 text-[13px]">{inputs}</div></div></div>""")
    for tag in cloud:
        html.append(f"""<div class="group px-4 py-3">
<a href="/library/{model}:{tag}" class="sm:hidden flex flex-col space-y-[6px] group text-[13px] px-4 py-3">
<p class="flex text-neutral-800 font-medium">{tag}</p>
<p class="flex text-neutral-500">Medium Usage · 128K context window · Text · 2 months ago</p></a>
<div class="hidden sm:grid grid-cols-12 items-center">
<span class="col-span-6"><a href="/library/{model}:{tag}">
<p class="truncate hover:underline text-sm font-medium text-neutral-800">{model}:{tag}</p></a>
</span><p class="col-span-2 text-neutral-500 text-[13px]">Medium Usage</p>
<p class="col-span-2 text-neutral-500 text-[13px]">128K</p>
<div class="col-span-2 text-neutral-500 text-[13px]">Text</div></div></div>""")
    html.append("</div></section></main><footer><a href='/blog'>Blog</a></footer></body></html>")
    return "\n".join(html)


def big_tags_page(model: str, n: int) -> str:
    """A tags page of `n` rows in both of the real layouts (half plain, half with digests), for
    the parser's time bound: the real pages hold up to a few hundred rows."""
    head, _, _ = tags_page(model).partition('<div class="group px-4 py-3">')
    rows = []
    for i in range(n):
        tag = f"{i % 997 + 1}b-v{i}-q4_K_M"
        if i % 2:
            rows.append(f"""<div class="group px-4 py-3">
<a href="/library/{model}:{tag}" class="sm:hidden flex flex-col space-y-[6px] group text-[13px] px-4 py-3">
<p class="flex text-neutral-800 font-medium">{tag}</p>
<p class="flex text-neutral-500">{i % 90 + 1}GB · 128K context window · Text · 5 months ago</p></a>
<div class="hidden sm:grid grid-cols-12 items-center">
<span class="col-span-6"><a href="/library/{model}:{tag}">
<p class="truncate hover:underline text-sm font-medium text-neutral-800">{model}:{tag}</p></a>
</span>
<p class="col-span-2 text-neutral-500 text-[13px]">{i % 90 + 1}GB</p>
<p class="col-span-2 text-neutral-500 text-[13px]">128K</p>
<div class="col-span-2 text-neutral-500 text-[13px]">Text</div></div></div>""")
        else:
            digest = hashlib.sha256(tag.encode()).hexdigest()[:12]
            rows.append(f"""<div class="group px-4 py-3">
<div class="hidden md:flex flex-col space-y-[6px]"><div class="grid grid-cols-12 items-center">
<span class="flex items-center font-medium col-span-6 group text-sm">
<a href="/library/{model}:{tag}" class="group-hover:underline">{model}:{tag}</a></span>
<p class="col-span-2 text-neutral-500 text-[13px]">{i % 90 + 1}GB</p>
<p class="col-span-2 text-neutral-500 text-[13px]">128K</p>
<div class="col-span-2 text-neutral-500 text-[13px] ">Text</div></div>
<div class="flex text-neutral-500 text-xs items-center">
<span class="font-mono text-[11px]">{digest}</span>&nbsp;·&nbsp;11 months ago</div></div></div>""")
    return head + "\n".join(rows) + "</div></section></main></body></html>"


def model_page(model: str) -> str:
    _, description, caps, inputs, _, _ = MODELS[model]
    sizes = sorted({s for s, _, _ in MODELS[model][4]})
    badges = "".join(f'<span x-test-capability class="badge">{c}</span>' for c in caps)
    size_badges = "".join(f'<span x-test-size class="badge">{s}</span>' for s in sizes)
    return f"""<!DOCTYPE html><html><head><meta name="description" content="{description}">
<title>{model}</title></head><body><nav><a href="/library/{model}/tags">Tags</a></nav>
<main><h1 x-test-model-title>{model}</h1><p>{description}</p>
<div>{badges}{size_badges}</div><span x-test-pull-count>1.2M</span>
<span x-test-tag-count>{sum(len(t) for *_, t in MODELS[model][4])}</span></main></body></html>"""


def search_page(_query: str) -> str:
    items = "".join(f'<li x-test-model><a href="/library/{m}"><span x-test-search-response-title>'
                    f"{m}</span></a></li>" for m in [*MODELS, "llama3.1", "llama3.2", "llava"])
    return f"<html><body><ul>{items}</ul></body></html>"


def write_fixture_pages() -> None:
    """Regenerate tests/fixtures/library/*.html from the table (run by hand; output committed)."""
    out = FIXTURES / "library"
    out.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        (out / f"{model}.tags.html").write_text(tags_page(model))
        (out / f"{model}.html").write_text(model_page(model))
    (out / "search.html").write_text(search_page(""))


# ---- serving with `responses` ------------------------------------------------------------------

@dataclass
class Served:
    """Counts what the fake hosts were asked, so tests can assert on traffic."""

    calls: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    tags_html: dict[str, str] = field(default_factory=dict)  # overrides per model
    ignore_range: bool = False  # behave like a server that ignores Range (200, whole body)
    params: dict[str, dict] = field(default_factory=dict)  # params blob per model (Modelfile)


def respond(url: str, headers: dict, served: Served, lib: str = LIB, reg: str = REG):
    """(status, headers, body) for a GET of `url`: the one router behind both the `responses`
    mock and the real local HTTP server."""
    served.calls.append(url)
    path = url[len(lib):] if url.startswith(lib) else None
    if path is not None and not path.startswith("/v2/"):
        if m := re.match(r"^/library/([^/]+)/tags$", path):
            model = m.group(1)
            if model in served.tags_html:
                return 200, {"Content-Type": "text/html"}, served.tags_html[model]
            page = FIXTURES / "library" / f"{model}.tags.html"
            if not page.exists():
                return 404, {}, "<html><body><h1>404</h1>Not found</body></html>"
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page.read_text()
        if m := re.match(r"^/library/([^/?:]+)$", path):
            page = FIXTURES / "library" / f"{m.group(1)}.html"
            return (200, {}, page.read_text()) if page.exists() else (404, {}, "not found")
        if path.startswith("/search"):
            return 200, {}, (FIXTURES / "library" / "search.html").read_text()
        return 404, {}, "not found"
    path = url[len(reg):] if url.startswith(reg) else ""
    if m := re.match(r"^/v2/library/([^/]+)/manifests/([^/]+)$", path):
        a = find(m.group(1), m.group(2)) if m.group(1) in MODELS else None
        if a is None:
            return 404, {}, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN",
                                                    "message": "manifest unknown"}]})
        return 200, {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}, \
            a.manifest_text
    if m := re.match(r"^/v2/library/([^/]+)/blobs/(sha256:[0-9a-f]+)$", path):
        model, digest = m.group(1), m.group(2)
        for a in artifacts(model) if model in MODELS else []:
            if a.config_digest == digest:
                return 200, {}, a.config_text
            if next(x["digest"] for x in a.layers if x["mediaType"].endswith("params")) == digest:
                return 200, {}, json.dumps(served.params.get(model, {"stop": ["<|im_end|>"]}))
            if a.blob_digest == digest:
                data = gguf_header(a.model, a.size, a.quant)
                rng = headers.get("Range", "")
                served.ranges.append(rng)
                r = re.match(r"bytes=(\d+)-(\d+)", rng)
                if r and not served.ignore_range:
                    start, end = int(r.group(1)), int(r.group(2))
                    body = data[start:end + 1]
                    body += b"\0" * (min(end + 1, a.model_bytes) - start - len(body))
                    return 206, {"Content-Range": f"bytes {start}-{end}/{a.model_bytes}"}, body
                return 200, {}, data + b"\0" * 4_000_000
        return 404, {}, "blob unknown"
    return 404, {}, "not found"


def install(rsps, lib: str = LIB, reg: str = REG, served: Served | None = None) -> Served:
    """Route ollama.com and the registry to `respond` on a `responses.RequestsMock`."""
    served = served or Served()

    def callback(request):
        return respond(request.url, dict(request.headers), served, lib, reg)

    for base in (lib, reg):
        rsps.add_callback("GET", re.compile(re.escape(base) + ".*"), callback=callback)
    return served


def serve_http(httpserver, served: Served | None = None) -> tuple[str, Served]:
    """Serve the same routes on a real local HTTP server (pytest-httpserver); returns its base
    URL, to be used as both QUANTPICK_LIBRARY_URL and QUANTPICK_REGISTRY_URL."""
    served = served or Served()
    return serve_routes(httpserver, respond, served), served


def serve_routes(httpserver, router, served) -> str:
    """Every request to `httpserver` answered by `router(url, headers, served, base, base)` (the
    same router the `responses` mock uses, with this server as every host); returns its base."""
    from werkzeug import Response

    base = httpserver.url_for("/").rstrip("/")

    def handler(request):
        url = base + request.full_path.rstrip("?")
        status, headers, body = router(url, dict(request.headers), served, base, base)
        return Response(body, status=status, headers=headers)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(handler)
    return base


def feed_in_pieces(data: bytes, step: int):
    """A GGUF header fed to gguf.HeaderParser `step` bytes at a time, as HTTP Range steps arrive;
    the parser, stopped where the header ended."""
    from ollama_quantpick import gguf

    parser = gguf.HeaderParser()
    for i in range(0, len(data), step):
        if parser.feed(data[i:i + step]) is not None:
            break
    return parser


def best_cpu_time(fn, runs: int = 3) -> float:
    """Best CPU time of `runs` runs of `fn()`: on a shared machine wall time measures its load."""
    import time

    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def load_module(path: Path, name: str):
    """The Python file at `path` as module `name` (a test file from a bench, a bench from a
    test). Registered before it runs: dataclasses look their module up while it loads."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def serve_threaded(delay_s: float = 0.0) -> tuple[str, object]:
    """The same routes on a real local port, each request in its own thread (werkzeug), so
    concurrent requests are answered concurrently; `delay_s` is waited before every answer (a
    round trip to a far server). Returns (base URL, server); `server.served` counts what was
    asked and `server.started` holds (time.monotonic(), path) of each request as it came in.
    It also answers /api/version as a running Ollama 0.32.15. Call server.shutdown() when done."""
    import logging
    import threading
    import time

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    served = Served()
    started: list[tuple[float, str]] = []
    holder = {}

    @Request.application
    def app(request):
        started.append((time.monotonic(), request.path))
        if delay_s:
            time.sleep(delay_s)
        if request.path == "/api/version":
            return Response('{"version": "0.32.15"}', mimetype="application/json")
        base = holder["base"]
        url = base + request.full_path.rstrip("?")
        status, headers, body = respond(url, dict(request.headers), served, base, base)
        return Response(body, status=status, headers=headers)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.served, server.started = served, started  # type: ignore[attr-defined]
    holder["base"] = f"http://127.0.0.1:{server.server_port}"
    # shutdown() waits for the loop to look: every 50 ms, not the default 0.5 s
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return holder["base"], server


if __name__ == "__main__":
    write_fixture_pages()


def http_server(host: str = "127.0.0.1", threaded: bool = False):
    """A started pytest-httpserver server whose stop() takes ~50 ms: the server thread checks
    for it every 50 ms instead of werkzeug's 0.5 s (`thread_target` is its documented hook).
    Unthreaded, stop() also waits for the response being sent to end."""
    from pytest_httpserver import HTTPServer

    class QuickStop(HTTPServer):
        def thread_target(self) -> None:
            assert self.server is not None
            self.server.serve_forever(poll_interval=0.05)

    server = QuickStop(host=host, port=0, threaded=threaded)
    server.start()
    return server


def python_with_sigint() -> list[str]:
    """The start of a command line that runs this Python with SIGINT at its default: an ignored
    SIGINT is inherited through exec (a background job of a script, nohup), and Python then sets
    up no KeyboardInterrupt, so a test's Ctrl-C would go unheard. Follow it with `-m ...`."""
    import sys

    return [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, "
            "signal.SIG_DFL); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"]


def silent_server():
    """A loopback port that accepts connections and never answers: (listening socket, the
    accepted connections so far). Close the socket, then the connections, when done."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list = []

    def accept() -> None:
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    return srv, held


def hammer_cache(cache_dir: str, n: int, tag: int) -> None:
    """Write one cache entry `n` times, as a process of its own does (test_hardening starts two).
    It lives here, not in the test module: a spawned process imports the module of its target,
    and this one is light (the test module imports hypothesis and builds a header, ~0.7 s)."""
    import os
    import time

    os.environ["QUANTPICK_CACHE_DIR"] = cache_dir
    from ollama_quantpick import http

    for i in range(n):
        http.write_cache("shared-key", {"fetched_at": time.time(), "text": f"{tag}-{i}" * 500,
                                        "status": 200})


def run_cli(env: dict[str, str], args: list[str]) -> None:
    """`quantpick ARGS` in this process with `env` added: a target for a process started by
    multiprocessing, which exits with the command's exit code."""
    import os
    import sys

    os.environ.update(env)
    sys.argv = ["quantpick", *args]
    from ollama_quantpick.cli import main

    main()

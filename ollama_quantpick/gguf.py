"""Read the metadata and tensor table at the start of a GGUF file, defensively.

Layout (GGUF v2/v3, little-endian): magic `GGUF`, uint32 version, uint64 tensor_count,
uint64 kv_count, kv_count × (string key, uint32 type, value), then tensor_count × (string name,
uint32 n_dims, n_dims × uint64 shape, uint32 ggml type, uint64 offset). See
ggml-org/ggml docs/gguf.md. The reader never keeps the vocabulary's strings, only its length, and
stops at the end of the tensor table. A header that is cut short raises `NeedMore` (the caller
fetches a longer range); a lying or hostile one raises `GGUFError` — never a hang or a huge
allocation, since every count is checked against `MAX_HEADER` before anything is read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ollama_quantpick.errors import QuantpickError

MAX_HEADER = 64 * 2**20  # the largest real headers (256k-token vocabularies) are ~10 MiB
MAX_STRING = 16 * 2**20
MAX_COUNT = 2**24

# ggml type id → (elements per block, bytes per block), from ggml/src/ggml-common.h
# (ggml-org/llama.cpp; block structs with static_assert sizes) and the ggml_type enum in ggml.h.
# Intermediate types that never appear in files (q8_1) are left out.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34),
    10: ("q2_K", 256, 84), 11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144), 13: ("q5_K", 256, 176),
    14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292), 16: ("iq2_xxs", 256, 66),
    17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98), 19: ("iq1_s", 256, 50),
    20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110), 22: ("iq2_s", 256, 82),
    23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2), 26: ("i32", 1, 4),
    27: ("i64", 1, 8), 28: ("f64", 1, 8), 29: ("iq1_m", 256, 56), 30: ("bf16", 1, 2),
    34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17),
}

# general.file_type (llama_ftype in llama.cpp's include/llama.h) → Ollama's quant spelling.
FILE_TYPES = {
    0: "fp32", 1: "fp16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_K",
    11: "q3_K_S", 12: "q3_K_M", 13: "q3_K_L", 14: "q4_K_S", 15: "q4_K_M", 16: "q5_K_S",
    17: "q5_K_M", 18: "q6_K", 19: "iq2_xxs", 20: "iq2_xs", 21: "q2_K_S", 22: "iq3_xs",
    23: "iq3_xxs", 24: "iq1_s", 25: "iq4_nl", 26: "iq3_s", 27: "iq3_m", 28: "iq2_s", 29: "iq2_m",
    30: "iq4_xs", 31: "iq1_m", 32: "bf16", 36: "tq1_0", 37: "tq2_0", 38: "mxfp4",
}

# value type id → struct format for scalars
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# Arrays whose values we keep (small numeric per-layer arrays); the rest are only skipped.
_KEEP_ARRAY_SUFFIXES = (".attention.head_count", ".attention.head_count_kv",
                        ".attention.sliding_window_pattern", ".attention.cross_attention_layers")


class GGUFError(QuantpickError):
    """The bytes are not a GGUF header quantpick can trust."""


class NeedMore(Exception):  # noqa: N818 - a signal, not an error
    """The buffer ends inside the header; `needed` is a lower bound of the bytes required."""

    def __init__(self, needed: int):
        super().__init__(needed)
        self.needed = needed


@dataclass
class GGUFInfo:
    """What the estimator needs from a GGUF header."""

    architecture: str
    block_count: int
    context_length: int | None
    embedding_length: int
    head_count: int
    head_count_kv: list[int]  # per layer (a scalar in the file is repeated)
    key_length: int
    value_length: int
    vocab_size: int
    file_type: str | None = None
    expert_count: int = 0
    expert_used_count: int = 0
    sliding_window: int = 0
    pooling: bool = False  # embedding models carry `<arch>.pooling_type`
    layer_bytes: list[int] = field(default_factory=list)  # bytes of each blk.N's tensors
    output_bytes: int = 0  # output_norm + (output, else token_embd): Ollama's "output layer"
    expert_bytes: int = 0  # MoE expert tensors (ffn_*_exps), all layers
    gate_exps_bytes: int = 0  # blk.0.ffn_gate_exps: Ollama sizes the Mixtral graph from it
    feed_forward_length: int = 0
    tensor_bytes: int = 0  # every tensor
    header_bytes: int = 0  # how much of the file the header took

    @property
    def head_count_kv_max(self) -> int:
        return max(self.head_count_kv, default=0)


class _Reader:
    def __init__(self, data: bytes | memoryview):
        self.data = memoryview(data)
        self.pos = 0

    def need(self, n: int) -> None:
        end = self.pos + n
        if end > MAX_HEADER:
            raise GGUFError(f"GGUF header claims more than {MAX_HEADER // 2**20} MiB; not trusted")
        if end > len(self.data):
            raise NeedMore(end)

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        self.need(size)
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return value

    def string(self, keep: bool = True) -> str | None:
        n = self.unpack("<Q")
        if n > MAX_STRING:
            raise GGUFError(f"GGUF string of {n} bytes; not trusted")
        self.need(n)
        raw = self.data[self.pos:self.pos + n] if keep else None
        self.pos += n
        return bytes(raw).decode("utf-8", errors="replace") if keep else None

    def value(self, vtype: int, keep: bool):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            etype = self.unpack("<I")
            count = self.unpack("<Q")
            if count > MAX_HEADER:
                raise GGUFError(f"GGUF array of {count} elements; not trusted")
            if etype in _SCALARS:
                size = struct.calcsize(_SCALARS[etype])
                self.need(size * count)  # fails fast on lying counts, before any allocation
                if keep:
                    out = list(struct.unpack_from(f"<{count}{_SCALARS[etype][1]}", self.data,
                                                  self.pos))
                    self.pos += size * count
                    return out
                self.pos += size * count
                return count
            if etype == _STRING:
                for _ in range(count):
                    self.string(keep=False)
                return count
            raise GGUFError(f"GGUF array of unsupported type {etype}")
        raise GGUFError(f"GGUF value of unknown type {vtype}")


def tensor_bytes(ggml_type: int, shape: list[int]) -> int:
    if ggml_type not in GGML_TYPES:
        raise GGUFError(f"GGUF tensor of unknown type {ggml_type}")
    _, block, size = GGML_TYPES[ggml_type]
    elements = 1
    for d in shape:
        elements *= d
    return elements // block * size


def parse_header(data: bytes | memoryview) -> GGUFInfo:
    """Parse a GGUF prefix. NeedMore when `data` is too short, GGUFError when it is not sane."""
    r = _Reader(data)
    if len(data) >= 4 and bytes(r.data[:4]) != b"GGUF":
        raise GGUFError("not a GGUF file (bad magic)")
    r.need(24)
    r.pos = 4
    version = r.unpack("<I")
    if version not in (2, 3):
        raise GGUFError(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
    if n_tensors > MAX_COUNT or n_kv > MAX_COUNT:
        raise GGUFError(f"GGUF header claims {n_tensors} tensors and {n_kv} keys; not trusted")
    kv: dict[str, object] = {}
    for _ in range(n_kv):
        key = r.string() or ""
        vtype = r.unpack("<I")
        keep = vtype != _ARRAY or key.endswith(_KEEP_ARRAY_SUFFIXES)
        kv[key] = r.value(vtype, keep)
    tensors = []
    for _ in range(n_tensors):
        name = r.string() or ""
        n_dims = r.unpack("<I")
        if n_dims > 8:
            raise GGUFError(f"GGUF tensor {name!r} has {n_dims} dimensions; not trusted")
        shape = [r.unpack("<Q") for _ in range(n_dims)]
        ttype = r.unpack("<I")
        r.unpack("<Q")  # offset
        tensors.append((name, tensor_bytes(ttype, shape)))
    return _info(kv, tensors, r.pos)


def _as_int(value, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


def _info(kv: dict[str, object], tensors: list[tuple[str, int]], size: int) -> GGUFInfo:
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise GGUFError("GGUF header has no general.architecture")

    def get(name: str, default=0):
        return kv.get(f"{arch}.{name}", default)

    blocks = _as_int(get("block_count"))
    if not 0 < blocks <= 4096:
        raise GGUFError(f"GGUF {arch}.block_count is {blocks}; not trusted")
    embedding = _as_int(get("embedding_length"))
    heads_raw = get("attention.head_count")
    heads = max(heads_raw) if isinstance(heads_raw, list) and heads_raw else _as_int(heads_raw)
    kv_raw = get("attention.head_count_kv", heads_raw)
    if isinstance(kv_raw, list):
        kv_heads = [_as_int(x) for x in kv_raw][:blocks] + [0] * max(0, blocks - len(kv_raw))
    else:
        kv_heads = [_as_int(kv_raw, heads)] * blocks
    head_dim = embedding // heads if heads else 0
    vocab = kv.get("tokenizer.ggml.tokens", 0)
    layer_bytes = [0] * blocks
    output = expert = total = gate0 = 0
    has_output = any(name == "output.weight" for name, _ in tensors)
    for name, nbytes in tensors:
        total += nbytes
        if name.startswith("blk."):
            idx = name.split(".", 2)[1]
            if idx.isdigit() and int(idx) < blocks:
                layer_bytes[int(idx)] += nbytes
            if "_exps" in name:
                expert += nbytes
            if name == "blk.0.ffn_gate_exps.weight":
                gate0 = nbytes
        elif name.startswith("output_norm") or name.startswith("output.") or (
            not has_output and name.startswith("token_embd.")
        ):
            output += nbytes
    file_type = kv.get("general.file_type")
    return GGUFInfo(
        architecture=arch,
        block_count=blocks,
        context_length=_as_int(get("context_length")) or None,
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=kv_heads,
        key_length=_as_int(get("attention.key_length")) or head_dim,
        value_length=_as_int(get("attention.value_length")) or head_dim,
        vocab_size=_as_int(vocab),
        file_type=FILE_TYPES.get(_as_int(file_type, -1)) if file_type is not None else None,
        expert_count=_as_int(get("expert_count")),
        expert_used_count=_as_int(get("expert_used_count")),
        sliding_window=_as_int(get("attention.sliding_window")),
        pooling=f"{arch}.pooling_type" in kv,
        layer_bytes=layer_bytes,
        output_bytes=output,
        expert_bytes=expert,
        gate_exps_bytes=gate0,
        feed_forward_length=_as_int(get("feed_forward_length")),
        tensor_bytes=total,
        header_bytes=size,
    )

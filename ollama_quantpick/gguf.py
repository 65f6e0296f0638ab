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

import math
import re
import struct
from dataclasses import dataclass, field

from ollama_quantpick.errors import QuantpickError

MAX_HEADER = 64 * 2**20  # the largest real headers (256k-token vocabularies) are ~10 MiB
MAX_STRING = 16 * 2**20
# Real headers hold ~30-100 keys and up to a few thousand tensors (an MoE with unmerged experts:
# tens of thousands). Counts far beyond are hostile and are refused before anything is read:
# parsing millions of entries would cost seconds and hundreds of MB for nothing.
MAX_KV = 2**16
MAX_TENSORS = 2**18
# ggml counts elements in int64 (ggml.h `int64_t ne[GGML_MAX_DIMS]`), and llama.cpp's gguf.cpp
# refuses a tensor whose element count overflows INT64_MAX; quantpick refuses the same.
MAX_ELEMENTS = 2**63 - 1

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
    # 31-33: the ARM repacks of q4_0 (same 18-byte blocks, interleaved); ggml.h now says "support
    # has been removed from gguf files", but old Hub files still carry them.
    31: ("q4_0_4_4", 32, 18), 32: ("q4_0_4_8", 32, 18), 33: ("q4_0_8_8", 32, 18),
    34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17),
}

# general.file_type (llama_ftype in llama.cpp's include/llama.h) → Ollama's quant spelling.
FILE_TYPES = {
    0: "fp32", 1: "fp16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_K",
    11: "q3_K_S", 12: "q3_K_M", 13: "q3_K_L", 14: "q4_K_S", 15: "q4_K_M", 16: "q5_K_S",
    17: "q5_K_M", 18: "q6_K", 19: "iq2_xxs", 20: "iq2_xs", 21: "q2_K_S", 22: "iq3_xs",
    23: "iq3_xxs", 24: "iq1_s", 25: "iq4_nl", 26: "iq3_s", 27: "iq3_m", 28: "iq2_s", 29: "iq2_m",
    30: "iq4_xs", 31: "iq1_m", 32: "bf16", 33: "q4_0_4_4", 34: "q4_0_4_8", 35: "q4_0_8_8",
    36: "tq1_0", 37: "tq2_0", 38: "mxfp4",
}

# value type id → struct format for scalars
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# Arrays whose values we keep (small numeric per-layer arrays); the rest are only skipped.
_KEEP_ARRAY_SUFFIXES = (".attention.head_count", ".attention.head_count_kv", ".feed_forward_length",
                        ".attention.sliding_window_pattern", ".attention.cross_attention_layers")


EXPERT_FF_FROM_SHAPE = "quantpick.expert_ff_from_shape"  # not a GGUF key: read off a tensor
# Routed expert tensors, the set llama.cpp's fit and --n-cpu-moe move to the CPU
# (LLM_FFN_EXPS_REGEX in common/arg.cpp); shared experts (`_shexp`) and the router stay.
_ROUTED_EXPERTS = re.compile(r"\.ffn_(up|down|gate_up|gate)_(ch|)exps")
# Older MoE files (Mixtral 8x7b) hold one tensor per expert, blk.N.ffn_gate.E.weight: Ollama's
# GraphSize (fs/ggml/ggml.go) has a branch for them and llama.cpp's loader merges them into
# ffn_*_exps, so they are routed experts when the header has an expert count. ASCII digits:
# `\d` would match any Unicode digit.
_SPLIT_EXPERTS = re.compile(r"\.ffn_(gate|up|down)\.[0-9]+\.weight$")


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
    # For llama-server's fit (v0.30+), which moves routed experts tensor by tensor:
    layer_expert_bytes: list[int] = field(default_factory=list)  # routed experts of each blk.N
    token_embd_bytes: int = 0  # stays on the CPU in every Ollama release
    output_tied: bool = False  # no output.weight: the output layer uses a copy of token_embd
    max_tensor_bytes: int = 0  # the largest blk tensor: a CPU layer's copy in the compute buffer
    expert_feed_forward_length: int = 0
    sliding_window_pattern: list[int] = field(default_factory=list)  # per layer, 1 = local
    cross_attention_layers: list[int] = field(default_factory=list)  # mllama
    key_length_mla: int = 0  # MLA GGUFs (deepseek2, glm4moelite): the cache holds one latent
    kv_lora_rank: int = 0
    ssm_conv_kernel: int = 0  # recurrent/hybrid layers (mamba2, qwen3next, nemotron_h)
    ssm_inner_size: int = 0
    ssm_state_size: int = 0
    ssm_group_count: int = 0
    full_attention_interval: int = 0  # qwen3next: every n-th layer is attention
    param_count: int = 0  # elements of every tensor: the parameter count
    expert_params: int = 0  # elements of the MoE expert tensors (ffn_*_exps)
    type_bytes: dict[str, int] = field(default_factory=dict)  # bytes per ggml tensor type
    imatrix: bool = False  # quantized with an importance matrix (`quantize.imatrix.*` keys)
    split_count: int = 0  # `split.count`: the file is part 1 of a split GGUF
    # ne1 of blk.0.ffn_gate.0.weight, an old Mixtral's per-expert gate: GraphSize's 8x7b line
    split_gate_ff: int = 0

    @property
    def mix(self) -> str:
        """The tensor types by share of the bytes, e.g. `iq2_xs 86%, q4_K 7%, q5_K 4%`."""
        total = sum(self.type_bytes.values()) or 1
        parts = sorted(self.type_bytes.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{t} {b * 100 / total:.0f}%" for t, b in parts if b * 100 / total >= 1)

    @property
    def head_count_kv_max(self) -> int:
        return max(self.head_count_kv, default=0)


_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


class _Reader:
    """A cursor over the parser's buffer; `base` is the file offset of the buffer's first byte,
    so the size limits hold for the whole header, not for one piece of it."""

    def __init__(self, data: bytes | bytearray | memoryview, base: int = 0):
        self.data = memoryview(data)
        self.base = base
        self.pos = 0
        self.mark = 0  # end of the last whole item: where the next piece resumes

    def need(self, n: int) -> None:
        end = self.pos + n
        if self.base + end > MAX_HEADER:
            raise GGUFError(f"GGUF header claims more than {MAX_HEADER // 2**20} MiB; not trusted")
        if end > len(self.data):
            raise NeedMore(self.base + end)

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
        return None if raw is None else bytes(raw).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        raise GGUFError(f"GGUF value of unknown type {vtype}")


class HeaderParser:
    """A GGUF header parsed from pieces as they arrive (HTTP Range steps), each byte once.

    `feed()` parses as far as the bytes go and keeps only what it has not yet consumed; the next
    `feed()` resumes at the first unfinished item (a key, one element of an array, a tensor), so
    growing the range never re-parses the prefix, and memory stays at one piece plus what the
    header keeps (counts, small arrays, names and sizes of tensors). `needed` is then a lower
    bound of the file offset to fetch up to; `info` is set once the tensor table is read.
    """

    def __init__(self) -> None:
        self.kv: dict[str, object] = {}
        self.tensors: list[tuple[str, int, str, int]] = []  # name, bytes, type, elements
        self.info: GGUFInfo | None = None
        self.needed = 24
        self.restarts = 0  # items begun in one piece and finished in the next (for the bench)
        self._buf = bytearray()
        self._base = 0  # file offset of _buf[0]
        self._n_kv = self._n_tensors = -1
        self._array: list | None = None  # [key, element type, remaining, kept values or None]

    @property
    def consumed(self) -> int:
        """File offset up to which the header is parsed."""
        return self._base

    def feed(self, data: bytes | bytearray | memoryview) -> GGUFInfo | None:
        """Parse what `data` adds; the GGUFInfo once the header is complete, else None.
        GGUFError when the bytes are not a header quantpick can trust."""
        if self.info is not None:
            return self.info
        self._buf += data
        r = _Reader(self._buf, self._base)
        try:
            mark = self._run(r)
        except NeedMore as more:
            mark = r.mark
            self.needed = more.needed
            if mark < r.pos:
                self.restarts += 1
        finally:
            r.data.release()  # the buffer cannot shrink while a view of it exists
        del self._buf[:mark]  # what is parsed is never kept or read again
        self._base += mark
        return self.info

    def _run(self, r: _Reader) -> int:
        """Parse from the buffer's start; returns the offset in it of the end of the last whole
        item. Sets r.mark at each item's end so NeedMore resumes there."""
        if self._n_kv < 0:
            if len(r.data) >= 4 and bytes(r.data[:4]) != b"GGUF":
                raise GGUFError("not a GGUF file (bad magic)")
            r.need(24)
            r.pos = 4
            version = r.unpack("<I")
            if version not in (2, 3):
                raise GGUFError(f"GGUF version {version} is not supported (2 and 3 are)")
            n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
            if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
                raise GGUFError(f"GGUF header claims {n_tensors} tensors and {n_kv} keys; "
                                "not trusted")
            self._n_tensors, self._n_kv = n_tensors, n_kv
            r.mark = r.pos
        kv = self.kv
        while len(kv) < self._n_kv or self._array is not None:
            if self._array is None:
                key = r.string() or ""
                if key in kv:
                    raise GGUFError(f"GGUF key {key!r} appears twice; not trusted")
                vtype = r.unpack("<I")
                if vtype != _ARRAY:
                    kv[key] = r.value(vtype, keep=True)
                    r.mark = r.pos
                    continue
                etype, count = r.unpack("<I"), r.unpack("<Q")
                if count > MAX_HEADER:
                    raise GGUFError(f"GGUF array of {count} elements; not trusted")
                if etype not in _SCALARS and etype != _STRING:
                    raise GGUFError(f"GGUF array of unsupported type {etype}")
                keep = key.endswith(_KEEP_ARRAY_SUFFIXES) and etype in _SCALARS
                if etype in _SCALARS:
                    # fails fast on lying counts, before any allocation or download
                    size = struct.calcsize(_SCALARS[etype])
                    if r.base + r.pos + size * count > MAX_HEADER:
                        raise GGUFError(f"GGUF array of {count} elements; not trusted")
                self._array = [key, etype, count, [] if keep else None, count]
                r.mark = r.pos
            wanted = self._array_elements(r)
            key, _, left, kept, total = self._array
            if left:
                raise NeedMore(r.base + wanted)
            kv[key] = kept if kept is not None else total  # unkept arrays: only their length
            self._array = None
            r.mark = r.pos
        while len(self.tensors) < self._n_tensors:
            name = r.string() or ""
            n_dims = r.unpack("<I")
            if n_dims > 8:
                raise GGUFError(f"GGUF tensor {name!r} has {n_dims} dimensions; not trusted")
            r.need(8 * n_dims + 12)
            shape = list(struct.unpack_from(f"<{n_dims}Q", r.data, r.pos))
            r.pos += 8 * n_dims
            ttype = r.unpack("<I")
            r.pos += 8  # offset
            self.tensors.append((name, tensor_bytes(ttype, shape), GGML_TYPES[ttype][0],
                                 math.prod(shape)))
            if name.endswith("ffn_gate_exps.weight") and n_dims >= 2:
                # the experts' width (older GGUFs lack expert_feed_forward_length)
                self.kv.setdefault(EXPERT_FF_FROM_SHAPE, shape[1])
            r.mark = r.pos
        self.info = _info(self.kv, self.tensors, r.base + r.pos)
        return r.pos

    def _array_elements(self, r: _Reader) -> int:
        """Consume as many elements of the open array as the buffer holds (a tight loop: a
        vocabulary is 256k strings, a hostile array millions). Returns the buffer offset the
        next element needs to reach."""
        _, etype, left, kept, _ = self._array  # type: ignore[misc]
        data, pos, end = r.data, r.pos, len(r.data)
        if etype == _STRING:
            unpack = _U64.unpack_from
            wanted = pos + 8
            while left and pos + 8 <= end:
                n = unpack(data, pos)[0]
                if n > MAX_STRING:
                    raise GGUFError(f"GGUF string of {n} bytes; not trusted")
                if pos + 8 + n > end:
                    wanted = pos + 8 + n
                    break
                pos += 8 + n
                left -= 1
            else:
                wanted = pos + 8
        else:
            fmt = _SCALARS[etype]
            size = struct.calcsize(fmt)
            n = min(left, (end - pos) // size)
            if kept is not None:
                kept.extend(struct.unpack_from(f"<{n}{fmt[1]}", data, pos))
            pos += n * size
            left -= n
            wanted = pos + size
        if r.base + max(pos, wanted if left else pos) > MAX_HEADER:
            raise GGUFError(f"GGUF header claims more than {MAX_HEADER // 2**20} MiB; not trusted")
        r.pos = r.mark = pos
        self._array[2] = left  # type: ignore[index]
        return wanted


def tensor_bytes(ggml_type: int, shape: list[int]) -> int:
    if ggml_type not in GGML_TYPES:
        raise GGUFError(f"GGUF tensor of unknown type {ggml_type}")
    _, block, size = GGML_TYPES[ggml_type]
    elements = 1
    for d in shape:
        elements *= d
        if elements > MAX_ELEMENTS:
            raise GGUFError(f"GGUF tensor of shape {shape} overflows ggml's element count; "
                            "not trusted")
    return elements // block * size


def parse_header(data: bytes | bytearray | memoryview) -> GGUFInfo:
    """Parse a GGUF prefix. NeedMore when `data` is too short, GGUFError when it is not sane."""
    parser = HeaderParser()
    info = parser.feed(data)
    if info is None:
        raise NeedMore(parser.needed)
    return info


def _as_int(value, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return int(value)


def _info(kv: dict[str, object], tensors: list[tuple[str, int, str, int]], size: int) -> GGUFInfo:
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
    layer_expert = [0] * blocks
    output = expert = total = gate0 = embd = biggest = params = expert_params = split_ff = 0
    type_bytes: dict[str, int] = {}
    has_output = any(t[0] == "output.weight" for t in tensors)
    moe = _as_int(get("expert_count")) > 0
    for name, nbytes, tname, elements in tensors:
        total += nbytes
        params += elements
        type_bytes[tname] = type_bytes.get(tname, 0) + nbytes
        if name.startswith("blk."):
            idx = name.split(".", 2)[1]
            split = moe and _SPLIT_EXPERTS.search(name) is not None
            routed = split or _ROUTED_EXPERTS.search(name) is not None
            # ASCII only: '²'.isdigit() is true and int() refuses it; '١' would be a layer
            if idx.isascii() and idx.isdigit() and int(idx) < blocks:
                layer_bytes[int(idx)] += nbytes
                if routed:
                    layer_expert[int(idx)] += nbytes
            if split or "_exps" in name:
                expert += nbytes
                expert_params += elements
            if name == "blk.0.ffn_gate_exps.weight":
                gate0 = nbytes
            elif name == "blk.0.ffn_gate.0.weight" and embedding:
                split_ff = elements // embedding  # shape [n_embd, n_ff]
            biggest = max(biggest, nbytes)
        elif name.startswith("output_norm") or name.startswith("output.") or (
            not has_output and name.startswith("token_embd.")
        ):
            output += nbytes
        if name.startswith("token_embd."):
            embd += nbytes
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
        layer_expert_bytes=layer_expert,
        token_embd_bytes=embd,
        output_tied=not has_output,
        max_tensor_bytes=biggest,
        expert_feed_forward_length=_as_int(get("expert_feed_forward_length"))
        or _as_int(kv.get(EXPERT_FF_FROM_SHAPE)),
        sliding_window_pattern=_ints(get("attention.sliding_window_pattern", []), blocks),
        cross_attention_layers=_ints(get("attention.cross_attention_layers", []), None),
        key_length_mla=_as_int(get("attention.key_length_mla")),
        kv_lora_rank=_as_int(get("attention.kv_lora_rank")),
        ssm_conv_kernel=_as_int(get("ssm.conv_kernel")),
        ssm_inner_size=_as_int(get("ssm.inner_size")),
        ssm_state_size=_as_int(get("ssm.state_size")),
        ssm_group_count=_as_int(get("ssm.group_count")),
        full_attention_interval=_as_int(get("full_attention_interval")),
        param_count=params,
        expert_params=expert_params,
        type_bytes=type_bytes,
        # llama-quantize writes quantize.imatrix.file/dataset/entries_count/chunks_count
        # (ggml-org/llama.cpp src/llama-quant.cpp, LLM_KV_QUANTIZE_IMATRIX_*).
        imatrix=any(k.startswith("quantize.imatrix.") for k in kv),
        split_count=_as_int(kv.get("split.count")),
        split_gate_ff=split_ff,
    )


def _ints(value, limit: int | None) -> list[int]:
    """A small per-layer array of the header as ints (booleans as 0/1); [] when absent."""
    if not isinstance(value, list):
        return []
    return [_as_int(x, int(x) if isinstance(x, bool) else 0) for x in value[:limit]]

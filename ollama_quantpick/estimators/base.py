"""What every estimator shares: its inputs, its answer, and llama.cpp/ggml sizes. Pure.

Sources: ggml-common.h block sizes (q8_0 = 34 bytes per 32 elements, q4_0 = 18 per 32);
llama.cpp src/llama-kv-cache.cpp and src/llama-kv-cache-iswa.cpp (cells per layer);
src/llama-context.cpp `sched_reserve` and src/llama-graph.cpp (compute buffer). The evidence and
what stays uncertain is in docs/memory.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ollama_quantpick.budget import MiB
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.release import NEWEST_STABLE, Version

# ggml bytes per element of a KV cache type (ggml-common.h static_asserts: block_q8_0 is 34 bytes
# for 32 values, block_q4_0 18 bytes for 32). Legacy Ollama counted 1 and 0.5 (kvCacheBytesPerElement).
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
LEGACY_KV_BYTES = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}
# Ollama's per-GPU reserve: 457 MiB for CUDA/ROCm, 512 MiB for Metal (discover/gpu.go,
# discover/gpu_darwin.go; `minimum_memory=479199232` in ollama/ollama#10588 logs).
MINIMUM_MEMORY = {"cuda": 479199232, "rocm": 479199232, "metal": 512 * MiB}
NUM_BATCH = 512  # Ollama's default num_batch (api/types.go) and llama.cpp's n_ubatch (common.h)


def pad(n: int, to: int = 256) -> int:
    """Cell counts are padded to 256 (llama_context: n_ctx = GGML_PAD(n_ctx, 256))."""
    return -(-n // to) * to


def row_bytes(type_name: str, elements: int) -> int:
    """ggml_row_size: whole blocks of the type."""
    per = KV_BYTES[type_name]
    return int(elements * per) if type_name == "f16" else -(-elements // 32) * int(per * 32)


@dataclass(frozen=True)
class Model:
    """One model artifact as the estimators see it."""

    arch: GGUFInfo
    model_bytes: int  # the GGUF blob
    projector_bytes: int = 0  # a separate vision projector blob
    source: str = "header"  # header | scaled (a sibling quant's) | fallback


@dataclass(frozen=True)
class Run:
    """How the release will run it: the settings that change the memory."""

    ctx: int  # num_ctx per sequence
    parallel: int = 1
    kv_cache: str = "f16"  # already resolved for the release (release.kv_type)
    flash: bool = True  # flash attention as the release resolves it
    version: Version = NEWEST_STABLE
    fit_target: int | None = None  # LLAMA_ARG_FIT_TARGET in bytes (None: llama.cpp's 1024 MiB)
    batch: int | None = None  # num_batch when the user set it; None: the release's own choice
    spread: bool = False  # OLLAMA_SCHED_SPREAD: use every GPU, not the fewest


@dataclass
class Device:
    """What one GPU holds: its llama.cpp name, bytes and layers."""

    name: str
    bytes: int
    layers: int

    def to_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "layers": self.layers}


@dataclass
class Estimate:
    """How the release runs one artifact on a budget: memory, placement, speed."""

    ctx: int
    kv_cache: str
    weights_bytes: int
    kv_bytes: int
    graph_bytes: int  # compute graph, summed over the devices that hold one
    overhead_bytes: int  # reserves kept free and buffer layers, summed over GPUs
    total_bytes: int
    layers: int
    gpu_layers: int
    placement: str  # gpu | split | cpu | no
    vram_bytes: int  # what the release allocates (or keeps) on the GPUs
    ram_bytes: int  # what would sit in system RAM
    tokens_per_s: float | None
    source: str  # header | fallback
    short_bytes: int = 0  # for placement "no": how much memory is missing
    # With the GPU's bandwidth unknown, the CPU part alone still bounds the speed from above.
    tokens_per_s_max: float | None = None
    estimator: str = "legacy"  # legacy | layout | fit
    ollama_version: str | None = None
    need_bytes: int = 0  # what the model really needs on the GPU to run whole (llama.cpp's sizes)
    moe_cpu_layers: int = 0  # GPU layers whose routed experts sit on the CPU
    devices: list[Device] = field(default_factory=list)
    parallel: int = 1
    flash: bool | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out = asdict(self)
        for key in ("tokens_per_s", "tokens_per_s_max"):
            out[key] = None if out[key] is None else round(out[key], 1)
        return out

    @property
    def speed_cap(self) -> float | None:
        """The speed figure to hold against a minimum: exact when known, else the upper bound."""
        return self.tokens_per_s if self.tokens_per_s is not None else self.tokens_per_s_max

    @property
    def fit_label(self) -> str:
        if self.placement != "split":
            return self.placement
        label = f"split {self.gpu_layers}/{self.layers}"
        return label + (f", {self.moe_cpu_layers} MoE on CPU" if self.moe_cpu_layers else "")


def device_names(budget, count: int) -> list[str]:
    """CUDA0, ROCm0, MTL0 … as llama.cpp and Ollama's logs name the devices."""
    prefix = {"cuda": "CUDA", "rocm": "ROCm", "metal": "MTL"}.get(budget.backend, "GPU")
    return [f"{prefix}{i}" for i in range(count)]


def active_bytes(arch: GGUFInfo, weights: int) -> int:
    """Weights read per generated token: all of them, except that an MoE reads only the experts
    its router uses."""
    if arch.expert_count and arch.expert_used_count and arch.expert_bytes:
        return weights - arch.expert_bytes + arch.expert_bytes * arch.expert_used_count \
            // arch.expert_count
    return weights


def layer_experts(arch: GGUFInfo) -> list[int]:
    """Routed-expert bytes per layer; headers cached before this was read get an even share."""
    if len(arch.layer_expert_bytes) == arch.block_count:
        return list(arch.layer_expert_bytes)
    return [arch.expert_bytes // max(1, arch.block_count)] * arch.block_count


def swa_layers(arch: GGUFInfo) -> list[bool]:
    """Which layers attend through a sliding window (llama.cpp `set_swa_pattern`: gemma3 five
    of six, gpt-oss and gemma2 every other, cohere2 three of four; or the header's own pattern)."""
    n = arch.block_count
    if not arch.sliding_window:
        return [False] * n
    if len(arch.sliding_window_pattern) == n:
        return [bool(x) for x in arch.sliding_window_pattern]
    period = {"gemma3": 6, "gemma3n": 5, "gptoss": 2, "gpt-oss": 2, "gemma2": 2,
              "cohere2": 4, "llama4": 4}.get(arch.architecture)
    if period is None:
        return [True] * n  # a window on every layer (mistral-style)
    return [i % period < period - 1 for i in range(n)]


def recurrent_layers(arch: GGUFInfo) -> list[bool]:
    """Layers with a recurrent state instead of a KV cache (hybrids: qwen3next keeps every n-th
    layer as attention; nemotron_h/mamba mark theirs with 0 KV heads)."""
    n = arch.block_count
    if not (arch.ssm_state_size or arch.ssm_inner_size):
        return [False] * n
    if arch.full_attention_interval:
        k = arch.full_attention_interval
        return [(i + 1) % k != 0 for i in range(n)]
    return [h == 0 for h in arch.head_count_kv]


def recurrent_state_bytes(arch: GGUFInfo, parallel: int) -> int:
    """One recurrent layer's f32 state for all sequences: 4·(n_embd_r + n_embd_s) per sequence,
    n_embd_r = (d_conv−1)·(d_inner + 2·n_group·d_state), n_embd_s = d_state·d_inner
    (llama_hparams::n_embd_r/n_embd_s, mamba2 form)."""
    d_conv, d_inner = arch.ssm_conv_kernel, arch.ssm_inner_size
    d_state, groups = arch.ssm_state_size, max(1, arch.ssm_group_count)
    r = max(0, d_conv - 1) * (d_inner + 2 * groups * d_state)
    return 4 * (r + d_state * d_inner) * max(1, parallel)


def kv_cells(arch: GGUFInfo, ctx: int, parallel: int, ubatch: int) -> list[int]:
    """llama-server's KV cells per layer with `-c ctx·np -np np` (non-unified): full layers
    np·n_ctx_seq, SWA layers np·pad256(min(n_ctx_seq, n_swa + n_ubatch)); 0 for layers without
    a KV cache (recurrent)."""
    n_ctx_seq = pad(pad(ctx * parallel) // parallel)
    swa = swa_layers(arch)
    recurrent = recurrent_layers(arch)
    out = []
    for i in range(arch.block_count):
        if recurrent[i]:
            out.append(0)
        elif swa[i]:
            out.append(parallel * pad(min(n_ctx_seq, arch.sliding_window + ubatch)))
        else:
            out.append(parallel * n_ctx_seq)
    return out


def kv_row_bytes(arch: GGUFInfo, layer: int, kv_type: str) -> int:
    """Bytes of one cell of one layer: K and V rows of n_embd_gqa elements each. An MLA cache
    (GGUFs with key_length_mla) holds only the compressed latent K, no V."""
    hkv = arch.head_count_kv[layer] if layer < len(arch.head_count_kv) else 0
    if hkv <= 0 or arch.head_count <= 0:
        return 0
    if arch.key_length_mla:
        return row_bytes(kv_type, arch.key_length * hkv)
    return row_bytes(kv_type, arch.key_length * hkv) + row_bytes(kv_type, arch.value_length * hkv)


def kv_shape(arch: GGUFInfo) -> tuple:
    """Every header field the KV cache depends on (through kv_cells, swa_layers,
    recurrent_layers, recurrent_state_bytes and kv_row_bytes): the sibling quants of one model
    share it, so their KV is worked out once (kv_layers' memo)."""
    return (arch.architecture, arch.block_count, tuple(arch.head_count_kv), arch.head_count,
            arch.key_length, arch.value_length, arch.key_length_mla, arch.sliding_window,
            tuple(arch.sliding_window_pattern), arch.ssm_state_size, arch.ssm_inner_size,
            arch.ssm_conv_kernel, arch.ssm_group_count, arch.full_attention_interval)


# A pick estimates every tag at several contexts and cache types, twice (the release's placement
# and the real need): ~170 KV layouts, ~10 distinct. Bounded: cleared when it grows past 4096.
_KV_MEMO: dict[tuple, tuple[list[int], int]] = {}


def kv_layers(arch: GGUFInfo, ctx: int, parallel: int, kv_type: str, ubatch: int) -> list[int]:
    """KV (or recurrent state) bytes per layer as llama.cpp allocates them."""
    return list(_kv(arch, ctx, parallel, kv_type, ubatch)[0])


def swa_cells(arch: GGUFInfo, ctx: int, parallel: int, ubatch: int) -> int:
    """KV cells per sequence of a sliding-window layer (0 without one): the compute buffer's
    second mask."""
    return _kv(arch, ctx, parallel, "f16", ubatch)[1]


def _kv(arch: GGUFInfo, ctx: int, parallel: int, kv_type: str, ubatch: int) -> tuple[list[int], int]:
    key = (kv_shape(arch), ctx, parallel, kv_type, ubatch)
    hit = _KV_MEMO.get(key)
    if hit is None:
        if len(_KV_MEMO) >= 4096:
            _KV_MEMO.clear()
        swa = swa_layers(arch)
        cells = kv_cells(arch, ctx, parallel, ubatch)
        hit = _KV_MEMO[key] = (_kv_layers(arch, ctx, parallel, kv_type, ubatch),
                               cells[swa.index(True)] // parallel if any(swa) else 0)
    return hit


def _kv_layers(arch: GGUFInfo, ctx: int, parallel: int, kv_type: str, ubatch: int) -> list[int]:
    cells = kv_cells(arch, ctx, parallel, ubatch)
    rec = recurrent_layers(arch)
    state = recurrent_state_bytes(arch, parallel) if any(rec) else 0
    rows: dict[int, int] = {}  # a row's bytes depend on the layer only through its KV heads
    out = []
    for i in range(arch.block_count):
        if rec[i]:
            out.append(state)
            continue
        hkv = arch.head_count_kv[i] if i < len(arch.head_count_kv) else 0
        if hkv not in rows:
            rows[hkv] = kv_row_bytes(arch, i, kv_type)
        out.append(cells[i] * rows[hkv])
    return out


def compute_bytes(arch: GGUFInfo, n_ctx_seq: int, ubatch: int, n_outputs: int, flash: bool,
                  swa_cells: int = 0) -> int:
    """The compute buffer one device reserves for the prompt graph (`sched_reserve`).

    FITTED to llama-server's own `compute buffer size` lines (bench/calibrate.py over 8 real shapes ×
    ctx 2K/8K/32K × ub 512/1024/2048 × FA on/off × f16/q8_0 × np 1/2; llama.cpp 0c1e57098, CPU
    backend; raw lines in bench/calibration.json, table in bench/RESULTS.md). Per ubatch token, in
    f32 floats, with q = n_head·d_k:
    - the KQ mask(s), f16 with flash attention and f32 without: n_ctx_seq (+ SWA cells) entries;
    - the FFN phase: 3·F + 3·n_embd + q, F = n_ff (dense) or used experts × n_ff_exp (MoE), plus
      the down projection's output D (n_embd, or used × n_embd for MoE) when it is wider than the
      2·F that gate and up free (measured: qwen3-30b-a3b adds it, gpt-oss-20b does not);
    - without flash attention, the attention phase instead when larger: the n_head·n_ctx_seq
      scores plus q + n_head·d_v + 3·n_embd + n_head_kv·(d_k + d_v).
    The compute buffer does not grow with depth (measured at two depths per shape from 2 layers;
    a 1-layer file reserves less). Logits (4·n_vocab·n_outputs) matter only when the reserve
    outputs every token (v0.30.0). Not measured here: CUDA/Metal backends, MLA, recurrent layers."""
    el = 2 if flash else 4
    mask = (n_ctx_seq + swa_cells) * ubatch * el
    e = arch.embedding_length
    dk = arch.key_length or (e // max(1, arch.head_count))
    dv = arch.value_length or dk
    q = arch.head_count * dk
    if arch.expert_count and arch.expert_used_count:
        width = arch.expert_used_count * (arch.expert_feed_forward_length or arch.feed_forward_length)
        down = arch.expert_used_count * e
    else:
        width, down = arch.feed_forward_length, e
    ffn = 3 * width + 3 * e + q + (down if down > 2 * width else 0)
    layer = 4 * ubatch * ffn
    if not flash:
        att = q + arch.head_count * dv + 3 * e + arch.head_count_kv_max * (dk + dv)
        layer = max(layer, 4 * ubatch * att + 4 * arch.head_count * n_ctx_seq * ubatch)
    logits = 4 * arch.vocab_size * n_outputs + 4 * ubatch * e
    return mask + max(logits, layer)


def fill_top_down(caps: list[int], costs: list[int], output: int) -> tuple[list[int], bool]:
    """Whole layers, from the output end down, onto devices in the order given (each takes what
    fits in its `caps` entry); the output layer goes first onto the first device. Returns the
    device index of every layer (-1: CPU) and whether the output layer is on a GPU. A layer
    that does not fit ends the filling: layers below it stay on the CPU (llama.cpp's
    n_gpu_layers counts from the output end)."""
    where = [-1] * len(costs)
    if not caps or output > caps[0]:
        return where, False
    left = list(caps)
    left[0] -= output
    d = 0
    for i in range(len(costs) - 1, -1, -1):
        while d < len(left) and costs[i] > left[d]:
            d += 1
        if d == len(left):
            break
        where[i] = d
        left[d] -= costs[i]
    return where, True

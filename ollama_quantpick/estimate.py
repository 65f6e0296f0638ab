"""Memory and speed of one model artifact on a budget, the way Ollama's scheduler sees it. Pure.

Follows ollama/ollama `fs/ggml/ggml.go` (`GraphSize`: KV cache and compute-graph sizes per
architecture) and `llm/memory.go` (`EstimateGPULayers`: dealing layers to GPUs), as summarised in
../shared/research/ollama-estimate.md. Numbers that are policy rather than Ollama's are marked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from ollama_quantpick.budget import Budget, GiB, MiB
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.quants import Quant, data
from ollama_quantpick.speed import bytes_per_token, tokens_per_s

# CUDA's per-GPU minimum memory in Ollama: 457 MiB (`minimum_memory=479199232`, ollama/ollama#10588).
# Used for ROCm and Metal too (ASSUMPTION: same order of magnitude; Ollama keeps a per-library value).
GPU_MINIMUM = 479199232
NUM_BATCH = 512  # Ollama's default num_batch (api/types.go DefaultOptions)
# Ollama's engine turns flash attention on by default for these (fs/ggml/ggml.go FlashAttention()).
FLASH_DEFAULT = {"bert", "gemma3", "gptoss", "gpt-oss", "mistral3", "olmo3", "qwen3", "qwen3moe",
                 "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe", "qwen3next"}


@dataclass
class Estimate:
    ctx: int
    kv_cache: str
    weights_bytes: int
    kv_bytes: int
    graph_bytes: int
    overhead_bytes: int
    total_bytes: int
    layers: int
    gpu_layers: int
    placement: str  # gpu | split | cpu | no
    vram_bytes: int  # what Ollama would allocate on the GPUs
    ram_bytes: int  # what would sit in system RAM
    tokens_per_s: float | None
    source: str  # header | fallback
    short_bytes: int = 0  # for placement "no": how much memory is missing
    # With the GPU's bandwidth unknown, the CPU part alone still bounds the speed from above.
    tokens_per_s_max: float | None = None

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
        return f"split {self.gpu_layers}/{self.layers}" if self.placement == "split" else self.placement


def default_ctx(vram_bytes: int, model_ctx: int | None) -> int:
    """Ollama's default context: 4k below 24 GiB of VRAM, 32k below 48 GiB, else 256k
    (envconfig/config.go OLLAMA_CONTEXT_LENGTH help; docs.ollama.com/context-length), capped by
    the model's own context length."""
    ctx = 4096 if vram_bytes < 24 * GiB else 32768 if vram_bytes < 48 * GiB else 262144
    return min(ctx, model_ctx) if model_ctx else ctx


def supports_flash(arch: GGUFInfo) -> bool:
    """Quantized KV caches need flash attention (equal K/V head sizes, not embedding, not gemma2)."""
    if arch.pooling or arch.architecture == "gemma2":
        return False
    return arch.key_length == arch.value_length and arch.key_length > 0


def effective_kv_type(arch: GGUFInfo, kv_cache: str) -> str:
    """Ollama falls back to f16 when the model cannot use a quantized cache."""
    return kv_cache if kv_cache == "f16" or supports_flash(arch) else "f16"


def kv_per_layer(arch: GGUFInfo, ctx: int, kv_cache: str, parallel: int = 1) -> list[int]:
    """Bytes of KV cache per layer (GraphSize): ctx·(K+V head dims)·KV heads·bytes/element,
    sliding-window layers capped at their window."""
    bpe = data()["kv_cache"][kv_cache]["bytes_per_element"]
    context = ctx * parallel
    batch = min(ctx, NUM_BATCH)
    width = arch.key_length + arch.value_length
    out = []
    for i, hkv in enumerate(arch.head_count_kv):
        c = context
        if arch.architecture == "gemma3" and arch.sliding_window and (i + 1) % 6 != 0:
            c = parallel * arch.sliding_window + batch  # 5 of 6 gemma3 layers are local
        elif arch.architecture in ("gptoss", "gpt-oss") and i % 2 == 0:
            c = parallel * 4096 + batch  # even gpt-oss layers use a 4096-token window in Ollama
        out.append(int(c * width * hkv * bpe) if hkv > 0 and arch.head_count > 0 else 0)
    return out


# Architectures with their own line in GraphSize; the others get llm/memory.go's GQA × KV / 6.
GRAPH_FORMULA = {"llama", "llama4", "gemma", "gemma2", "gemma3", "gemma3n", "command-r", "qwen2",
                 "phi2", "stablelm", "deepseek2", "gptoss", "gpt-oss"}


def graph_size(arch: GGUFInfo, ctx: int, kv_total: int, parallel: int = 1) -> tuple[int, int]:
    """(partial_offload, full_offload) compute-graph bytes, per GraphSize's per-architecture lines."""
    c = ctx * parallel
    b = min(ctx, NUM_BATCH)
    e, v = arch.embedding_length, arch.vocab_size
    h, hkv = arch.head_count, arch.head_count_kv_max
    dh = e // h if h else 0
    dk = arch.key_length
    a = arch.architecture
    if a in ("llama", "llama4"):
        full = max(4 * b * (1 + 4 * e + c * (1 + h)), 4 * b * (e + v))
        partial = 4 * b * e + max(
            4 * b * (1 + e + max(c, e)) + e * e * 9 // 16 + 4 * c * (b * h + dh * hkv),
            4 * b * (e + v) + e * v * 105 // 128)
        if arch.gate_exps_bytes:  # Mixtral-style experts in one tensor: GraphSize's own line
            ff = arch.feed_forward_length
            partial = max(3 * arch.gate_exps_bytes + 4 * b * (2 * ff + hkv + e + c + dh * hkv),
                          4 * (c * b * h + c * dh * hkv + b * 1024 + dh * hkv * b))
    elif a in ("gemma", "gemma2", "gemma3", "gemma3n"):
        full = max(4 * b * (e + v), 4 * b * (2 + c + c * h + 2 * e + 2 * dk * h))
        partial = max(4 * e * b + e * v * 105 // 128 + 4 * v * b,
                      4 * b * (2 * e + 1 + 2 * dk * h + c + c * h) + 4 * dk * c * 8
                      + e * dk * h * 9 // 16)
        if a == "gemma3n":
            full, partial = full * 4, partial * 4
    elif a == "command-r":
        full = max(4 * b * (e + v), 4 * b * (2 + 4 * e + c * (1 + h)))
        partial = max(4 * b * (e + v) + e * v * 105 // 128,
                      4 * b * (1 + 2 * e + c * (1 + h)) + 4 * e * c + e * e * 9 // 16)
    elif a == "qwen2":
        full = max(4 * b * (e + v), 4 * b * (1 + 2 * e + c + c * h))
        partial = max(4 * b * (e + v) + e * v * 105 // 128,
                      4 * (b * (1 + 2 * e + c * (1 + h)) + e * (1 + c)))
    elif a == "phi2":
        full = max(4 * b * (e + v), 4 * b * (1 + 4 * e + c + c * h))
        partial = max(4 * b * (2 * e + v) + e * v * 105 // 128, 4 * b * (2 + 3 * e + c + c * h))
    elif a == "stablelm":
        full = 4 * b * (c * (1 + h) + 3 * e + 2)
        partial = max(4 * b * (v + 2 * e), full)
    elif a == "deepseek2":
        full = max(4 * b * (3 * e + v), 4 * b * (3 * e + 2 + c * (1 + hkv) + 2 * dk * hkv))
        partial = max(4 * b * (3 * e + v) + e * v * 105 // 128,
                      4 * b * (2 * e + 1 + 2 * dk * hkv + c + c * hkv) + 4 * dk * c * hkv
                      + e * dk * hkv * 9 // 16)
    elif a in ("gptoss", "gpt-oss"):
        # With flash attention (on by default for gpt-oss): (4·parallel + ctx/1024 + 110) MiB.
        partial = (4 * parallel + (c >> 10) + 110) * MiB
        full = 0
    else:
        partial = full = 0
    if partial == 0:  # llm/memory.go: unknown architectures get GQA × kv / 6
        gqa = h // max(1, min((x for x in arch.head_count_kv if x > 0), default=1))
        partial = gqa * kv_total // 6
    return partial, full or partial


def _deal_layers(gpu_free: list[int], layer_sizes: list[int], output: int, projector: int,
                 graph_partial: int, graph_full: int, minimum: int) -> tuple[int, list[int], bool]:
    """EstimateGPULayers: deal layers round-robin to GPUs with room; the output layer last.
    Returns (layers placed, bytes per GPU, fully loaded)."""
    graph = max(graph_partial, graph_full)
    n = len(layer_sizes)
    first = layer_sizes[0] if layer_sizes else 0
    allocations = [0] * len(gpu_free)
    with_space = []
    for i, free in enumerate(gpu_free):
        gzo = projector if not with_space else 0
        if free < gzo + graph + minimum + 2 * first:
            continue
        with_space.append(i)
        allocations[i] += minimum + first  # one layer's worth kept as a buffer
    if with_space:
        allocations[with_space[0]] += projector
    counts = [0] * len(gpu_free)

    def place(size: int, turn: int, drop_full: bool) -> int:
        """Put one layer on the next GPU with room (round-robin); 1 when placed."""
        for j in range(len(with_space), 0, -1):
            g = with_space[turn % j]
            if gpu_free[g] > allocations[g] + graph + size:
                allocations[g] += size
                counts[g] += 1
                return 1
            if drop_full:  # repeating layers give up on a full GPU; the output layer does not
                with_space.pop(turn % j)
        return 0

    placed = 0
    for i, size in enumerate(layer_sizes):
        placed += place(size, i, drop_full=True)
    full = placed >= n
    if output > 0:
        placed += place(output, placed, drop_full=False)
        full = placed >= n + 1
    multi = len(gpu_free) > 1
    for g, count in enumerate(counts):
        if count > 0:
            allocations[g] += graph_full if full and not multi else graph_partial
    return placed, allocations, full


def fallback_arch(params_b: float | None, model_bytes: int, ctx: int | None = None) -> GGUFInfo:
    """A clearly-marked guess when no GGUF header can be read: a llama-shaped model of that size
    (layers and width log-interpolated over Llama 3.2 1B/3B, 3.1 8B, Phi-4 14B, Qwen 32B,
    Llama 3.1 70B/405B; 8 KV heads of 128)."""
    shapes = [(1.2, 16, 2048), (3.2, 28, 3072), (8, 32, 4096), (14, 40, 5120), (32, 64, 5120),
              (70, 80, 8192), (405, 126, 16384)]
    p = params_b or max(0.1, model_bytes * 8 / 4.8 / 1e9)
    p = min(max(p, shapes[0][0]), shapes[-1][0])
    for (p0, l0, e0), (p1, l1, e1) in zip(shapes, shapes[1:]):
        if p0 <= p <= p1:
            t = math.log(p / p0) / math.log(p1 / p0)
            layers, emb = round(l0 + (l1 - l0) * t), int(e0 + (e1 - e0) * t) // 128 * 128
            break
    output = int(model_bytes * 0.05)
    per = (model_bytes - output) // layers
    return GGUFInfo("llama", layers, ctx, emb, emb // 128, [8] * layers, 128, 128, 128256,
                    layer_bytes=[per] * layers, output_bytes=output, tensor_bytes=model_bytes)


def scale_arch(arch: GGUFInfo, model_bytes: int) -> GGUFInfo:
    """A sibling quant of the same model: same shape, tensor bytes scaled to its blob size."""
    if not arch.tensor_bytes or model_bytes <= 0:
        return arch
    k = model_bytes / (arch.tensor_bytes + arch.header_bytes)
    return replace(arch, layer_bytes=[int(x * k) for x in arch.layer_bytes],
                   output_bytes=int(arch.output_bytes * k), expert_bytes=int(arch.expert_bytes * k),
                   tensor_bytes=int(arch.tensor_bytes * k))


def active_bytes(arch: GGUFInfo, weights: int) -> int:
    """Weights read per generated token: all of them, except that an MoE reads only the experts
    its router uses."""
    if arch.expert_count and arch.expert_used_count and arch.expert_bytes:
        return weights - arch.expert_bytes + arch.expert_bytes * arch.expert_used_count \
            // arch.expert_count
    return weights


def estimate(arch: GGUFInfo, quant: Quant, budget: Budget, *, model_bytes: int,
             projector_bytes: int = 0, ctx: int, kv_cache: str = "f16", parallel: int = 1,
             source: str = "header") -> Estimate:
    """Where Ollama would run this artifact on `budget`, and what it needs."""
    if projector_bytes:
        ctx = max(ctx, 2048)  # multimodal models need at least 2048 context (llm/memory.go)
    kv_type = effective_kv_type(arch, kv_cache)
    kv = kv_per_layer(arch, ctx, kv_type, parallel)
    kv_total = sum(kv)
    partial, full = graph_size(arch, ctx, kv_total, parallel)
    if budget.library == "metal":
        partial = full  # on metal there is no partial-offload graph overhead
    elif len(budget.gpu_free) > 1:
        full = partial  # several GPUs always use the partial graph figure
    layer_sizes = [b + k for b, k in zip(arch.layer_bytes, kv)]
    if sum(arch.layer_bytes) == 0:
        per = max(0, model_bytes - arch.output_bytes) // max(1, arch.block_count)
        layer_sizes = [per + k for k in kv]
    n_layers = arch.block_count + 1
    weights = model_bytes + projector_bytes
    gpu_layers, allocations, fully = (0, [], False)
    if budget.gpu_free and budget.library != "cpu":
        gpu_layers, allocations, fully = _deal_layers(
            budget.gpu_free, layer_sizes, arch.output_bytes, projector_bytes, partial, full,
            GPU_MINIMUM)
    vram = sum(allocations)
    on_gpu_weights = 0
    if gpu_layers:
        on_gpu_weights = projector_bytes + sum(arch.layer_bytes[:min(gpu_layers, arch.block_count)])
        if gpu_layers > arch.block_count:
            on_gpu_weights += arch.output_bytes
    if fully:
        placement, graph, overhead = "gpu", full, GPU_MINIMUM + (layer_sizes[0] if layer_sizes else 0)
        ram = 0
    elif gpu_layers:
        placement, graph, overhead = "split", partial, GPU_MINIMUM + layer_sizes[0]
        ram = max(0, weights + kv_total - (vram - graph - overhead))
    else:
        placement, graph, overhead = "cpu", 0, 0
        ram = weights + kv_total
    short = 0
    if placement != "gpu" and ram > budget.ram_bytes:
        short = ram - budget.ram_bytes
        placement = "no"
    share = 1.0 if placement == "gpu" else (
        min(1.0, on_gpu_weights / weights) if placement == "split" and weights else 0.0)
    per_token = bytes_per_token(active_bytes(arch, weights), kv_total)
    speed, bound = (None, None) if placement == "no" else tokens_per_s(
        per_token * share, per_token * (1 - share), quant, budget)
    return Estimate(ctx, kv_type, weights, kv_total, graph, overhead,
                    weights + kv_total + graph + overhead, n_layers, gpu_layers, placement,
                    vram, ram, speed, source, short, bound)

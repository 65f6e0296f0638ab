"""`legacy`: Ollama's own estimate up to v0.12.10 (and for llama-engine models to v0.24). Pure.

Mirrors ollama/ollama `fs/ggml/ggml.go` `GraphSize` (KV cache and compute graph per
architecture) and `llm/memory.go` `EstimateGPULayers` (dealing layers to GPUs), deleted in
v0.12.11 (f560bd077); the llama engine kept feeding `GraphSize` to the new layout until v0.24.
It predicts what that Ollama *decides*, including where its formulas are off (no flash
attention in the graph, q8_0/q4_0 KV at 1 and 0.5 bytes per element).
"""

from __future__ import annotations

from ollama_quantpick.budget import Budget, MiB
from ollama_quantpick.estimators.base import Device, Estimate, Model, Run, active_bytes, device_names
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.quants import Quant, data
from ollama_quantpick.speed import bytes_per_token, tokens_per_s

# CUDA's per-GPU minimum memory in Ollama: 457 MiB (`minimum_memory=479199232`, ollama/ollama#10588).
# Used for ROCm and Metal too (ASSUMPTION: same order of magnitude; Ollama keeps one per GPU backend).
GPU_MINIMUM = 479199232
NUM_BATCH = 512  # Ollama's default num_batch (api/types.go DefaultOptions)
# mllama cross-attention layers cache 1601 vision tokens × 4 tiles in f32 (GraphSize "mllama").
MLLAMA_VISION_CELLS = 1601 * 4


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
    for i in arch.cross_attention_layers:  # mllama: f32 K and V of the image tokens
        if 0 <= i < len(out):
            out[i] = arch.head_count_kv[i] * width * 4 * MLLAMA_VISION_CELLS
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
        elif arch.split_gate_ff:  # one tensor per expert (Mixtral 8x7b): its own line too
            f1 = arch.split_gate_ff
            full = 4 * b * (2 + 3 * e + c * (1 + h) + 2 * hkv + f1)
            partial = max(
                4 * b * (3 + dh * hkv + e + c * (1 + h) + f1) + (e * e + 3 * e * hkv * f1) * 9 // 16,
                4 * b * (1 + 2 * e + c * (1 + h)) + e * (6 * c * hkv // max(1, h) + e * 9 // 16))
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
                 graph_partial: int, graph_full: int, minimum: int
                 ) -> tuple[int, list[int], bool, list[int], int]:
    """EstimateGPULayers: deal layers round-robin to GPUs with room; the output layer last.
    Returns (layers placed, bytes per GPU, fully loaded, layers per GPU, GPUs with room)."""
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
    return placed, allocations, full, counts, len([a for a in allocations if a])


def estimate(model: Model, quant: Quant, budget: Budget, run: Run) -> Estimate:
    """Where a legacy Ollama would run this artifact on `budget`, and what it says it needs.
    Graph, minimum memory and the buffer layer are charged on every GPU that holds layers."""
    arch, model_bytes, projector_bytes = model.arch, model.model_bytes, model.projector_bytes
    ctx, kv_cache, parallel, source = run.ctx, run.kv_cache, run.parallel, model.source
    if projector_bytes:
        ctx = max(ctx, 2048)  # multimodal models need at least 2048 context (llm/memory.go)
    kv_type = effective_kv_type(arch, kv_cache)
    kv = kv_per_layer(arch, ctx, kv_type, parallel)
    kv_total = sum(kv)
    partial, full = graph_size(arch, ctx, kv_total, parallel)
    if budget.backend == "metal":
        partial = full  # on metal there is no partial-offload graph overhead
    elif len(budget.gpu_free) > 1:
        full = partial  # several GPUs always use the partial graph figure
    layer_sizes = [b + k for b, k in zip(arch.layer_bytes, kv)]
    if sum(arch.layer_bytes) == 0:
        per = max(0, model_bytes - arch.output_bytes) // max(1, arch.block_count)
        layer_sizes = [per + k for k in kv]
    n_layers = arch.block_count + 1
    weights = model_bytes + projector_bytes
    gpu_layers, allocations, fully, counts, n_room = (0, [], False, [], 0)
    if budget.gpu_free and budget.backend != "cpu":
        gpu_layers, allocations, fully, counts, n_room = _deal_layers(
            budget.gpu_free, layer_sizes, arch.output_bytes, projector_bytes, partial, full,
            GPU_MINIMUM)
    n_graph = sum(1 for c in counts if c > 0)
    vram = sum(allocations)
    # A token reads the layers and the output layer (README: active weights); the vision
    # projector and the token_embd lookup are left out, as fit and layout leave them out.
    layer_weights = [b - k for b, k in zip(layer_sizes, kv)]
    read = sum(layer_weights) + arch.output_bytes
    on_gpu_read = sum(layer_weights[:min(gpu_layers, arch.block_count)])
    if gpu_layers > arch.block_count:
        on_gpu_read += arch.output_bytes
    buffer = GPU_MINIMUM + (layer_sizes[0] if layer_sizes else 0)
    if fully:
        graph = full if len(budget.gpu_free) == 1 else partial * n_graph
        placement, overhead = "gpu", buffer * n_room
    elif gpu_layers:
        placement, graph, overhead = "split", partial * n_graph, buffer * n_room
    if gpu_layers:  # what is not in a GPU layer (token_embd at least) stays in RAM
        ram = max(0, weights + kv_total - (vram - graph - overhead))
    else:
        placement, graph, overhead = "cpu", 0, 0
        ram = weights + kv_total
    short = 0
    if placement != "gpu" and ram > budget.ram_bytes:
        short = ram - budget.ram_bytes
        placement = "no"
    share = 1.0 if placement == "gpu" else (
        min(1.0, on_gpu_read / read) if placement == "split" and read else 0.0)
    per_token = bytes_per_token(active_bytes(arch, read), kv_total)
    speed, bound = (None, None) if placement == "no" else tokens_per_s(
        per_token * share, per_token * (1 - share), quant, budget)
    names = device_names(budget, len(allocations))
    devices = [Device(names[g], allocations[g], counts[g]) for g in range(len(allocations))
               if allocations[g]]
    return Estimate(ctx, kv_type, weights, kv_total, graph, overhead,
                    weights + kv_total + graph + overhead, n_layers, gpu_layers, placement,
                    vram, ram, speed, source, short, bound, estimator="legacy",
                    devices=devices, parallel=parallel)

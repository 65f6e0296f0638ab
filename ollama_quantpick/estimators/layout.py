"""`layout`: Ollama v0.11.11–v0.24 on its own (Go) engine places *measured* sizes. Pure.

The runner builds the model and cache, reserves the worst-case graph and reports weights and
cache per layer and the graph per device (runner/ollamarunner `allocModel`); the server lays
layers out from the output layer down onto the GPUs with the most free memory, after taking
MinimumMemory (457 MiB, Metal 512 MiB) and the graph off each GPU (llm/server.go
`buildLayout`/`assignLayers`). token_embd stays on the CPU; the output layer carries the vision
tensors. KV cells follow kvcache/causal.go. Evidence in docs/memory.md.
"""

from __future__ import annotations

from ollama_quantpick.budget import Budget
from ollama_quantpick.estimators.base import (
    MINIMUM_MEMORY,
    Device,
    Estimate,
    Model,
    Run,
    compute_bytes,
    device_names,
    fill_top_down,
    kv_row_bytes,
    pad,
    recurrent_layers,
    recurrent_state_bytes,
    swa_layers,
)
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.quants import Quant
from ollama_quantpick.speed import bytes_per_token, tokens_per_s

# SWA caches built with NewSWAMemCache(window, 4096) use 4096 cells in place of the window;
# llama4 uses a chunked cache of 8192 (model/models/*).
SWA_MEMORY = {"gptoss": 4096, "gpt-oss": 4096, "gemma4": 4096, "llama4": 8192}


def kv_per_layer(arch: GGUFInfo, ctx: int, parallel: int, kv_type: str, batch: int) -> list[int]:
    """Ollama engine cache bytes per layer (kvcache/causal.go `Init`): full layers np·num_ctx
    cells; SWA layers keep a memory of the window (4096 for NewSWAMemCache models), at least
    window+1 when np > 1, and hold np·memory + batch cells, or np·num_ctx when that memory is
    at least num_ctx; padded to 256, at ggml's real sizes."""
    swa = swa_layers(arch)
    rec = recurrent_layers(arch)
    state = recurrent_state_bytes(arch, parallel) if any(rec) else 0
    memory = SWA_MEMORY.get(arch.architecture, arch.sliding_window)
    if parallel > 1:  # room for the stop token of a parallel sequence
        memory = max(memory, arch.sliding_window + 1)
    swa_cells = parallel * ctx if memory >= ctx else parallel * memory + batch
    out = []
    for i in range(arch.block_count):
        if rec[i]:
            out.append(state)
            continue
        cells = swa_cells if swa[i] else parallel * ctx
        out.append(pad(cells) * kv_row_bytes(arch, i, kv_type))
    for i in arch.cross_attention_layers:  # mllama: f32 K and V of 1601 tokens × 4 tiles
        if 0 <= i < len(out):
            out[i] = arch.head_count_kv[i] * (arch.key_length + arch.value_length) * 4 * 1601 * 4
    return out


def _balanced(caps: list[int], costs: list[int], out: int) -> tuple[list[int], bool]:
    """fill_top_down at the smallest share of every GPU's room that still places everything
    (a binary search, as Ollama's findBestFit does); the plain fill when nothing is enough."""
    where, out_on = fill_top_down(caps, costs, out)
    if len(caps) < 2 or not out_on or min(where, default=0) < 0:
        return where, out_on
    lo, hi = 0.0, 1.0
    for _ in range(20):
        mid = (lo + hi) / 2
        w, o = fill_top_down([int(c * mid) for c in caps], costs, out)
        if o and min(w, default=0) >= 0:
            hi, where, out_on = mid, w, o
        else:
            lo = mid
    return where, out_on


def estimate(model: Model, quant: Quant, budget: Budget, run: Run) -> Estimate:
    a = model.arch
    ctx, np_ = run.ctx, max(1, run.parallel)
    if model.projector_bytes:
        ctx = max(ctx, 2048)
    batch = min(run.batch or 512, ctx)  # e119783e6: batch clamped to num_ctx
    kv = kv_per_layer(a, ctx, np_, run.kv_cache, batch)
    n = a.block_count
    weights = list(a.layer_bytes) if sum(a.layer_bytes) else \
        [max(0, model.model_bytes - a.output_bytes) // max(1, n)] * n
    whole = [weights[i] + kv[i] for i in range(n)]
    out = a.output_bytes + model.projector_bytes  # vision tensors travel with the output layer
    # Measured graph: outputs are reserved for np tokens only, so logits stay small.
    graph = compute_bytes(a, ctx, batch, np_, run.flash)
    minimum = MINIMUM_MEMORY.get(budget.backend, MINIMUM_MEMORY["cuda"])
    gpus = budget.gpu_free if budget.backend != "cpu" else []
    order = sorted(range(len(gpus)), key=lambda g: -gpus[g])
    caps_all = [gpus[g] - minimum - graph for g in order]
    # Pack onto the fewest GPUs that hold everything (all of them with OLLAMA_SCHED_SPREAD);
    # across several, the least capacity share that still holds it all balances the load.
    where, out_on = [-1] * n, False
    for k in range(len(order) if run.spread else 1, len(order) + 1):
        where, out_on = _balanced(caps_all[:k], whole, out)
        if out_on and min(where, default=0) >= 0:
            break
    if gpus and not out_on:  # the output layer does not fit: retry without it
        where, _ = fill_top_down(caps_all, whole, 0)
    placed = [i for i in range(n) if where[i] >= 0]
    per_dev = [0] * len(order)
    layers_dev = [0] * len(order)
    for i in placed:
        per_dev[where[i]] += whole[i]
        layers_dev[where[i]] += 1
    if out_on:
        per_dev[0] += out
        layers_dev[0] += 1
    used = [d for d in range(len(order)) if layers_dev[d]]
    for d in used:
        per_dev[d] += graph + minimum
    vram = sum(per_dev)
    kv_total = sum(kv)
    file_weights = model.model_bytes + model.projector_bytes
    # The projector rides with the output layer; a tied output is a copy of token_embd, which
    # stays counted in RAM, so only an untied output leaves RAM with it.
    on_gpu = sum(weights[i] for i in placed)
    if out_on:
        on_gpu += model.projector_bytes + (0 if a.output_tied else a.output_bytes)
    ram = max(0, file_weights - on_gpu) + sum(kv[i] for i in range(n) if where[i] < 0)
    if not used:
        placement, vram = "cpu", 0
    elif len(placed) == n and out_on:
        placement = "gpu"
    else:
        placement = "split"
    short = 0
    if placement != "gpu" and ram > budget.ram_bytes:  # verifyLayout: CPU part must fit RAM
        short, placement = ram - budget.ram_bytes, "no"
    share = a.expert_used_count / a.expert_count if a.expert_count and a.expert_used_count else 1
    experts = a.layer_expert_bytes if len(a.layer_expert_bytes) == n else [0] * n
    gpu_read = cpu_read = 0.0
    for i in range(n):
        b = bytes_per_token(weights[i] - experts[i] + experts[i] * share, kv[i])
        if where[i] >= 0:
            gpu_read += b
        else:
            cpu_read += b
    if out_on:
        gpu_read += a.output_bytes
    else:
        cpu_read += a.output_bytes
    speed, bound = (None, None) if placement == "no" else tokens_per_s(gpu_read, cpu_read, quant,
                                                                       budget)
    names = device_names(budget, len(gpus))
    devices = [Device(names[order[d]], per_dev[d], layers_dev[d]) for d in used]
    # On the CPU alone the graph is the CPU's compute buffer, and no GPU reserve is kept.
    graphs, reserves = graph * max(1, len(used)), minimum * len(used)
    return Estimate(ctx, run.kv_cache, file_weights, kv_total, graphs, reserves,
                    file_weights + kv_total + graphs + reserves, n + 1,
                    len(placed) + (1 if out_on else 0), placement,
                    vram, ram, speed, model.source, short, bound, estimator="layout",
                    devices=devices, parallel=np_, flash=run.flash)

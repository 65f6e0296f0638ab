"""`fit`: Ollama v0.30+ runs every GGUF on llama-server, whose `--fit` places the layers. Pure.

What is modelled (llama.cpp common/fit.cpp at Ollama's pins b9452–b10488; Ollama
llm/llama_server.go and server/sched.go; details and evidence in docs/memory.md):
- Ollama's preflight picks one GPU when the rough prediction (file + f16 KV) is ≤ 80 % of its
  free memory, else all GPUs; it picks the batch (512/1024/2048) from the same prediction.
- llama-server measures weights per layer, KV per layer (llama.cpp's cell rules, exact ggml
  sizes) and one compute buffer per device, and keeps LLAMA_ARG_FIT_TARGET (1024 MiB) free on
  every device. A vision projector raises that margin (Ollama's pad from v0.30.11, plus
  llama-server's own projector reserve).
- If everything fits, everything goes to the GPU. Otherwise dense layers are filled whole,
  back to front, the output layer on the last device; for an MoE the routed experts of the
  upper GPU layers go to the CPU first (attention, router, shared experts and KV stay).
"""

from __future__ import annotations

from ollama_quantpick.budget import Budget, GiB, MiB
from ollama_quantpick.estimators.base import (
    Device,
    Estimate,
    Model,
    Run,
    compute_bytes,
    device_names,
    fill_top_down,
    kv_layers,
    layer_experts,
    pad,
    recurrent_layers,
    swa_cells,
)
from ollama_quantpick.quants import Quant
from ollama_quantpick.speed import kv_read_fraction, tokens_per_s

FIT_TARGET = 1024 * MiB  # common.h fit_params_target: free memory kept per device
PREFLIGHT_SHARE = 0.8  # sched.go: one GPU is chosen when predicted ≤ 80 % of its free memory
# automaticGenerationBatch (server/sched.go): extra compute Ollama expects at ub 1024 / 2048.
BATCH_SURCHARGE = {1024: 768 * MiB, 2048: 2 * GiB}


def predicted(model: Model, ctx: int, parallel: int) -> int:
    """llm.PredictServerVRAM: GGUF size + f16 K and V for ctx·np cells on every layer, with the
    smallest KV head count (ignores SWA, MLA, recurrent layers, KV quantization, compute)."""
    a = model.arch
    hkv = min((h for h in a.head_count_kv if h > 0), default=1)
    head = a.embedding_length // max(1, a.head_count)
    return model.model_bytes + 2 * a.block_count * hkv * head * ctx * parallel * 2


def auto_batch(eff_ctx: int, pred: int, available: int, backend: str, flash: bool) -> int:
    """The num_batch (= n_ubatch) Ollama passes when the user set none."""
    if backend == "cuda" and not flash:
        return 512
    batch = 512
    if eff_ctx > 4096 and pred <= 0.75 * available:
        batch = 1024
    if eff_ctx > 32768 and pred <= 0.60 * available:
        batch = 2048
    while batch > 512 and pred + BATCH_SURCHARGE[batch] > PREFLIGHT_SHARE * available:
        batch //= 2
    return batch


def projector_on_gpu(run: Run, budget: Budget, proj: int, free: int) -> bool:
    """v0.30.0–v0.30.10: kept on the CPU for GPUs of ≤ 10 GiB (Metal excepted from v0.30.4);
    v0.30.11+: on the CPU only when projector + 1 GiB exceeds the GPU's free memory."""
    if run.version >= (0, 30, 11):
        return proj + GiB <= free
    return free > 10 * GiB or (budget.backend == "metal" and run.version >= (0, 30, 4))


def estimate(model: Model, quant: Quant, budget: Budget, run: Run, *,
             experts_first: bool = True) -> Estimate:
    """llama-server's placement on `budget`. `experts_first=False` places MoE layers whole
    (what the legacy engines did), for comparison."""
    a = model.arch
    ctx, np_ = run.ctx, max(1, run.parallel)
    if model.projector_bytes:
        ctx = max(ctx, 2048)  # vision models get at least 2048 (server/sched.go getRunner)
    notes = ["the compute buffer follows llama-server's own figures, measured on one llama.cpp "
             "build on the CPU backend (bench/calibrate.py), not yet on a GPU backend"]
    if a.key_length_mla or any(recurrent_layers(a)):
        notes.append("the MLA or recurrent cache of this architecture follows llama.cpp's code "
                     "and is not checked against a llama-server log")
    gpus = budget.gpu_free if budget.backend != "cpu" else []
    pred = predicted(model, ctx, np_)
    # Ollama's preflight: one GPU when the prediction fits 80 % of one, else all of them.
    order = list(range(len(gpus)))
    best = max(order, key=lambda g: gpus[g], default=0)
    if len(gpus) > 1 and not run.spread and pred <= PREFLIGHT_SHARE * gpus[best]:
        order = [best]
    free = [gpus[g] for g in order]
    batch = run.batch or auto_batch(ctx * np_, pred, max(free, default=0), budget.backend,
                                    run.flash)
    ubatch = min(batch, ctx * np_)
    n_ctx_seq = pad(pad(ctx * np_) // np_)
    kv = kv_layers(a, ctx, np_, run.kv_cache, ubatch)
    n_out = ubatch if run.version < (0, 30, 1) else np_  # de6f727aa: np outputs from b9460
    compute = compute_bytes(a, n_ctx_seq, ubatch, n_out, run.flash, swa_cells(a, ctx, np_, ubatch))
    if run.kv_cache != "f16" and run.flash and budget.backend == "cuda" and \
            run.version >= (0, 30, 4):
        # f8f0a47a5: CUDA FA reserves F16 copies of a quantized K and V for the largest layer
        width = max((a.head_count_kv[i] * (a.key_length + a.value_length)
                     for i in range(a.block_count)), default=0)
        compute += 2 * n_ctx_seq * np_ * width
    weights = list(a.layer_bytes) if sum(a.layer_bytes) else \
        [max(0, model.model_bytes - a.output_bytes) // max(1, a.block_count)] * a.block_count
    experts = layer_experts(a) if a.expert_count else [0] * a.block_count
    out = a.output_bytes
    proj = model.projector_bytes
    target = run.fit_target if run.fit_target is not None else FIT_TARGET
    proj_gpu = bool(proj and free) and projector_on_gpu(run, budget, proj, free[0])
    targets = [target] * len(free)
    if proj_gpu:
        if run.version >= (0, 30, 11):  # 836507378: Ollama pads the margin by the projector
            targets = [t + proj for t in targets]
        targets[0] += proj  # llama-server reserves the projector's weights on its device too
        notes.append("the projector's compute buffer is not modelled (llama-server reserves "
                     "it too); its weights are counted twice, as Ollama's margin pad does")
    elif proj:
        notes.append("the vision projector stays on the CPU in this release on this GPU")
    n = a.block_count
    whole = [weights[i] + kv[i] for i in range(n)]
    # llama.cpp fills the last device first (it holds the output layer): caps run backwards.
    # The projector loads after the fit, into the room its reserve kept. Each cap already
    # takes the compute buffer off, so the tests below count it once (common/fit.cpp step 1:
    # free − (weights + KV + compute) ≥ target).
    caps = [free[d] - targets[d] - compute for d in range(len(free))][::-1]
    where, out_on_gpu = [-1] * n, False
    on_cpu_experts = [False] * n
    split = _default_split(free, len(whole)) if len(free) > 1 else None
    if free and sum(whole) + out <= caps[0] and len(free) == 1:
        where, out_on_gpu = [0] * n, True
    elif split is not None and all(
            sum(whole[i] for i in range(n) if split[i] == d) + (out if d == len(free) - 1 else 0)
            <= caps[len(free) - 1 - d] for d in range(len(free))):
        # Step 1 of the fit: the default split (by free memory) leaves every margin: unchanged.
        where, out_on_gpu = [len(free) - 1 - split[i] for i in range(n)], True
    elif free:
        moe = a.expert_count > 0 and experts_first and any(experts)
        costs = [whole[i] - experts[i] for i in range(n)] if moe else whole
        if moe:
            # op_offload copies a CPU expert tensor into the compute buffer for prompts; the
            # dry runs measure it, so the room for layers shrinks by it.
            extra = max(experts) // 3
            compute += extra
            caps = [c - extra for c in caps]
        where, out_on_gpu = fill_top_down(caps, costs, out)
        if moe:
            # Step 4 of common/fit.cpp: spare room takes experts back, lowest layers first.
            left = list(caps)
            if out_on_gpu:
                left[0] -= out
            for i in range(n):
                if where[i] >= 0:
                    left[where[i]] -= costs[i]
            for i in range(n):
                d = where[i]
                if d < 0 or not experts[i]:
                    continue
                if experts[i] <= left[d]:
                    left[d] -= experts[i]
                else:
                    on_cpu_experts[i] = True
            if not any(on_cpu_experts):
                compute -= extra  # every expert is back on a GPU: nothing is copied
            else:
                notes.append("llama-server's fit moves the routed experts of the upper GPU "
                              "layers to the CPU; the exact boundary layer is read from its code, "
                              "not measured")
    gpu_idx = {d: len(free) - 1 - d for d in range(len(free))}  # caps order → free order
    placed = [i for i in range(n) if where[i] >= 0]
    moe_cpu = sum(1 for i in range(n) if on_cpu_experts[i])
    gpu_layers = len(placed) + (1 if out_on_gpu else 0)
    per_dev = [0] * len(free)
    layers_dev = [0] * len(free)
    for i in placed:
        g = gpu_idx[where[i]]
        per_dev[g] += whole[i] - (experts[i] if on_cpu_experts[i] else 0)
        layers_dev[g] += 1
    if out_on_gpu:
        per_dev[gpu_idx[0]] += out
        layers_dev[gpu_idx[0]] += 1
    used = [g for g in range(len(free)) if layers_dev[g]]
    for g in used:
        per_dev[g] += compute
    if proj_gpu and used:
        per_dev[0] += proj
    vram = sum(per_dev)
    kv_total = sum(kv)
    file_weights = model.model_bytes + proj
    # RAM: every weight byte not on a GPU (token_embd always), plus the KV of CPU layers.
    gpu_weight_bytes = sum(weights[i] - (experts[i] if on_cpu_experts[i] else 0) for i in placed)
    if out_on_gpu and not a.output_tied:  # a tied output is a copy: token_embd stays in RAM
        gpu_weight_bytes += out
    ram = max(0, file_weights - gpu_weight_bytes - (proj if proj_gpu and used else 0)) + \
        sum(kv[i] for i in range(n) if where[i] < 0)
    total_layers = n + 1
    if not used:
        placement = "cpu"
        vram = 0
    elif len(placed) == n and out_on_gpu and not moe_cpu:
        placement = "gpu"
    else:
        placement = "split"
    short = 0
    if placement != "gpu" and ram > budget.ram_bytes:
        short, placement = ram - budget.ram_bytes, "no"
    # Bytes read per generated token: the used share of routed experts, everything else whole.
    share = a.expert_used_count / a.expert_count if a.expert_count and a.expert_used_count else 1
    gpu_read = cpu_read = 0.0
    kv_read = kv_read_fraction()  # bytes_per_token, inlined: ~80 layers × ~80 estimates a pick
    for i in range(n):
        dense, exp = weights[i] - experts[i] + kv[i] * kv_read, experts[i] * share
        if where[i] < 0:
            cpu_read += dense + exp
        else:
            gpu_read += dense
            if on_cpu_experts[i]:
                cpu_read += exp
            else:
                gpu_read += exp
    if out_on_gpu:
        gpu_read += out
    else:
        cpu_read += out
    speed, bound = (None, None)
    if placement != "no":
        speed, bound = tokens_per_s(gpu_read, cpu_read, quant, budget)
    names = device_names(budget, len(gpus))
    devices = [Device(names[order[g]], per_dev[g], layers_dev[g]) for g in used]
    # What llama-server keeps free beside what it allocates (the projector uses its reserve).
    margin = sum(targets[g] for g in used) - (proj if proj_gpu and used else 0)
    graphs = compute * max(1, len(used))  # on the CPU alone: the CPU's compute buffer
    return Estimate(ctx, run.kv_cache, file_weights, kv_total, graphs, margin,
                    file_weights + kv_total + graphs + margin, total_layers,
                    gpu_layers, placement, vram, ram, speed, model.source, short, bound,
                    estimator="fit", moe_cpu_layers=moe_cpu, devices=devices, parallel=np_,
                    flash=run.flash, notes=notes)


def _default_split(free: list[int], n: int) -> list[int]:
    """llama.cpp's default layer split over several devices, in proportion to free memory:
    layer il goes to the first device whose cumulative share exceeds il / (n_layer + 1)."""
    total = sum(free)
    cum, acc = [], 0
    for f in free:
        acc += f
        cum.append(acc / total)
    return [next(d for d, c in enumerate(cum) if c > il / (n + 1)) for il in range(n)]


def need(model: Model, run: Run) -> int:
    """What the model really needs on one GPU to run whole at this context (llama.cpp's sizes,
    flash attention on, ub 512, the projector's weights): no release's margin or reserve."""
    a = model.arch
    ctx, np_ = run.ctx, max(1, run.parallel)
    if model.projector_bytes:
        ctx = max(ctx, 2048)
    ubatch = min(512, ctx * np_)
    kv = sum(kv_layers(a, ctx, np_, run.kv_cache, ubatch))
    weights = sum(a.layer_bytes) or max(0, model.model_bytes - a.output_bytes)
    compute = compute_bytes(a, pad(pad(ctx * np_) // np_), ubatch, np_, True,
                            swa_cells(a, ctx, np_, ubatch))
    return weights + a.output_bytes + kv + compute + model.projector_bytes

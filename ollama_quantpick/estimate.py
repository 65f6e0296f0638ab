"""Memory and speed of one model artifact on a budget: the public face of the estimators. Pure.

Which estimator runs depends on the user's Ollama release (see `estimators`): `legacy` mirrors
Ollama's own estimate (≤ v0.12.10), `layout` its measured layout (v0.11.11–v0.24), `fit`
llama-server's `--fit` (v0.30+). This module keeps the names older callers import and the model
shape helpers (a size-based fallback shape, sibling quants scaled from one header).
"""

from __future__ import annotations

import math
from dataclasses import replace

from ollama_quantpick.budget import Budget
from ollama_quantpick.estimators.base import Estimate, Model, Run, active_bytes
from ollama_quantpick.estimators.legacy import (  # noqa: F401  (re-exported)
    GPU_MINIMUM,
    GRAPH_FORMULA,
    NUM_BATCH,
    effective_kv_type,
    graph_size,
    kv_per_layer,
    supports_flash,
)
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.quants import Quant
from ollama_quantpick.release import NEWEST_STABLE
from ollama_quantpick.release import default_ctx as release_default_ctx

__all__ = ["Estimate", "Model", "Run", "active_bytes", "default_ctx", "estimate", "fallback_arch",
           "scale_arch"]


def default_ctx(total_vram: int, model_ctx: int | None) -> int:
    """The newest known release's default context for this much total VRAM (minus
    OLLAMA_GPU_OVERHEAD): 262144 from 47 GiB, 32768 from 23 GiB, else 4096 (v0.15.5+)."""
    return release_default_ctx(NEWEST_STABLE, total_vram, model_ctx=model_ctx)


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
                   gate_exps_bytes=int(arch.gate_exps_bytes * k),
                   tensor_bytes=int(arch.tensor_bytes * k),
                   layer_expert_bytes=[int(x * k) for x in arch.layer_expert_bytes],
                   token_embd_bytes=int(arch.token_embd_bytes * k),
                   max_tensor_bytes=int(arch.max_tensor_bytes * k))


def estimate(arch: GGUFInfo, quant: Quant, budget: Budget, *, model_bytes: int,
             projector_bytes: int = 0, ctx: int, kv_cache: str = "f16", parallel: int = 1,
             source: str = "header") -> Estimate:
    """Where a legacy Ollama (≤ v0.12.10) would run this artifact: `estimators.legacy`."""
    from ollama_quantpick.estimators import legacy

    return legacy.estimate(Model(arch, model_bytes, projector_bytes, source), quant, budget,
                           Run(ctx, parallel, kv_cache))

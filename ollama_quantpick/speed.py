"""Generation speed (tokens/s) from the bytes each device reads per token. Pure.

Token generation is memory-bound: every active weight and the KV cache in use are read once per
generated token. GPU and CPU parts run one after the other, so their times add.
"""

from __future__ import annotations

from ollama_quantpick.budget import Budget
from ollama_quantpick.quants import Quant, data


def tokens_per_s(gpu_bytes: float, cpu_bytes: float, quant: Quant,
                 budget: Budget) -> tuple[float | None, float | None]:
    """(tokens/s, upper bound) for `gpu_bytes` read from VRAM and `cpu_bytes` from system RAM per
    token. When the GPU's bandwidth is unknown, the CPU part alone gives an upper bound."""
    sp = data()["speed"]
    t_gpu = t_cpu = 0.0
    gpu_known = bool(budget.gpu_bandwidth_gbps)
    if gpu_bytes > 0 and gpu_known:
        t_gpu = gpu_bytes / (sp["eta_gpu"] * budget.gpu_bandwidth_gbps * 1e9 * quant.k_speed)
    if cpu_bytes > 0 and budget.cpu_bandwidth_gbps:
        k = quant.k_speed * (sp["iq_cpu"] if quant.is_iq else 1.0)
        t_cpu = cpu_bytes / (sp["eta_cpu"] * budget.cpu_bandwidth_gbps * 1e9 * k)
    cpu_known = cpu_bytes <= 0 or bool(budget.cpu_bandwidth_gbps)
    if (gpu_bytes <= 0 or gpu_known) and cpu_known and t_gpu + t_cpu > 0:
        return 1.0 / (t_gpu + t_cpu), None
    return None, (1.0 / t_cpu if t_cpu > 0 else None)

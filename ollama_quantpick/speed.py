"""Generation speed (tokens/s) from the bytes each device reads per token. Pure.

Token generation is memory-bound: every active weight and the part of the KV cache in use are read
once per generated token. GPU and CPU parts run one after the other, so their times add, plus a
fixed per-token cost of the backend (kernel launches, synchronisation, sampling) that decides the
speed of small models on fast GPUs. Constants and their calibration: data/speed.toml, k_speed and
k_cpu per quant type in data/quants.toml; bench/speed.py holds the model against published runs.
"""

from __future__ import annotations

from functools import lru_cache

from ollama_quantpick.budget import Budget
from ollama_quantpick.quants import Quant


@lru_cache(maxsize=1)
def constants() -> dict:
    from ollama_quantpick.facts import data_file

    return data_file("speed.toml")


def kv_read_fraction() -> float:
    """The share of the allocated KV window a generated token reads, on average (half)."""
    return constants()["kv_read_fraction"]


def bytes_per_token(active_weights: float, kv_allocated: float) -> float:
    """Bytes read per generated token: the active weights and the KV cache up to the current
    position, taken as `kv_read_fraction` (half) of the allocated window on average."""
    return active_weights + kv_allocated * kv_read_fraction()


def cpu_factor(quant: Quant) -> float:
    """How fast the CPU reads this type relative to F16/Q8_0 (measured for those and q4_0)."""
    cpu = constants()["cpu"]
    k = quant.k_cpu if quant.k_cpu is not None else cpu["k_default"]
    return k * (cpu["iq_factor"] if quant.is_iq else 1.0)


def tokens_per_s(gpu_bytes: float, cpu_bytes: float, quant: Quant,
                 budget: Budget) -> tuple[float | None, float | None]:
    """(tokens/s, upper bound) for `gpu_bytes` read from VRAM and `cpu_bytes` from system RAM per
    token. When the GPU's bandwidth is unknown, the CPU part alone gives an upper bound."""
    c = constants()
    t_gpu = t_cpu = 0.0
    gpu_known = bool(budget.gpu_bandwidth_gbps)
    backend = c["backend"].get(budget.backend, c["backend"]["cuda"])
    if gpu_bytes > 0 and gpu_known:
        t_gpu = backend["t_fixed_ms"] / 1000 + gpu_bytes / (
            backend["eta"] * budget.gpu_bandwidth_gbps * 1e9 * quant.k_speed)
    if cpu_bytes > 0 and budget.cpu_bandwidth_gbps:
        # Apple's CPU cores draw ~0.55 of the chip's bandwidth whether or not the GPU is in
        # the plan (--gpu none keeps the chip's bandwidth but makes the backend "cpu")
        apple = budget.cpu_apple or budget.backend == "metal"
        eta = c["cpu"]["eta_apple"] if apple else c["cpu"]["eta"]
        t_cpu = cpu_bytes / (eta * budget.cpu_bandwidth_gbps * 1e9 * cpu_factor(quant))
        if gpu_bytes <= 0:
            t_cpu += c["cpu"]["t_fixed_ms"] / 1000
    cpu_known = cpu_bytes <= 0 or bool(budget.cpu_bandwidth_gbps)
    if (gpu_bytes <= 0 or gpu_known) and cpu_known and t_gpu + t_cpu > 0:
        return 1.0 / (t_gpu + t_cpu), None
    return None, (1.0 / t_cpu if t_cpu > 0 else None)

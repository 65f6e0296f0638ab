"""Predicted vs published token-generation speed (llama.cpp, one stream, short context).

Run: python bench/speed.py [--markdown]

Each row is a published llama.cpp run: the hardware's peak bandwidth (vendor spec sheet, the same
figure data/gpus.toml holds), the model file's size as llama-bench printed it, its quant type, and
the measured tokens/s. The prediction is ollama_quantpick.speed.tokens_per_s on the same bytes.
Rows marked `fit` set eta and t_fixed in data/speed.toml; all others are held out. The runs used
short contexts (tg128-tg512), so the KV cache read is left out of the bytes (< 1 % of them).
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

from ollama_quantpick.budget import Budget
from ollama_quantpick.quants import lookup
from ollama_quantpick.speed import tokens_per_s

GiB = 2**30
XD = "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference"  # README tables
XD1 = "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/issues/1"
ROCM = "https://github.com/ggml-org/llama.cpp/pull/26284"
NB_M4 = "https://github.com/brand-o/normiebench/issues/3"
NB_M1MAX = "https://github.com/brand-o/normiebench/issues/40"
LLMFIT = "https://github.com/AlexsJones/llmfit/pull/1031"
LCPP34 = "https://github.com/ggml-org/llama.cpp/issues/34"
LCPP4716 = "https://github.com/ggml-org/llama.cpp/issues/4716"

# Model sizes as llama-bench reports them (GiB).
L3_8B = {"q4_K_M": 4.58, "fp16": 14.96, "q8_0": 7.95}
L3_70B = {"q4_K_M": 39.59, "fp16": 131.42}
L2_7B = {"q4_0": 3.56, "fp16": 12.55}
L2_13B_Q4_0 = 6.86
# Mixtral 8x7B reads 2 of 8 experts: 12.9 B active parameters x 8.5 bits (Q8_0) = 13.7 GB.
MIXTRAL_ACTIVE_Q8 = 12.9e9 * 8.5 / 8 / GiB


@dataclass
class Run:
    hardware: str
    backend: str  # cuda | rocm | metal | cpu (apple CPU: metal backend, CPU bytes only)
    gbps: float
    model: str
    quant: str
    gib: float
    measured: float
    source: str
    fit: bool = False
    cpu: bool = False


RUNS = [
    Run("RTX 4090", "cuda", 1008, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 130.58, XD, fit=True),
    Run("RTX 4090", "cuda", 1008, "Llama-3 8B", "fp16", L3_8B["fp16"], 54.84, XD, fit=True),
    Run("RTX 3090", "cuda", 936, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 115.42, XD, fit=True),
    Run("RTX 3090", "cuda", 936, "Llama-3 8B", "fp16", L3_8B["fp16"], 47.40, XD, fit=True),
    Run("RTX 4080", "cuda", 717, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 108.15, XD),
    Run("RTX 4080", "cuda", 717, "Llama-3 8B", "fp16", L3_8B["fp16"], 40.58, XD),
    Run("RTX 3070", "cuda", 448, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 72.79, XD),
    Run("RTX 4070 Ti", "cuda", 504, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 83.50, XD),
    Run("2x RTX 3090", "cuda", 936, "Llama-3 70B", "q4_K_M", L3_70B["q4_K_M"], 16.57, XD),
    Run("2x RTX 4090", "cuda", 1008, "Llama-3 70B", "q4_K_M", L3_70B["q4_K_M"], 19.22, XD),
    Run("RTX 4090", "cuda", 1008, "Llama-2 7B", "q4_0", L2_7B["q4_0"], 149.37, XD),
    Run("RTX 3090", "cuda", 936, "Llama-2 7B", "q4_0", L2_7B["q4_0"], 120.6, XD),
    Run("RTX A6000", "cuda", 768, "Llama-2 7B", "q4_0", L2_7B["q4_0"], 111.57, XD),
    Run("RX 7900 XTX", "rocm", 960, "Llama 8B", "q4_K_M", L3_8B["q4_K_M"], 105.75, ROCM, fit=True),
    Run("M3 Max 40c", "metal", 400, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 48.97, XD, fit=True),
    Run("M3 Max 40c", "metal", 400, "Llama-3 8B", "fp16", L3_8B["fp16"], 22.04, XD, fit=True),
    Run("M3 Max 40c", "metal", 400, "Llama-3 70B", "q4_K_M", L3_70B["q4_K_M"], 7.65, XD),
    Run("M2 Ultra 76c", "metal", 800, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 78.81, XD, fit=True),
    Run("M2 Ultra 76c", "metal", 800, "Llama-3 8B", "fp16", L3_8B["fp16"], 36.90, XD, fit=True),
    Run("M2 Ultra 76c", "metal", 800, "Llama-3 70B", "q4_K_M", L3_70B["q4_K_M"], 12.48, XD),
    Run("M2 Ultra 76c", "metal", 800, "Llama-3 70B", "fp16", L3_70B["fp16"], 4.76, XD),
    Run("M1 Max 32c", "metal", 400, "Llama-3 8B", "q4_K_M", L3_8B["q4_K_M"], 35.73, XD),
    Run("M1 Max 32c", "metal", 400, "Llama-3 8B", "fp16", L3_8B["fp16"], 18.75, XD),
    Run("M1 Max 32c", "metal", 400, "Llama-3.1 8B", "q4_K_M", L3_8B["q4_K_M"], 46.2, NB_M1MAX),
    Run("M4 10c", "metal", 120, "Llama-3.1 8B", "q4_K_M", L3_8B["q4_K_M"], 20.87, NB_M4),
    Run("M2 Pro 19c", "metal", 200, "Llama-3.1 8B", "q4_K_M", L3_8B["q4_K_M"], 33.0, LLMFIT),
    Run("M2 Pro 19c", "metal", 200, "Llama-3.1 8B", "q8_0", L3_8B["q8_0"], 22.0, LLMFIT),
    # CPU only. slaren's post does not name the quant; Q4_0 was that thread's reference 7B file.
    Run("i9-13900K, DDR5-6400 2ch", "cpu", 102.4, "LLaMA 7B", "q4_0", L2_7B["q4_0"], 18.27, LCPP34,
        fit=True, cpu=True),
    Run("Ryzen 5900X, DDR4-3600 2ch", "cpu", 57.6, "Mixtral 8x7B", "q8_0", MIXTRAL_ACTIVE_Q8, 3.58,
        LCPP4716, fit=True, cpu=True),
    Run("Ryzen 7950X, DDR5-3600 2ch", "cpu", 57.6, "Mixtral 8x7B", "q8_0", MIXTRAL_ACTIVE_Q8, 3.37,
        LCPP4716, cpu=True),
    Run("M2 Pro CPU", "metal", 200, "Llama-2 7B", "q4_0", L2_7B["q4_0"], 1000 / 47.81, XD1, fit=True,
        cpu=True),
    Run("M2 Pro CPU", "metal", 200, "Llama-2 13B", "q4_0", L2_13B_Q4_0, 1000 / 73.38, XD1, fit=True,
        cpu=True),
    Run("M2 Pro CPU", "metal", 200, "Llama-2 7B", "fp16", L2_7B["fp16"], 1000 / 117.84, XD1, fit=True,
        cpu=True),
]


def predict(run: Run) -> float:
    gpu = [] if run.cpu else [1]
    budget = Budget(gpu, 0, run.backend, None if run.cpu else run.gbps,
                    run.gbps if run.cpu else 51.2)
    bytes_ = run.gib * GiB
    tps, _ = tokens_per_s(0 if run.cpu else bytes_, bytes_ if run.cpu else 0, lookup(run.quant),
                          budget)
    assert tps is not None
    return tps


def table() -> tuple[list[tuple[Run, float, float]], dict[str, float]]:
    rows = []
    for run in RUNS:
        p = predict(run)
        rows.append((run, p, (p - run.measured) / run.measured))
    errs = [abs(e) for _, _, e in rows]
    held = [abs(e) for r, _, e in rows if not r.fit]
    gpu = [abs(e) for r, _, e in rows if not r.cpu]
    cpu = [abs(e) for r, _, e in rows if r.cpu]
    return rows, {"all": statistics.median(errs), "held_out": statistics.median(held),
                  "gpu": statistics.median(gpu), "cpu": statistics.median(cpu), "n": len(rows),
                  "n_held_out": len(held)}


def main(markdown: bool) -> None:
    rows, summary = table()
    if markdown:
        print("| hardware | GB/s | model | quant | measured t/s | predicted t/s | error | set | source |")
        print("|---|---:|---|---|---:|---:|---:|---|---|")
        for r, p, e in rows:
            print(f"| {r.hardware}{' (CPU)' if r.cpu and r.backend == 'metal' else ''} | {r.gbps:g} | "
                  f"{r.model} | {r.quant} | {r.measured:.1f} | {p:.1f} | {e * 100:+.0f} % | "
                  f"{'fit' if r.fit else 'held out'} | {r.source} |")
    else:
        for r, p, e in rows:
            print(f"{r.hardware:28s} {r.model:13s} {r.quant:7s} measured {r.measured:7.2f}  "
                  f"predicted {p:7.2f}  {e * 100:+5.0f} %  {'fit' if r.fit else ''}")
    print(f"\nmedian |error|: all {summary['all'] * 100:.1f} % ({summary['n']} runs), held out "
          f"{summary['held_out'] * 100:.1f} % ({summary['n_held_out']}), GPU {summary['gpu'] * 100:.1f} %, "
          f"CPU {summary['cpu'] * 100:.1f} %")


if __name__ == "__main__":
    main("--markdown" in sys.argv)

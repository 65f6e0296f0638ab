"""How close quantpick's memory estimates are to what Ollama and llama.cpp logged, per release era.

Era `legacy` (Ollama ≤ v0.12.10, and llama-engine models to v0.24), two tables:
1. Against figures Ollama itself printed (server logs, `ollama ps`) in public issue threads,
   each case naming its issue (docs/memory.md has the eras).
2. Against Ollama's formula written out in closed form, independently of quantpick's code
   (fs/ggml/ggml.go GraphSize + llm/memory.go, one GPU with room to spare, full offload):
   weights + KV + full-offload graph + CUDA minimum + one buffer layer, for nine real
   architectures at 2K/8K/32K/128K context (capped at the model's own).

Era `layout` (v0.11.11–v0.24, Ollama engine): no public log gives model, context and batch
together with its `msg="compute graph"` line, so there is no case to hold it against (said below).

Era `fit` (v0.30+, llama-server): KV and compute buffer sizes against `KV buffer size` /
`compute buffer size` lines in public logs (docs/memory.md lists them), and llama-server's margin.
Weights are sums of the tensor table, exact by construction, so they are not a test.

GGUF headers are generated with the `gguf` package from the models' real shapes
(tests/world.py), so this needs `pip install -e .[test]`. Run: python bench/accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import world  # noqa: E402
from ollama_quantpick import estimate as est  # noqa: E402
from ollama_quantpick import estimators  # noqa: E402
from ollama_quantpick.budget import Budget, GiB, MiB  # noqa: E402
from ollama_quantpick.estimators import base, fit  # noqa: E402
from ollama_quantpick.gguf import parse_header  # noqa: E402
from ollama_quantpick.quants import lookup  # noqa: E402

GB = 10**9
CUDA_MIN = 479199232


def model_bytes(model: str, size: str, quant: str) -> int:
    a = world.ARCH[(model, size)]
    return world.HEADER_ALLOWANCE + sum(world.nbytes(t, s) for _, s, t in world.tensors(a, quant))


def ours(model, size, quant, ctx, gpus=1, free_gib=200.0, kv="f16", projector=0):
    arch = parse_header(world.gguf_header(model, size, quant))
    budget = Budget([int(free_gib * GiB)] * gpus, 512 * GB, "cuda", None, 51.2)
    return est.estimate(arch, lookup(quant), budget, model_bytes=model_bytes(model, size, quant),
                        projector_bytes=projector, ctx=ctx, kv_cache=kv), arch


def closed_form(model: str, size: str, quant: str, ctx: int, projector: int = 0) -> int:
    """Ollama's full-offload requirement on one GPU, written out from the formulas alone."""
    a = world.ARCH[(model, size)]
    ts = world.tensors(a, quant)
    layer = [0] * a.layers
    output = 0
    for name, shape, t in ts:
        if name.startswith("blk."):
            layer[int(name.split(".")[1])] += world.nbytes(t, shape)
        elif name.startswith("output") or (a.tied and name.startswith("token_embd")):
            output += world.nbytes(t, shape)
    if projector:
        ctx = max(ctx, 2048)
    b = min(ctx, 512)
    kv_layers = []
    for i in range(a.layers):
        c = ctx
        if a.arch == "gemma3" and (i + 1) % 6:
            c = a.swa + b
        if a.arch == "gptoss" and i % 2 == 0:
            c = 4096 + b
        kv_layers.append(c * 2 * a.head_dim * a.kv * 2)
    e, h, v = a.emb, a.heads, a.vocab
    if a.arch == "llama":
        graph = max(4 * b * (1 + 4 * e + ctx * (1 + h)), 4 * b * (e + v))
    elif a.arch == "gemma3":
        graph = max(4 * b * (e + v), 4 * b * (2 + ctx + ctx * h + 2 * e + 2 * a.head_dim * h))
    elif a.arch == "gptoss":
        graph = (4 + (ctx >> 10) + 110) * 2**20
    else:  # qwen3, qwen3moe, phi3: no GraphSize line, so llm/memory.go's GQA × kv / 6
        graph = (h // a.kv) * sum(kv_layers) // 6
    buffer = layer[0] + kv_layers[0]
    return sum(layer) + output + sum(kv_layers) + graph + CUDA_MIN + buffer + projector


MODELS = [("llama3.3", "70b", "q4_K_M"), ("llama3.1", "8b", "q4_K_M"), ("qwen3", "32b", "q4_K_M"),
          ("qwen3", "30b-a3b", "q4_K_M"), ("gemma3", "27b", "q4_K_M"), ("phi4", "14b", "q4_K_M"),
          ("mixtral", "8x7b", "q4_0"), ("gpt-oss", "20b", "mxfp4"), ("gemma3", "4b", "q4_K_M")]
PROJECTOR = {("gemma3", "4b"): 851_251_104, ("gemma3", "27b"): 851_251_104}


def published() -> list[tuple[str, float, float]]:
    rows = []
    e, _ = ours("llama3.3", "70b", "q4_K_M", 64000)
    rows.append(("llama 70B KV at num_ctx 64000 (ollama#9181 log: 19.5 GiB)", 19.5,
                 e.kv_bytes / GiB))
    e, _ = ours("qwen3", "32b", "q6_K", 32768, gpus=3, free_gib=23.5)
    # memory.required.full = the GPUs' allocations + layers that overflow (token_embd is in none)
    required = e.vram_bytes if e.placement == "gpu" else e.vram_bytes + e.ram_bytes
    rows.append(("Qwen3-32B Q6_K 32K on 3×RTX 3090 (ollama#10740 log: 67.3 GiB required)", 67.3,
                 required / GiB))
    e8, _ = ours("llama3.3", "70b", "q4_K_M", 8192, free_gib=64)
    e2, _ = ours("llama3.3", "70b", "q4_K_M", 2048, free_gib=64)
    rows.append(("Llama 3.3 70B Q4_K_M in VRAM, 8K (seed table ≈46 GB, context unstated)", 46.0,
                 e8.vram_bytes / GB))
    rows.append(("  the same at 2K", 46.0, e2.vram_bytes / GB))
    q8, _ = ours("llama3.3", "70b", "q4_K_M", 8192, kv="q8_0")
    f16, _ = ours("llama3.3", "70b", "q4_K_M", 8192)
    rows.append(("q8_0/f16 KV ratio (real buffers 5712/10752 MiB in a public log)", 5712 / 10752,
                 q8.kv_bytes / f16.kv_bytes))
    return rows


def fit_logged() -> list[tuple[str, float, float]]:
    """(case, logged MiB, quantpick MiB) for the llama-server era."""
    def arch(model, size, quant="q4_K_M"):
        return parse_header(world.gguf_header(model, size, quant))

    rows = []
    a3 = arch("llama3.2", "3b")
    rows.append(("llama3.2 3B, ctx 4096, f16: KV buffer (Ollama llama_server_test.go)", 448.0,
                 sum(base.kv_layers(a3, 4096, 1, "f16", 512)) / MiB))
    rows.append(("  its compute buffer, FA on, ub 512, outputs = ub (b9452 era)", 256.50,
                 base.compute_bytes(a3, 4096, 512, 512, True) / MiB))
    moe = arch("qwen3", "30b-a3b")
    m = base.Model(moe, model_bytes("qwen3", "30b-a3b", "q4_K_M"))
    ub = fit.auto_batch(32768, fit.predicted(m, 32768, 1), 48 * GiB, "metal", True)
    rows.append(("Qwen3-coder 30B-A3B, ctx 32768, f16: KV buffer (ollama#17024, M1 Max)", 3072.0,
                 sum(base.kv_layers(moe, 32768, 1, "f16", ub)) / MiB))
    # The log has no ubatch. Ollama's auto batch would pass `ub`, but llama-server itself logs
    # 120.01 MiB at ub 512 and 240.02 at ub 1024 for this shape (CPU, bench/calibration.json):
    # 109 fits ub 512 only, so that is the row.
    rows.append((f"  its compute buffer, FA auto, ub 512 (not logged; auto batch {ub}), 1 out", 109.0,
                 base.compute_bytes(moe, 32768, 512, 1, True) / MiB))
    a8 = arch("llama3.1", "8b")
    rows.append(("llama 8B, ctx 8192, FA off, outputs = ub: compute (ollama#11292)", 560.01,
                 base.compute_bytes(a8, 8192, 512, 512, False) / MiB))
    from dataclasses import replace

    a7 = replace(a8, vocab_size=32000, feed_forward_length=11008)  # a Llama-2-shaped 7B
    for ctx, logged in ((2048, 164.0), (32768, 2144.0)):
        rows.append((f"7B, ctx {ctx}, FA off: compute (llama.cpp log, logdetective#106)", logged,
                     base.compute_bytes(a7, ctx, 512, 512, False) / MiB))
    rows.append(("llama-server's margin per device (ollama#16533: 'will leave ... >= 1038 MiB')",
                 1038.0, fit.FIT_TARGET / MiB))
    return rows


def eras_side_by_side() -> list[str]:
    """The same artifact on the same card, as three releases place it."""
    from ollama_quantpick.release import Release

    out = [f"{'artifact, budget':<40}{'release':>9}{'estimator':>10}{'placement':>28}"
           f"{'VRAM GiB':>10}{'need GiB':>10}{'tok/s':>7}"]
    cases = [("qwen3", "32b", "q4_K_M", 8192, 23.0, 1008),
             ("qwen3", "30b-a3b", "q4_K_M", 4096, 16 * 10**9 / GiB, 448),
             ("llama3.3", "70b", "q4_K_M", 8192, 24.0, 936)]
    for model, size, quant, ctx, vram, bw in cases:
        a = world.Artifact(model, size, quant, [])
        m = base.Model(parse_header(world.gguf_header(model, size, quant)), a.model_bytes)
        b = Budget([int(vram * GiB)], 64 * GB, "cuda", bw, 51.2)
        for version in ((0, 11, 4), (0, 12, 6), (0, 32, 15)):
            e = estimators.estimate(m, lookup(quant), b, release=Release(version), ctx=ctx)
            label = f"{model}:{size} {quant} {ctx // 1024}K, {vram:.1f} GiB"
            out.append(f"{label:<40}{'.'.join(map(str, version)):>9}{e.estimator:>10}"
                       f"{e.fit_label:>28}{e.vram_bytes / GiB:>10.2f}{e.need_bytes / GiB:>10.2f}"
                       f"{e.tokens_per_s or 0:>7.1f}")
    return out


def main() -> int:
    print("ERA legacy (Ollama <= v0.12.10; llama-engine models to v0.24)\n")
    print("1. Against figures Ollama printed (public issue threads)\n")
    print(f"{'case':<78}{'Ollama':>9}{'quantpick':>11}{'error':>9}")
    for label, theirs, mine in published():
        print(f"{label:<78}{theirs:>9.2f}{mine:>11.2f}{(mine - theirs) / theirs:>+9.1%}")
    print("\n2. Against Ollama's formula in closed form (one GPU, full offload), GB\n")
    print(f"{'model':<22}{'ctx':>7}{'formula':>10}{'quantpick':>11}{'error':>9}")
    worst = 0.0
    for model, size, quant in MODELS:
        cap = world.ARCH[(model, size)].ctx
        for ctx in sorted({min(c, cap) for c in (2048, 8192, 32768, 131072)}):
            proj = PROJECTOR.get((model, size), 0)
            e, _ = ours(model, size, quant, ctx, projector=proj)
            ref = closed_form(model, size, quant, ctx, proj)
            err = (e.vram_bytes - ref) / ref
            worst = max(worst, abs(err))
            print(f"{model + ':' + size + ' ' + quant:<22}{ctx:>7}{ref / GB:>10.2f}"
                  f"{e.vram_bytes / GB:>11.2f}{err:>+9.2%}")
    print(f"\nworst relative error against the formula: {worst:.2%}")
    print("\nERA layout (v0.11.11-v0.24, Ollama engine): no public log gives model, context and "
          "batch with its measured graph; nothing to hold it against")
    print("\nERA fit (v0.30+, llama-server): against logged buffer sizes, MiB\n")
    print(f"{'case':<78}{'logged':>9}{'quantpick':>11}{'error':>9}")
    worst_fit = 0.0
    for label, theirs, mine in fit_logged():
        err = (mine - theirs) / theirs
        worst_fit = max(worst_fit, abs(err))
        print(f"{label:<78}{theirs:>9.1f}{mine:>11.1f}{err:>+9.1%}")
    print(f"\nworst relative error against the logs: {worst_fit:.1%}")
    print("\nThe same artifact as three releases place it (64 GB RAM)\n")
    print("\n".join(eras_side_by_side()))
    return 0 if worst < 0.05 and worst_fit < 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())

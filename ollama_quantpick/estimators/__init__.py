"""Three estimators, one per era of Ollama; the user's release chooses (release.estimator).

- `legacy` (≤ v0.12.10, and llama-engine architectures up to v0.24): Ollama's own estimate,
  `llm/memory.go` + `GraphSize`, what that Ollama decides even where it is wrong.
- `layout` (v0.11.11–v0.24, Ollama-engine architectures): measured sizes laid out per GPU.
- `fit` (v0.30+): llama-server's `--fit`.

Each takes a `Model` and a `Run` and returns an `Estimate`; `estimate` here runs the right one
and puts the real need (`fit.need`) beside it, with a note when the two change the answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from ollama_quantpick import release as rel
from ollama_quantpick.budget import Budget, GiB, MiB
from ollama_quantpick.estimators import fit, layout, legacy
from ollama_quantpick.estimators.base import Estimate, Model, Run
from ollama_quantpick.quants import Quant
from ollama_quantpick.sizes import MAX_SIZE, format_bytes, parse_uint

ESTIMATORS = {"legacy": legacy.estimate, "layout": layout.estimate, "fit": fit.estimate}


def fit_target(env: Mapping[str, str]) -> int | None:
    """LLAMA_ARG_FIT_TARGET (MiB) set on the Ollama server is inherited by llama-server; None
    (llama-server's default margin) when unset or not ASCII digits ('²' passes str.isdigit()
    but is no number to llama-server's std::stoull: planner.env_notes says so)."""
    value = parse_uint(env.get("LLAMA_ARG_FIT_TARGET", "").split(",")[0], limit=MAX_SIZE // MiB)
    return value * MiB if value is not None else None


def estimate(model: Model, quant: Quant, budget: Budget, *, release: rel.Release, ctx: int,
             parallel: int = 1, kv_cache: str = "f16",
             env: Mapping[str, str] | None = None) -> Estimate:
    """What `release` would do with this artifact on `budget`, and what it really needs."""
    env = env or {}
    version, arch = release.version, model.arch.architecture
    name, why = rel.estimator(version, arch, env)
    flash = rel.flash_attention(version, arch, env)
    kv = rel.kv_type(version, arch, kv_cache, flash, env)
    run = Run(ctx, parallel, kv, flash, version, fit_target(env),
              spread=rel.env_flag(env, "OLLAMA_SCHED_SPREAD") is True)
    est = ESTIMATORS[name](model, quant, budget, run)
    est.estimator, est.ollama_version, est.flash = name, rel.show(version), flash
    est.need_bytes = fit.need(model, Run(est.ctx, parallel, kv_cache, True, version))
    notes = [why]
    if kv != kv_cache:
        notes.append(f"Ollama {release.label} runs a {kv_cache} KV cache only with flash "
                     "attention on (OLLAMA_FLASH_ATTENTION=1); planned with f16")
    if version >= rel.LLAMA_SERVER_FROM and arch == "mllama":
        est.placement, est.tokens_per_s, est.tokens_per_s_max = "no", None, None
        notes.append(f"Ollama {release.label} refuses the split-projector llama3.2-vision "
                     "(server/routes.go); it runs on v0.24 or older")
    if budget.backend == "metal" and version >= rel.VRAM_TIERS_FROM and \
            21 * GiB <= budget.tier_vram_bytes < 25 * GiB:
        notes.append("on Apple silicon the GPU's share (recommendedMaxWorkingSetSize) decides "
                     "between the 4K and 32K default context near 23 GiB; it is not certain here")
    if rel.env_flag(env, "LLAMA_ARG_FIT") is False and name == "fit":
        notes.append("LLAMA_ARG_FIT is off: llama-server loads every layer on the GPU without "
                     "checking, so anything short of 'gpu' here fails to load")
    notes += est.notes
    if differs := _differs(est, budget, release):
        notes.append(differs)
    est.notes = notes
    return est


def _differs(est: Estimate, budget: Budget, release: rel.Release) -> str | None:
    """One line when the release's decision and the real need disagree enough to matter."""
    if est.estimator == "fit" or not budget.gpu_free or budget.backend == "cpu":
        return None
    # One GPU holds it whole with llama.cpp's margin; or, split by layers, all of them together.
    room = max(max(budget.gpu_free) - fit.FIT_TARGET,
               sum(budget.gpu_free) - fit.FIT_TARGET * len(budget.gpu_free))
    if est.placement in ("split", "cpu", "no") and est.need_bytes <= room:
        return (f"Ollama {release.label} would not put it all on the GPU ({est.fit_label}), "
                f"though it really needs {format_bytes(est.need_bytes)} and fits: upgrade to Ollama "
                f"0.30 or later, or set num_gpu {est.layers} (Modelfile or API options)")
    if est.placement == "gpu" and est.need_bytes > sum(budget.gpu_free):
        return (f"Ollama {release.label} puts every layer on the GPU by its own estimate, but "
                f"the model really needs {format_bytes(est.need_bytes)}: expect out-of-memory errors; "
                "plan a smaller context (--ctx)")
    return None


__all__ = ["ESTIMATORS", "Estimate", "Model", "Run", "estimate", "fit_target"]

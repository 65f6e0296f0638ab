"""The quality model, the ranking and the decision with its one-line reason. Pure.

quality = exp(-S · m_task · (KLD_quant + KLD_kv) · f(N)),  f(N) = clamp((N_eff/8B)^-alpha)
score = capability(model, N, task) / capability(reference) · quality · speed term, capability from
data/capability.toml (a published benchmark per task; the size law where a size or model has none).
Constants and their sources: data/quants.toml and data/capability.toml.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ollama_quantpick.capability import Capability, relative
from ollama_quantpick.capability import lookup as capability_of
from ollama_quantpick.estimate import Estimate
from ollama_quantpick.quants import Quant, data
from ollama_quantpick.sizes import format_bytes

PLACEMENT_ORDER = {"gpu": 0, "split": 1, "cpu": 2, "no": 3}
# POLICY: quality differences under 0.1 % are ties (far below the model's ±few-% accuracy); ties
# go to the smaller download.
TIE = 0.001
# POLICY: under --prefer speed, any candidate within 5 points of the best quality may win on speed.
SPEED_BAND = 0.05


@dataclass
class Candidate:
    """One artifact (a tag and its aliases) with its estimate on the budget."""

    name: str
    quant: Quant
    params_b: float | None
    active_params_b: float | None
    download_bytes: int
    estimate: Estimate
    aliases: list[str] = field(default_factory=list)
    native: bool = False  # the quant is the model's released precision (gpt-oss MXFP4)
    quality: float = 0.0
    score: float = 0.0
    rank: int = 0
    picked: bool = False
    too_slow: bool = False
    cap: Capability | None = None  # the model's capability for the task (set by rank)

    @property
    def model(self) -> str:
        """`qwen3` of `qwen3:32b-q4_K_M` (`user/model` for a namespaced one)."""
        return self.name.rsplit(":", 1)[0]


@dataclass
class Choice:
    pick: Candidate
    runner_up: Candidate | None
    reason: str
    task: str
    ctx: int
    ctx_hint: str | None = None
    ranked: list[Candidate] = field(default_factory=list)

    def to_json(self) -> dict:
        def one(c: Candidate | None) -> dict | None:
            if c is None:
                return None
            return {"name": c.name, "model": c.model, "aliases": c.aliases,
                    "quant": c.quant.name, "params_b": c.params_b,
                    "capability": c.cap.to_json() if c.cap else None,
                    "capability_source": c.cap.source if c.cap else None,
                    "quality": round(c.quality, 4),
                    "score": round(c.score, 4), "download_bytes": c.download_bytes,
                    "estimate": c.estimate.to_json()}
        return {"name": self.pick.name, "task": self.task, "ctx": self.ctx, "reason": self.reason,
                "ctx_hint": self.ctx_hint, "pick": one(self.pick), "runner_up": one(self.runner_up)}


def task_m(task: str) -> float:
    return data()["tasks"][task]["m"]


def quality(quant: Quant, params_b: float | None, task: str, kv_cache: str = "f16",
            active_params_b: float | None = None, native: bool = False) -> float:
    """Retention in [0, 1] of this quant relative to the same model at full precision."""
    m = data()["model"]
    n_eff = active_params_b or params_b or m["ref_params_b"]
    f = min(m["f_max"], max(m["f_min"], (n_eff / m["ref_params_b"]) ** -m["alpha"]))
    kld = (0.0 if native else quant.kld) + data()["kv_cache"][kv_cache]["kld"]
    return math.exp(-m["S"] * task_m(task) * kld * f)


def speed_utility(tps: float | None, task: str) -> float | None:
    """0..1 from half reading speed up to 4× (chat, creative) or 8× (code, math, reasoning:
    read after completion) reading speed; POLICY anchored on 238 wpm (research 6.4)."""
    if tps is None:
        return None
    read = data()["speed"]["read_tok_s"]
    target = read * (4 if task in ("chat", "creative", "general", "instruct") else 8)
    return min(1.0, max(0.0, math.log(tps / (0.5 * read)) / math.log(target / (0.5 * read))))


def rank(cands: list[Candidate], task: str, prefer: str = "balanced",
         min_tps: float | None = None) -> list[Candidate]:
    """Score and order candidates best first; the first one that fits is picked."""
    for c in cands:
        c.quality = quality(c.quant, c.params_b, task, c.estimate.kv_cache, c.active_params_b,
                            c.native)
        u = speed_utility(c.estimate.tokens_per_s, task)
        weight = {"quality": 0.0, "balanced": 0.1, "speed": 0.5}[prefer]
        # capability relative to the reference model: measured, scaled from a measured size of
        # the same model, or (no data) the reference's scaled by size (data/capability.toml)
        c.cap = capability_of(c.model, c.params_b, c.active_params_b, task)
        c.score = relative(c.cap, task) * c.quality * (1 - weight + weight * (1 if u is None else u))
        tps = c.estimate.speed_cap
        c.too_slow = bool(min_tps and tps is not None and tps < min_tps)
        c.picked = False

    def key(c: Candidate):
        fits = c.estimate.placement != "no"
        place = PLACEMENT_ORDER[c.estimate.placement] if prefer != "quality" else 0
        return (not fits, c.too_slow, place, -round(c.score / TIE), c.download_bytes)

    ordered = sorted(cands, key=key)
    if prefer == "speed":
        ordered = _speed_first(ordered)
    for i, c in enumerate(ordered, 1):
        c.rank = i
    if ordered and ordered[0].estimate.placement != "no" and not ordered[0].too_slow:
        ordered[0].picked = True
    return ordered


def _speed_first(ordered: list[Candidate]) -> list[Candidate]:
    """Within the best placement class, the fastest candidate close enough to the best quality."""
    if not ordered or ordered[0].estimate.placement == "no":
        return ordered
    head = ordered[0]
    pool = [c for c in ordered if c.estimate.placement == head.estimate.placement
            and not c.too_slow and c.score >= head.score - SPEED_BAND]
    fastest = max(pool, key=lambda c: (c.estimate.tokens_per_s or 0, -c.download_bytes))
    return [fastest] + [c for c in ordered if c is not fastest]


def _ctx_label(ctx: int) -> str:
    return f"{ctx // 1024}K" if ctx % 1024 == 0 else str(ctx)


def explain(ranked: list[Candidate], task: str, budget_label: str) -> str:
    """`q5_K_M: best math quality that fits in 24 GB VRAM at 8K context (q6_K would need 27.1 GB)`"""
    pick = ranked[0]
    est = pick.estimate
    where = {"gpu": f"runs fully on the GPU ({budget_label})",
             "split": f"runs split {est.gpu_layers}/{est.layers} layers on the GPU ({budget_label})",
             "cpu": f"runs on the CPU ({budget_label})"}[est.placement]
    better = [c for c in ranked[1:] if c.quality > pick.quality + TIE
              and (c.params_b == pick.params_b)]
    tail = ""
    if better:
        b = min(better, key=lambda c: c.quality)  # the next step up
        if b.estimate.placement == "no":
            tail = f" ({b.quant.name} would need {format_bytes(b.estimate.total_bytes)})"
        elif b.estimate.placement != est.placement:
            tail = f" ({b.quant.name} would be {b.estimate.fit_label})"
        elif b.too_slow:
            tail = f" ({b.quant.name} would run below the minimum speed)"
    size = f"{pick.params_b:g}B " if pick.params_b else ""
    return (f"{size}{pick.quant.name}: best {task} quality that {where} at "
            f"{_ctx_label(est.ctx)} context{tail}")


def nothing_fits(ranked: list[Candidate], budget_label: str) -> str:
    """Why nothing was picked, with the closest candidate and what it lacks."""
    slow = [c for c in ranked if c.estimate.placement != "no"]
    if slow:
        fastest = max(slow, key=lambda c: c.estimate.speed_cap or 0)
        bound = "at most " if fastest.estimate.tokens_per_s is None else "about "
        return (f"nothing runs fast enough on {budget_label}: the fastest that fits, "
                f"{fastest.name}, makes {bound}{fastest.estimate.speed_cap:.1f} tokens/s; "
                "lower --min-speed to accept it")
    closest = min(ranked, key=lambda c: c.estimate.short_bytes)
    return (f"nothing fits {budget_label}: the closest, {closest.name}, needs "
            f"{format_bytes(closest.estimate.total_bytes)} "
            f"({format_bytes(closest.estimate.short_bytes)} more than the budget)")


def decide(evaluate: Callable[[int], list[Candidate]], ctxs: list[int], task: str,
           prefer: str, min_tps: float | None, budget_label: str) -> Choice | list[Candidate]:
    """Rank at each context in `ctxs` (first = the default); take the default context unless a
    smaller one lets a better candidate run (then say which setting to use). Returns the ranked
    list (nothing picked) when nothing fits at any context."""
    best: tuple | None = None
    first_ranked: list[Candidate] = []
    for i, ctx in enumerate(ctxs):
        ranked = rank(evaluate(ctx), task, prefer, min_tps)
        if i == 0:
            first_ranked = ranked
        if not ranked or not ranked[0].picked:
            continue
        head = ranked[0]
        quality_key = (-PLACEMENT_ORDER[head.estimate.placement] if prefer != "quality" else 0,
                       round(head.score / TIE))
        if best is None or quality_key > best[0]:
            best = (quality_key, ctx, ranked)
    if best is None:
        return first_ranked
    _, ctx, ranked = best
    hint = None
    if ctx != ctxs[0]:
        hint = (f"at the default {_ctx_label(ctxs[0])} context this would not fit as well; "
                f"run it with OLLAMA_CONTEXT_LENGTH={ctx} (or num_ctx {ctx} in a Modelfile or "
                "request)")
    runner = next((c for c in ranked[1:] if c.estimate.placement != "no"), None)
    return Choice(ranked[0], runner, explain(ranked, task, budget_label), task, ctx, hint, ranked)

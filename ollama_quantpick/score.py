"""The quality model, the ranking and the decision with its one-line reason. Pure.

quality = exp(-S · m_task · (KLD_quant + KLD_kv) · f(N)),  f(N) = clamp((N_eff/8B)^-alpha)
score = capability(model, N, task) / capability(reference) · quality · speed term, capability from
data/capability.toml (a published benchmark per task; the size law where a size or model has none).
Constants and their sources: data/quants.toml and data/capability.toml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ollama_quantpick.capability import Capability, relative
from ollama_quantpick.capability import lookup as capability_of
from ollama_quantpick.estimate import Estimate
from ollama_quantpick.quants import Quant, data
from ollama_quantpick.sizes import format_bytes

PLACEMENT_ORDER = {"gpu": 0, "split": 1, "cpu": 2, "no": 3}
# POLICY: score differences within 0.1 % (relative) are ties (far below the model's ±few-%
# accuracy); ties go to the smaller download, then the faster tag (rank: _break_ties).
TIE = 0.001
# POLICY: under --prefer speed, any candidate within 5 points of the best quality may win on speed.
SPEED_BAND = 0.05
# POLICY: leaving Ollama's context (or its KV type) must buy at least 1 % more task quality, or a
# better place to run: smaller gains are below what the quality model can tell apart.
SETTING_GAIN = 0.01
# POLICY: a tag "keeps" a task when it retains at least 97 % of full-precision quality; the tag
# to consider when nothing runs is the cheapest one that keeps it.
KEEPS = 0.97


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
    merit: float = 0.0  # capability x quality: what the model can do, before speed
    score: float = 0.0
    rank: int = 0
    picked: bool = False
    too_slow: bool = False
    cap: Capability | None = None  # the model's capability for the task (set by rank)
    blocked: str = ""  # why it is listed but never picked (split Hub file, type without evidence)
    # The artifact it was made from (artifacts.Artifact): the commands pull and show it from
    # here instead of looking it up again by name. Scoring never reads it.
    artifact: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        """The one JSON shape of a candidate (docs/json.md, "candidate")."""
        return {"name": self.name, "model": self.model, "aliases": self.aliases,
                "quant": self.quant.name, "params_b": self.params_b,
                "capability": self.cap.to_json() if self.cap else None,
                "capability_source": self.cap.source if self.cap else None,
                "quality": round(self.quality, 4), "score": round(self.score, 4),
                "download_bytes": self.download_bytes, "estimate": self.estimate.to_json()}

    @property
    def model(self) -> str:
        """`qwen3` of `qwen3:32b-q4_K_M` (`user/model` for a namespaced one)."""
        return self.name.rsplit(":", 1)[0]


@dataclass
class Choice:
    """The chosen tag, the runner-up and why, at the context chosen."""

    pick: Candidate
    runner_up: Candidate | None
    reason: str
    task: str
    ctx: int
    ctx_hint: str | None = None  # the setting to make on the Ollama server, in words
    ranked: list[Candidate] = field(default_factory=list)
    decided: str = "quality"  # quality | fit | speed | context
    settings: dict[str, str] = field(default_factory=dict)  # env vars the pick needs

    def to_json(self) -> dict:
        def one(c: Candidate | None) -> dict | None:
            return None if c is None else c.to_json()
        return {"name": self.pick.name, "task": self.task, "ctx": self.ctx, "reason": self.reason,
                "decided": self.decided, "ctx_hint": self.ctx_hint, "settings": self.settings,
                "pick": one(self.pick), "runner_up": one(self.runner_up)}


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
    read after completion) reading speed; POLICY anchored on 238 wpm (docs/speed.md)."""
    if tps is None:
        return None
    read = data()["speed"]["read_tok_s"]
    target = read * (4 if task in STREAMED else 8)
    return min(1.0, max(0.0, math.log(tps / (0.5 * read)) / math.log(target / (0.5 * read))))


STREAMED = ("chat", "creative", "general", "instruct")


def comfort(tps: float | None, task: str) -> float | None:
    """0..1 from half reading speed to reading speed (streamed tasks) or twice reading speed
    (code, math, reasoning: read after completion). POLICY for `--prefer balanced`: past that
    point a faster tag is not a better answer, so speed stops trading against quality."""
    if tps is None:
        return None
    read = data()["speed"]["read_tok_s"]
    target = read * (1 if task in STREAMED else 2)
    return min(1.0, max(0.0, math.log(tps / (0.5 * read)) / math.log(target / (0.5 * read))))


def rank(cands: list[Candidate], task: str, prefer: str = "balanced",
         min_speed: float | None = None) -> list[Candidate]:
    """Score and order candidates best first; the first one that fits is picked."""
    for c in cands:
        c.quality = quality(c.quant, c.params_b, task, c.estimate.kv_cache, c.active_params_b,
                            c.native)
        # The exact speed, else its upper bound (GPU bandwidth unknown: the CPU part alone
        # bounds a split tag), so an unknown speed never scores above a known one at that bound.
        # None only for a tag wholly on a GPU of unknown bandwidth: nothing bounds it, and the
        # GPU is the fastest place it can run, so it keeps the full term (docking it would rank
        # the CPU and split tags, whose speed is known only because it is slow, above it).
        tps = c.estimate.speed_cap
        u = speed_utility(tps, task) if prefer == "speed" else comfort(tps, task)
        # POLICY (docs/quality.md, scalar form): speed can cost a balanced pick at most 25 %.
        weight = {"quality": 0.0, "balanced": 0.25, "speed": 0.5}[prefer]
        # capability relative to the reference model: measured, scaled from a measured size of
        # the same model, or (no data) the reference's scaled by size (data/capability.toml)
        c.cap = capability_of(c.model, c.params_b, c.active_params_b, task,
                              c.name.rsplit(":", 1)[-1])
        c.merit = relative(c.cap, task) * c.quality
        c.score = c.merit * (1 - weight + weight * (1 if u is None else u))
        c.too_slow = bool(min_speed and tps is not None and tps < min_speed)
        c.picked = False

    def group(c: Candidate) -> tuple:
        fits = c.estimate.placement != "no"
        place = PLACEMENT_ORDER[c.estimate.placement] if prefer != "quality" else 0
        return (not fits, bool(c.blocked), c.too_slow, place)

    # A total order first (the name settles exact ties), so the result never depends on the
    # order the candidates came in; then the ties.
    ordered = _break_ties(sorted(cands, key=lambda c: (*group(c), -c.score, _lighter(c), c.name)),
                          group)
    if prefer == "speed":
        ordered = _speed_first(ordered)
    for i, c in enumerate(ordered, 1):
        c.rank = i
    if ordered and ordered[0].estimate.placement != "no" and not ordered[0].too_slow \
            and not ordered[0].blocked:
        ordered[0].picked = True
    return ordered


def _lighter(c: Candidate) -> tuple[int, float]:
    """What wins a tie: the smaller download, then the faster tag."""
    return c.download_bytes, -(c.estimate.speed_cap or 0.0)


def _break_ties(ordered: list[Candidate], group) -> list[Candidate]:
    """Let a candidate whose score is within a relative TIE of the one just above it (same
    group: placement, fit, speed floor) move ahead of it when it is lighter (`_lighter`), as
    `step_up` and `better` count only a gain above TIE. Each swap puts a lighter tag before a
    heavier one, so the passes end; adjacent pairs only, so a chain of near-ties does not let
    the last tag jump a clearly better first one."""
    out = list(ordered)
    moved = True
    while moved:
        moved = False
        for i in range(1, len(out)):
            above, c = out[i - 1], out[i]
            if group(above) == group(c) and above.score <= c.score * (1 + TIE) \
                    and _lighter(c) < _lighter(above):
                out[i - 1], out[i] = c, above
                moved = True
    return out


def _speed_first(ordered: list[Candidate]) -> list[Candidate]:
    """Within the best placement class, the fastest candidate close enough to the best quality."""
    if not ordered or ordered[0].estimate.placement == "no":
        return ordered
    head = ordered[0]
    pool = [c for c in ordered if c.estimate.placement == head.estimate.placement
            and not c.too_slow and not c.blocked and c.score >= head.score - SPEED_BAND] or [head]
    fastest = max(pool, key=lambda c: (c.estimate.tokens_per_s or 0, -c.download_bytes))
    return [fastest] + [c for c in ordered if c is not fastest]


def _ctx_label(ctx: int) -> str:
    return f"{ctx // 1024}K" if ctx % 1024 == 0 else str(ctx)


def _tps(tps: float | None) -> str:
    if tps is None:
        return "speed unknown"
    return f"{tps:.0f} tokens/s" if tps >= 10 else f"{tps:.1f} tokens/s"


def _speed(est: Estimate) -> str:
    """'35 tokens/s', 'at most 12 tokens/s' (GPU bandwidth unknown) or 'speed unknown'."""
    if est.tokens_per_s is None and est.tokens_per_s_max is not None:
        return "at most " + _tps(est.tokens_per_s_max)
    return _tps(est.tokens_per_s)


def _label(c: Candidate) -> str:
    return f"{c.params_b:g}B {c.quant.name}" if c.params_b else c.quant.name


def _where(est: Estimate, budget_label: str) -> str:
    return {"gpu": f"runs fully on the GPU ({budget_label})",
            "split": f"runs split {est.gpu_layers}/{est.layers} layers on the GPU ({budget_label})",
            "cpu": f"runs on the CPU ({budget_label})",
            "no": f"does not fit ({budget_label})"}[est.placement]


def _placed(est: Estimate) -> str:
    return {"gpu": "would run fully on the GPU", "split": f"would be {est.fit_label}",
            "cpu": "would run on the CPU", "no": "would not fit"}[est.placement]


def step_up(ranked: list[Candidate], pick: Candidate) -> Candidate | None:
    """The next better tag the pick was preferred over: the least merit above the pick's among
    those that fit (the pick beat them on speed or placement: that is what decided), else among
    those that do not. A tag that cannot fit, of another model say, is no reason to name while
    a better one that fits was passed over."""
    better = [c for c in ranked if c is not pick and not c.blocked
              and c.merit > pick.merit * (1 + TIE)]
    fitting = [c for c in better if c.estimate.placement != "no"]
    return min(fitting or better, key=lambda c: c.merit) if better else None


def _name(b: Candidate, pick: Candidate) -> str:
    """How the reason names `b` beside the pick: its quant when only that differs, its size too
    when that differs, and its model when it is another model's ('llama3.3 70B q4_0')."""
    if b.model != pick.model:
        return f"{b.model} {_label(b)}"
    return _label(b) if b.params_b != pick.params_b else b.quant.name


def trade_off(b: Candidate, pick: Candidate, min_speed: float | None) -> tuple[str, str]:
    """(what decided, the runner-up's trade-off in plain words) for a better tag `b` passed over."""
    est, name = b.estimate, _name(b, pick)
    if est.placement == "no":
        return "fit", f"{name} would need {format_bytes(est.total_bytes)}"
    speed = _speed(est).replace("tokens/s", "t/s")
    speed = speed if speed.startswith("at most") else f"at {speed}"
    if b.too_slow:
        place = {"gpu": "fit on the GPU", "split": f"be {est.fit_label}",
                 "cpu": "run on the CPU"}[est.placement]
        return "speed", f"{name} would {place} {speed}, below the {min_speed or 0:g} t/s minimum"
    if est.placement != pick.estimate.placement:
        return "speed", f"{name} {_placed(est)} {speed}"
    return "speed", f"{name} would run {speed}"


def explain(ranked: list[Candidate], task: str, budget_label: str, min_speed: float | None = None,
            pick: Candidate | None = None) -> tuple[str, str]:
    """(the one-line reason, what decided: quality | fit | speed). Names the next better tag
    passed over and why: `32B q4_K_M: chosen for speed; runs fully on the GPU (...) at 8K
    context, 35 tokens/s; q8_0 would be split 40/65 at 4.1 t/s`."""
    pick = pick or ranked[0]
    est = pick.estimate
    where = f"{_where(est, budget_label)} at {_ctx_label(est.ctx)} context, {_speed(est)}"
    b = step_up(ranked, pick)
    if b is None:
        return f"{_label(pick)}: best {task} quality; {where}{low_bit_note(pick, task)}", "quality"
    decided, why = trade_off(b, pick, min_speed)
    if decided == "fit" or (b.estimate.placement != pick.estimate.placement and not b.too_slow
                            and pick.estimate.placement == "gpu"):
        decided = "fit"
        lead = "best that fits on the GPU" if pick.estimate.placement == "gpu" else "best that fits"
    else:
        lead = "chosen for speed"
    return f"{_label(pick)}: {lead}; {where}; {why}{low_bit_note(pick, task)}", decided


def low_bit_note(c: Candidate, task: str) -> str:
    """Below 3 bits per weight the losses differ by task (math loses about 3x what knowledge QA
    does: data/quants.toml [tasks]); say what the pick keeps for the task, math and code."""
    if c.quant.bpw_block >= 3.0 or c.native:
        return ""
    bpw = (c.estimate.weights_bytes * 8 / (c.params_b * 1e9) if c.params_b
           else c.quant.bpw_file)

    def keeps(t: str) -> str:
        q = quality(c.quant, c.params_b, t, c.estimate.kv_cache, c.active_params_b, c.native)
        return f"{q * 100:.0f}%"
    others = [t for t in ("math", "code") if t != task]
    return (f"; {c.quant.name} is a {max(1, int(c.quant.bpw_block))}-bit quant ({bpw:.2f} bits "
            f"per weight): it keeps about {keeps(task)} of full-precision quality for {task}, "
            "but " + " and ".join(f"{keeps(t)} for {t}" for t in others))


def to_consider(ranked: list[Candidate]) -> Candidate:
    """When nothing is picked, the tag a user should consider: among those that fit but run too
    slowly, the fastest that keeps the task (KEEPS); else, among those that do not fit, the
    smallest that keeps it; else the best quality of the group."""
    group = [c for c in ranked if c.estimate.placement != "no"] or ranked
    keep = [c for c in group if c.quality >= KEEPS]
    if not keep:
        return max(group, key=lambda c: (c.merit, -c.download_bytes))
    if group[0].estimate.placement != "no":
        return max(keep, key=lambda c: (c.estimate.speed_cap or 0, c.merit))
    return min(keep, key=lambda c: (c.estimate.total_bytes, -c.merit))


def nothing_fits(ranked: list[Candidate], budget_label: str, min_speed: float | None = None,
                 extra: str = "") -> str:
    """Why nothing was picked: the tag to consider (`to_consider`) and what it lacks, memory or
    speed, at which context."""
    fitting = [c for c in ranked if c.estimate.placement != "no"]
    if fitting and all(c.blocked for c in fitting):
        return (f"nothing that fits {budget_label} can be pulled: {fitting[0].name} is listed "
                f"only: {fitting[0].blocked}{extra}")
    closest = to_consider([c for c in ranked if not c.blocked] or ranked)
    est = closest.estimate
    ctx = _ctx_label(est.ctx)
    if est.placement != "no":
        bound = "" if est.tokens_per_s is None else "about "
        fastest = max(ranked, key=lambda c: c.estimate.speed_cap or 0)
        tail = "" if fastest is closest else (
            f" (the fastest, {fastest.name}, makes {_speed(fastest.estimate)})")
        accept = math.floor((est.speed_cap or 0) * 10) / 10
        return (f"nothing runs fast enough on {budget_label}: the one to consider, {closest.name}, "
                f"{_where(est, budget_label).split(' (')[0]} at {ctx} context but makes {bound}"
                f"{_speed(est)}{tail}; --min-speed {accept:g} accepts it{extra}")
    return (f"nothing fits {budget_label}: the one to consider, {closest.name}, needs "
            f"{format_bytes(est.total_bytes)} at {ctx} context "
            f"({format_bytes(est.short_bytes)} more than the budget){extra}")


def better(a: Candidate, b: Candidate | None, prefer: str = "balanced",
           gain: float = TIE) -> bool:
    """Whether `a` is a better answer than `b` regardless of context: a better place to run, or
    the same place and more merit (speed aside: a smaller context is always a little faster)."""
    if b is None:
        return True
    if prefer != "quality" and PLACEMENT_ORDER[a.estimate.placement] != \
            PLACEMENT_ORDER[b.estimate.placement]:
        return PLACEMENT_ORDER[a.estimate.placement] < PLACEMENT_ORDER[b.estimate.placement]
    return a.merit > b.merit * (1 + gain)


@dataclass
class Option:
    """One way to run: a context and KV cache type, the ranking there, and the settings."""

    ctx: int
    kv_cache: str
    ranked: list[Candidate]
    settings: dict[str, str] = field(default_factory=dict)
    hint: str | None = None

    @property
    def pick(self) -> Candidate | None:
        return self.ranked[0] if self.ranked and self.ranked[0].picked else None


def best_option(base: Option, alternatives: list[Option], task: str, prefer: str,
           min_speed: float | None, budget_label: str, default_ctx: int) -> Choice | None:
    """Take `base` (Ollama's context, or the task's floor when that is higher) unless an
    alternative (a q8_0 KV cache, then smaller contexts) lets a better tag run fully on the GPU,
    better by SETTING_GAIN or in placement; when `base` picks nothing, the first alternative that
    picks anything. A later alternative must beat the one chosen. None when nothing is picked."""
    chosen = base if base.pick else None
    for opt in alternatives:
        p = opt.pick
        if p is None or (chosen is not None and p.estimate.placement != "gpu"):
            continue  # with something picked already, only a better tag on the GPU is worth it
        if chosen is None or (p.name != chosen.pick.name
                              and better(p, chosen.pick, prefer, SETTING_GAIN)):
            chosen = opt
    if chosen is None:
        return None
    pick = chosen.pick
    assert pick is not None  # chosen only when it picks something
    reason, decided = explain(chosen.ranked, task, budget_label, min_speed)
    if chosen is not base:
        decided = "context" if chosen.kv_cache == base.kv_cache else "fit"
        was = (f"{base.pick.name} {_placed(base.pick.estimate)}" if base.pick
               else "no tag runs well enough")
        reason = (f"{_label(pick)}: "
                  + ("chosen at a smaller context" if decided == "context" else
                     "fits with a q8_0 KV cache")
                  + f"; {_where(pick.estimate, budget_label)} at {_ctx_label(chosen.ctx)} context, "
                  f"{_speed(pick.estimate)}; at {_ctx_label(base.ctx)} with an "
                  f"{base.kv_cache} KV cache {was}")
    runner = next((c for c in chosen.ranked[1:] if c.estimate.placement != "no"), None)
    hint = chosen.hint if chosen is not base else base.hint
    return Choice(pick, runner, reason, task, chosen.ctx, hint, chosen.ranked, decided,
                  dict(chosen.settings))

"""Deciding across models: why the pick beat the other models, and which other models to offer
when the asked one does not run here. Pure: candidates in, sentences and choices out."""

from __future__ import annotations

from ollama_quantpick import capability as capmod
from ollama_quantpick.score import Candidate


def min_bpw() -> float:
    """The smallest file a size is usually pulled at: q2_K's whole-file bits per weight
    (data/quants.toml) decides which families are worth fetching as alternatives; the real fit
    is estimated after."""
    from ollama_quantpick.quants import data

    return data()["quants"]["q2_K"]["bpw_file"]


def speed(c: Candidate) -> str:
    est = c.estimate
    if est.tokens_per_s is not None:
        return f"{est.tokens_per_s:.1f} tokens/s"
    if est.tokens_per_s_max is not None:
        return f"at most {est.tokens_per_s_max:.1f} tokens/s"
    return "speed unknown"


def where(c: Candidate) -> str:
    est = c.estimate
    if est.placement == "no":
        return f"does not fit (needs {_gb(est.total_bytes)})"
    if est.placement == "split":
        return f"split {est.gpu_layers}/{est.layers} layers, {speed(c)}"
    return f"{'fits the GPU' if est.placement == 'gpu' else 'CPU'}, {speed(c)}"


def _gb(n: int) -> str:
    from ollama_quantpick.sizes import format_bytes

    return format_bytes(n)


def _cap(c: Candidate) -> str:
    cap = c.cap
    if cap is None:
        return "no capability"
    return f"{cap.value:.1f}" + ("" if cap.measured else " (estimated)")


def best_per_model(ranked: list[Candidate]) -> dict[str, Candidate]:
    """Each model's best-ranked candidate, in ranking order."""
    out: dict[str, Candidate] = {}
    for c in ranked:
        out.setdefault(c.model, c)
    return out


def closest(cands: list[Candidate]) -> Candidate:
    """A model's tag that comes nearest to running here: its best-ranked usable one, else the
    fastest that fits, else the one that misses the budget by least."""
    usable = [c for c in cands if c.estimate.placement != "no" and not c.too_slow]
    if usable:
        return usable[0]
    fitting = [c for c in cands if c.estimate.placement != "no"]
    if fitting:
        return max(fitting, key=lambda c: c.estimate.speed_cap or 0)
    return min(cands, key=lambda c: c.estimate.short_bytes)


def why_not(ranked: list[Candidate], pick: Candidate, task: str) -> str:
    """`over llama3.3: its closest, llama3.3:70b-instruct-q3_K_M, runs below the minimum speed
    (2.1 tokens/s); LiveBench Coding 51.8 vs 64.2` — one clause per other model, in numbers."""
    bench = capmod.benchmark(task).split(" (")[0]
    by_model: dict[str, list[Candidate]] = {}
    for c in ranked:
        by_model.setdefault(c.model, []).append(c)
    parts = []
    for model, cands in by_model.items():
        if model == pick.model:
            continue
        c = closest(cands)
        if c.estimate.placement == "no":
            lacks = f"no tag fits; the closest, {c.name}, needs {_gb(c.estimate.total_bytes)}"
        elif c.too_slow:
            lacks = f"its fastest, {c.name}, runs below the minimum speed ({where(c)})"
        else:
            lacks = f"its best, {c.name}, {where(c)}, score {c.score:.3f} vs {pick.score:.3f}"
        parts.append(f"over {model}: {lacks}; {bench} {_cap(c)} vs {_cap(pick)}")
    return " | ".join(parts)


def data_notes(cands: list[Candidate]) -> list[str]:
    """`no benchmark data for phi4:14b (code): ...` once per model that had to fall back."""
    notes: dict[str, str] = {}
    for c in cands:
        if c.cap is not None and c.cap.note and c.model not in notes:
            notes[c.model] = f"{c.cap.note}: {c.cap.basis}"
    return list(notes.values())


def target_capability(ranked: list[Candidate]) -> float:
    """The asked models' best capability for the task: what an alternative must reach."""
    return max((c.cap.value for c in ranked if c.cap is not None), default=0.0)


def alternative_sizes(asked: set[str], task: str, target: float,
                      budget_bytes: int) -> dict[str, list[capmod.Row]]:
    """Families of the capability table, other than the asked ones, with a MEASURED size that
    scores at least `target` on the task and could fit the budget at q2_K or better."""
    out: dict[str, list[capmod.Row]] = {}
    for row in capmod.rows():
        score = row.scores.get(task)
        if row.model in asked or score is None or score < target or not row.params_b:
            continue
        if (row.weights_b or 0) * 1e9 * min_bpw() / 8 > budget_bytes:
            continue
        out.setdefault(row.model, []).append(row)
    return out


def choose_alternatives(picks: list[Candidate], limit: int = 3) -> list[Candidate]:
    """The best fitting, fast-enough pick of each other family, best score first."""
    ok = [c for c in picks if c.estimate.placement != "no" and not c.too_slow]
    return sorted(ok, key=lambda c: -c.score)[:limit]


def describe(c: Candidate, target: float, task: str) -> str:
    bench = capmod.benchmark(task).split(" (")[0]
    return f"{c.name} ({where(c)}, {bench} {_cap(c)} vs {target:.1f})"


def to_json(c: Candidate) -> dict:
    return {"model": c.model, "name": c.name, "quant": c.quant.name, "params_b": c.params_b,
            "score": round(c.score, 4), "quality": round(c.quality, 4),
            "capability": c.cap.to_json() if c.cap else None,
            "capability_source": c.cap.source if c.cap else None,
            "estimate": c.estimate.to_json()}

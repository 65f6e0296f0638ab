"""The answer object `--json` prints for pick, pull and `tags`' "pick" field (docs/json.md): the
same keys whether the answer is "yes" (a choice) or "no" (the closest candidate and what it lacks).
"""

from __future__ import annotations


def answer_json(result, reason: str | None = None, pick=None) -> dict:
    """From a planner Plan: its choice ("yes"), an explicit tag that passes (`pick`), or "no"."""
    from ollama_quantpick.planner import budget_label
    from ollama_quantpick.score import nothing_fits

    req = result.request
    base = {"answer": "yes", "name": None, "task": req.task, "ctx": result.ctx, "reason": reason,
            "ctx_hint": None, "decided": None, "settings": {}, "pick": None, "runner_up": None,
            "closest": None, "lacks": None,
            "alternatives": [], "target_capability": None}
    if result.choice is not None and (pick is None or pick is result.choice.pick):
        out = {**base, **result.choice.to_json()}
        if result.target is not None:  # an explicit MODEL:TAG was checked: nothing decided it
            out["decided"] = None
        return out
    if pick is not None:  # an explicit MODEL:TAG that fits
        return {**base, "name": pick.name, "ctx": pick.estimate.ctx, "pick": candidate_json(pick)}
    if reason is None:
        reason = (nothing_fits(result.ranked, budget_label(req.budget), req.min_speed)
                  if result.ranked
                  else f"{req.label} has no tag that runs locally (only cloud tags)")
    return no_answer(base, result.ranked, reason, req.min_speed)


def candidate_json(c) -> dict:
    return c.to_json()


def no_answer(base: dict, ranked: list, reason: str, min_speed: float | None) -> dict:
    """`"answer": "no"`: the closest candidate and what it lacks — memory (bytes beyond the
    budget) or speed (tokens/s short of the minimum)."""
    from ollama_quantpick.score import to_consider

    closest, lacks = None, None
    if ranked:  # the tag to consider, as the reason names it (score.to_consider)
        closest = to_consider(ranked)
        speed = closest.estimate.speed_cap
        if closest.estimate.placement != "no":
            lacks = {"memory_bytes": 0, "tokens_per_s": round(min_speed - speed, 2)
                     if min_speed is not None and speed is not None else None}
        else:
            lacks = {"memory_bytes": closest.estimate.short_bytes, "tokens_per_s": None}
    return {**base, "answer": "no", "reason": reason,
            "closest": None if closest is None else candidate_json(closest), "lacks": lacks}

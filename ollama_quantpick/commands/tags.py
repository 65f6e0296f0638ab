"""`quantpick tags MODEL...`: every tag of a model (or of several, in one ranking), ranked for the
task, with fit and why."""

from __future__ import annotations

import click

from ollama_quantpick.commands import answers, common
from ollama_quantpick.sizes import format_bytes


def _params(c) -> str:
    if not c.params_b:
        return "-"
    return f"{c.params_b:g}B" + (f"/a{c.active_params_b:g}B" if c.active_params_b else "")


def _speed(est) -> str:
    if est.placement == "no":
        return "-"
    if est.tokens_per_s is not None:
        return f"{est.tokens_per_s:.0f}" if est.tokens_per_s >= 10 else f"{est.tokens_per_s:.1f}"
    return f"<{est.tokens_per_s_max:.1f}" if est.tokens_per_s_max is not None else "-"


def _ctx(n: int | None) -> str:
    return "-" if not n else f"{n // 1024}K" if n % 1024 == 0 else str(n)


def runs(c) -> bool:
    """The tag can run here at the planned context and is not below the minimum speed."""
    return c.estimate.placement != "no" and not c.too_slow


def ordered(result) -> list:
    """Rows that can run first (in the planner's order), then those that cannot."""
    return sorted(result.ranked, key=lambda c: not runs(c))


def evidence(c) -> bool:
    """The quant's quality figure rests on a measurement (or its bits per weight, marked †):
    not for a type the catalogue lists without evidence (ternary TQ1_0/TQ2_0)."""
    return c.quant.rated or not c.quant.unpicked


def pickable(c) -> bool:
    """Runs here and may be picked: only such a row has a ranking score."""
    return runs(c) and not c.blocked


def processor(est) -> str:
    from ollama_quantpick.table import processor as proc

    return proc(est.vram_bytes, est.ram_bytes, est.placement)


def row_json(c, artifact, rank: int) -> dict:
    """One `tags --json` row (docs/json.md, `tags.rows[]`)."""
    tag = artifact.tag
    return {
        "rank": rank, "name": c.name, "tag": tag.tag, "aliases": c.aliases,
        "digest": artifact.to_json()["digest"], "params_b": c.params_b,
        "active_params_b": c.active_params_b,
        "quant": c.quant.name if c.quant.rated else (tag.quant or c.quant.name),
        "quant_rated": c.quant.rated, "page_size_bytes": tag.size_bytes,
        "download_bytes": c.download_bytes, "context_max": tag.context, "inputs": tag.inputs,
        "updated": tag.updated, "runs": runs(c), "too_slow": c.too_slow, "picked": c.picked,
        "processor": processor(c.estimate),
        "quality": round(c.quality, 4) if evidence(c) else None,
        "score": round(c.score, 4) if pickable(c) else None, "estimate": c.estimate.to_json(),
        "model": c.model, "capability": c.cap.to_json() if c.cap else None,
        "capability_source": c.cap.source if c.cap else None,
        "blocked": c.blocked or None,
    }


def cloud_json(tag, ref) -> dict:
    """A cloud tag (runs on ollama.com): what its listing row says, named as local rows are."""
    return {"model": ref.display, "name": tag.name, "tag": tag.tag,
            "page_size_bytes": tag.size_bytes,
            "context_max": tag.context, "inputs": tag.inputs, "updated": tag.updated}


def request_json(req, result) -> dict:
    return {"model": req.ref.display, "models": [r.display for r in req.refs], "task": req.task,
            "ctx": result.ctx,
            "ctx_default": result.ctx_default, "ctx_asked": req.ctx, "kv_cache": result.kv_cache,
            "kv_cache_asked": req.kv_cache, "prefer": req.prefer, "min_speed": req.min_speed,
            "size": req.size}


def ollama_json(req, result) -> dict:
    """The Ollama release and settings the estimate assumes."""
    return {**req.release.to_json(), "default_ctx": result.ctx_default, "num_parallel": req.parallel,
            "kv_cache_type": result.kv_cache}


def header(req, result, label: str) -> str:
    """The line above the table: the way of running its rows are estimated for. A q8_0 KV cache
    or a context other than Ollama's default is said, with the server settings it needs."""
    from ollama_quantpick.planner import setting_words

    head = f"{req.label}: task {req.task}, {label}, context {_ctx(result.ctx)}"
    if result.kv_cache != "f16" or result.kv_cache != req.kv_cache:
        head += f", {result.kv_cache} KV cache"
    if result.ctx != result.ctx_default:
        head += f" (Ollama default here: {_ctx(result.ctx_default)})"
    if result.choice is not None and result.choice.settings:
        head += f" — {setting_words(result.choice.settings)}"
    return head


COLUMNS_ORDER = ("mark", "rank", "tag", "params", "quant", "size", "fit", "layers", "needs",
                 "ctx", "input", "tps", "quality", "score", "aliases")


def _columns(task: str):
    from ollama_quantpick.table import Column

    # Priority: the higher, the sooner a narrow terminal drops it. Only the mark and the tag (the
    # row's identity) always stay; at 80 columns tag, size, fit, speed and quality fit.
    spec = {
        "mark": Column("mark", "", 0), "rank": Column("rank", "#", 12, ">"),
        "tag": Column("tag", "TAG", 0, shrink=True), "params": Column("params", "PARAMS", 9),
        "quant": Column("quant", "QUANT", 10), "size": Column("size", "SIZE", 4, ">"),
        "fit": Column("fit", "FIT", 1), "layers": Column("layers", "LAYERS", 5, ">"),
        "needs": Column("needs", "NEEDS", 6, ">"), "ctx": Column("ctx", "CTX", 8, ">"),
        "input": Column("input", "INPUT", 13), "tps": Column("tps", "TOK/S", 3, ">"),
        "quality": Column("quality", "QUALITY", 2, ">"),
        "score": Column("score", "SCORE", 7, ">"), "aliases": Column("aliases", "ALIASES", 11),
    }
    return [spec[k] for k in COLUMNS_ORDER]


def _styler(rows: list[dict]):
    """Colour the pick (green) and "no" (red) on a terminal; nothing when NO_COLOR is set.
    click.echo drops the codes itself when stdout is not a terminal."""
    import os

    if os.environ.get("NO_COLOR"):
        return None

    def style(i: int, key: str, text: str) -> str:
        if rows[i]["mark"] == "*":
            return click.style(text, fg="green", bold=True)
        if key == "fit" and text.strip() == "no":
            return click.style(text, fg="red")
        if rows[i]["mark"] == "-":
            return click.style(text, dim=True)
        return text
    return style


@click.command("tags")
@common.models_argument
@common.decision_options
@click.option("--all", "show_all", is_flag=True, help="Also list cloud tags (they run on "
              "ollama.com, not here).")
@click.option("--wide", is_flag=True, help="Show every column, whatever the terminal width.")
@click.option("--json", "as_json", is_flag=True, help="Print {request, budget, ollama, rows, pick} "
              "as JSON (docs/json.md).")
def command(models, task, ctx, kv_cache, prefer, min_speed, size, vram, ram, gpu, offline,
            refresh, show_all, wide, as_json):
    """List every tag of MODEL, ranked for the task, with fit, memory and speed.

    Tags that share a digest are one download: each is shown once, with its aliases. The table
    fits the terminal (COLUMNS); --wide shows every column. Several models make one ranking
    across them (capability per task from data/capability.toml; README "Choosing between models").

    \b
    Examples:
      quantpick tags phi4
      quantpick tags qwen3 --task code --ctx 32768
      quantpick tags phi4 qwen3 --task code --vram 16GB
      quantpick tags llama3.3 --vram 24GB --ram 64GB --json
    """
    from ollama_quantpick.planner import budget_label, plan, setting_words
    from ollama_quantpick.table import render, terminal_width, wrap

    cfg, budget = common.prepare(offline, refresh, vram, ram, gpu)
    req = common.make_request(models, cfg, budget, task=task, ctx=ctx, kv_cache=kv_cache,
                              prefer=prefer, min_speed=min_speed, size=size)
    infos = None
    if not as_json:  # the model pages (description, badges) load while the plan is made
        from ollama_quantpick.library import model_info_later

        infos = {ref: model_info_later(ref) for ref in req.refs if not ref.is_hf}
    result = plan(req)
    common.plan_notes(result)
    common.note_release(req.release)
    several = len(req.refs) > 1
    cloud = [(lst.ref, t) for lst in result.listings for t in lst.cloud]
    label = budget_label(budget)
    rows_c = ordered(result)
    if as_json:
        out = {"request": request_json(req, result), "budget": budget.to_json(),
               "ollama": ollama_json(req, result),
               "rows": [row_json(c, c.artifact, i) for i, c in enumerate(rows_c, 1)],
               "pick": answers.answer_json(result),
               "cloud": [cloud_json(t, ref) for ref, t in cloud] if show_all else []}
        common.echo_json(out)
        return
    width = 10**6 if wide else terminal_width()

    def say(text: str, err: bool = False) -> None:
        for line in wrap(text, width):
            click.echo(line, err=err)

    for ref in req.refs:
        # the model page (description and capability badges); a Hub repo has none there
        if infos and ref in infos and (info := infos[ref]()):
            badges = f" [{', '.join(info.capabilities)}]" if info.capabilities else ""
            about = (info.description or "").strip()
            room = min(width, 100) - len(ref.display) - 2 - len(badges)
            if len(about) > room:
                about = about[: max(room - 1, 0)].rsplit(" ", 1)[0] + "…"
            click.echo(f"{ref.display}: {about}{badges}"[:width])
    say(header(req, result, label))
    rows = []
    for i, c in enumerate(rows_c, 1):
        est, tag = c.estimate, c.artifact.tag
        mark = "*" if c.picked else ("" if runs(c) else "-")
        rows.append({
            "mark": mark, "rank": str(i), "tag": c.name if several else c.name.split(":", 1)[1],
            "params": _params(c),
            "quant": c.quant.name if c.quant.rated else f"{c.quant.name}†",
            "size": format_bytes(c.download_bytes), "fit": processor(est),
            "layers": (f"{est.gpu_layers}/{est.layers}" + ("+e" if getattr(
                est, "moe_cpu_layers", 0) else "")) if est.layers else "-",
            "needs": format_bytes(est.total_bytes), "ctx": _ctx(est.ctx),
            "input": ",".join(tag.inputs), "tps": _speed(est),
            "quality": f"{c.quality * 100:.1f}%" if evidence(c) else "-",
            "score": f"{c.score:.3f}" if pickable(c) else "-",
            "aliases": ", ".join(c.aliases),
        })
    columns = _columns(req.task)
    for line in render(columns, rows, width, wide=wide, style=_styler(rows)):
        click.echo(line)
    from ollama_quantpick.table import layout, legend

    shown = {c.key for c in layout(columns, rows, width, wide)[0]}
    parts = ["* pick", "- can't run here", f"QUALITY: {req.task} quality kept vs fp16",
             ("LAYERS on GPU/all, +e: MoE experts on CPU" if any(
                 r["layers"].endswith("+e") for r in rows) else "LAYERS on GPU/all")
             if "layers" in shown else "", "FIT as in ollama ps",
             "SCORE: quality x capability (per-task benchmark; ranks sizes and models)"
             if "score" in shown else "",
             "† quant rated by bits/weight" if "quant" in shown and any(
                 not c.quant.rated for c in result.ranked) else ""]
    click.echo(legend(parts, width))
    if show_all and cloud:
        say("cloud (run on ollama.com, not here): "
            + ", ".join(f"{ref.display}:{t.tag}" if several else t.tag for ref, t in cloud))
    elif cloud:
        say(f"{len(cloud)} cloud tag(s) not shown; --all lists them")
    if not result.ranked:
        click.echo(f"{req.label} has no tag that runs locally", err=True)
    elif result.choice:
        from ollama_quantpick import across

        reason = result.choice.reason
        if several and (others := across.why_not(result.ranked, result.choice.pick, req.task)):
            reason += f"; {others}"
        say(f"pick: {result.choice.pick.name} — {reason}")
        # the header says the settings already; a hint that says more (why) is still shown
        if result.choice.ctx_hint and result.choice.ctx_hint != setting_words(
                result.choice.settings):
            say(f"note: {result.choice.ctx_hint}")
    else:
        from ollama_quantpick.score import nothing_fits

        say(nothing_fits(result.ranked, label, req.min_speed))
    from ollama_quantpick.across import data_notes

    for note in data_notes(result.ranked):
        say(f"note: {note}")
    reasons: dict[str, list[str]] = {}
    for c in result.ranked:
        if c.blocked:
            reasons.setdefault(c.blocked, []).append(c.name.split(":", 1)[1])
    for why, names in reasons.items():
        say(f"not picked: {', '.join(names)} — {why}")
    if any(c.estimate.source == "fallback" for c in result.ranked):
        say("note: some sizes are estimated without the model header (registry unavailable)")

"""`quantpick tags MODEL`: every tag of a model, ranked for the task, with fit and why."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.sizes import format_bytes


def _params(c) -> str:
    if not c.params_b:
        return "-"
    return f"{c.params_b:g}B" + (f"/a{c.active_params_b:g}B" if c.active_params_b else "")


def _speed(est) -> str:
    if est.tokens_per_s is not None:
        return f"{est.tokens_per_s:.0f}" if est.tokens_per_s >= 10 else f"{est.tokens_per_s:.1f}"
    return f"<{est.tokens_per_s_max:.1f}" if est.tokens_per_s_max is not None else "-"


def _ctx(n: int | None) -> str:
    return "-" if not n else f"{n // 1024}K" if n % 1024 == 0 else str(n)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


@click.command("tags")
@click.argument("model")
@common.decision_options
@click.option("--all", "show_all", is_flag=True, help="Also list cloud tags (they run on "
              "ollama.com, not here).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of tag records.")
def command(model, task, ctx, kv_cache, prefer, min_speed, size, vram, ram, gpu, offline,
            refresh, show_all, as_json):
    """List every tag of MODEL, ranked for the task, with fit, memory and speed.

    Tags that share a digest are one download: each is shown once, with its aliases.

    \b
    Examples:
      quantpick tags phi4
      quantpick tags qwen3 --task code --ctx 32768
      quantpick tags llama3.3 --vram 24GB --ram 64GB --json
    """
    from ollama_quantpick.planner import budget_label, plan

    cfg, budget = common.prepare(offline, refresh, vram, ram, gpu)
    req = common.make_request(model, cfg, budget, task=task, ctx=ctx, kv_cache=kv_cache,
                              prefer=prefer, min_speed=min_speed, size=size)
    result = plan(req)
    common.stale_note(result.listing.page)
    common.note_release(req.release)
    by_name = {a.name: a for a in result.listing.artifacts}
    if as_json:
        records = []
        for c in result.ranked:
            rec = by_name[c.name].to_json()
            rec.update(estimate=c.estimate.to_json(), quality=round(c.quality, 4),
                       score=round(c.score, 4), rank=c.rank, picked=c.picked,
                       rated=c.quant.rated, quant=c.quant.name if c.quant.rated else rec["quant"])
            records.append(rec)
        if show_all:
            records += [dict(t.to_json(), aliases=[], rank=None, picked=False)
                        for t in result.listing.cloud]
        common.echo_json(records)
        return
    from ollama_quantpick.library import fetch_model_info

    if info := fetch_model_info(req.ref):  # the model page: description and capability badges
        about = (info.description or "").strip()
        about = about if len(about) <= 100 else about[:99].rsplit(" ", 1)[0] + "…"
        badges = f" [{', '.join(info.capabilities)}]" if info.capabilities else ""
        click.echo(f"{req.ref.display}: {about}{badges}")
    head = f"{req.ref.display}: task {req.task}, {budget_label(budget)}, context " \
           f"{_ctx(result.ctx)}"
    if result.ctx != result.ctx_default:
        head += f" (Ollama default here: {_ctx(result.ctx_default)})"
    click.echo(head)
    rows = []
    for c in result.ranked:
        est = c.estimate
        name = c.name.split(":", 1)[1] + (f" ({', '.join(c.aliases)})" if c.aliases else "")
        quant = c.quant.name if c.quant.rated else f"{c.quant.name}*"
        rows.append(["*" if c.picked else " ", str(c.rank), name, _params(c), quant,
                     format_bytes(c.download_bytes), _ctx(by_name[c.name].tag.context),
                     ",".join(by_name[c.name].tag.inputs), est.fit_label,
                     format_bytes(est.total_bytes),
                     _speed(est),
                     f"{c.quality * 100:.1f}%", f"{c.score:.3f}"])
    click.echo(_table(rows, ["", "#", "TAG (ALIASES)", "PARAMS", "QUANT", "SIZE", "CTX", "INPUT",
                             "FIT", "NEEDS", "TOK/S", "QUALITY", "SCORE"]))
    if show_all and result.listing.cloud:
        click.echo("cloud (run on ollama.com, not here): "
                   + ", ".join(t.tag for t in result.listing.cloud))
    elif result.listing.cloud:
        click.echo(f"{len(result.listing.cloud)} cloud tag(s) not shown; --all lists them")
    if not result.ranked:
        click.echo(f"{req.ref.display} has no tag that runs locally", err=True)
    elif result.choice:
        click.echo(f"pick: {result.choice.pick.name} — {result.choice.reason}")
        if result.choice.ctx_hint:
            click.echo(f"note: {result.choice.ctx_hint}")
    else:
        from ollama_quantpick.score import nothing_fits

        click.echo(nothing_fits(result.ranked, budget_label(budget)))
    if any(not c.quant.rated for c in result.ranked):
        click.echo("* quant not in the catalogue: rated from its bits per weight")
    if any(c.estimate.source == "fallback" for c in result.ranked):
        click.echo("note: some sizes are estimated without the model header (registry "
                   "unavailable)")

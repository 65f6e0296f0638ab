"""`quantpick list`: the models Ollama has, whether each fits this budget, and whether quantpick
would now pick another tag of it."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import NothingFits, QuantpickError


def judge(name: str, digest: str, cfg, budget, weights=None) -> dict:
    """Fit and the current pick for one installed model. The model's listing is read (cached) from
    ollama.com; a model the library does not have (hf.co/…, a local Modelfile) gets a note.
    `weights()`: the digest of the installed weights blob (asked of Ollama only when the installed
    tag is outdated), or None when unknown."""
    from ollama_quantpick.table import processor

    model, _, tag = name.partition(":")
    out: dict = {"fits": None, "processor": None, "tokens_per_s": None, "pick": None,
                 "other_pick": None, "outdated": False, "note": None}
    try:
        try:
            result, pick, _ = common.decide_and_note(model, cfg, budget)
        except NothingFits as exc:
            if exc.plan is None:
                raise
            result, pick = exc.plan, None
    except QuantpickError as exc:
        out["note"] = str(exc)
        return out
    def same(c) -> bool:
        a = c.artifact
        if a is not None and a.manifest is not None and a.manifest.digest:
            return a.manifest.digest == digest
        return tag in ([c.name.split(":", 1)[1], *c.aliases])

    def named(c) -> bool:
        return tag in ([c.name.split(":", 1)[1], *c.aliases])

    mine = next((c for c in result.ranked if same(c)), None)
    newer = None if mine is not None else next((c for c in result.ranked if named(c)), None)
    if newer is not None:
        # the tag exists but points to another download now: the installed one is outdated. When
        # its weights blob is the newer manifest's (a template or parameters changed), the newer
        # one's estimate is the installed one's; otherwise its fit is unknown (not read).
        est = newer.estimate
        now = processor(est.vram_bytes, est.ram_bytes, est.placement) if est.placement != "no" \
            else "does not fit"
        out["outdated"] = True
        layer = newer.artifact.manifest.model_layer if newer.artifact and newer.artifact.manifest \
            else None
        blob = weights() if weights is not None and layer is not None else None
        fix = f"a newer {name} is on ollama.com; `ollama pull {name}` updates it"
        if blob and layer is not None and layer.digest.removeprefix("sha256:") == blob:
            out.update(fits=est.placement != "no", processor=now if est.placement != "no" else None,
                       tokens_per_s=None if est.tokens_per_s is None else round(est.tokens_per_s, 1))
            out["note"] = f"{fix} (the same weights: the fit shown holds for both)"
        else:
            out["note"] = (f"{fix} (the installed download's fit is unknown; the newer one: "
                           f"{now})")
    elif mine is None:
        out["note"] = f"{name} is not among the current tags of {model} on ollama.com"
    else:
        est = mine.estimate
        out.update(fits=est.placement != "no",
                   processor=processor(est.vram_bytes, est.ram_bytes, est.placement),
                   tokens_per_s=None if est.tokens_per_s is None else round(est.tokens_per_s, 1))
    if pick is not None:
        out["pick"] = pick.name
        if pick is not (mine or newer):
            out["other_pick"] = pick.name
    return out


@click.command("list")
@common.budget_options
@common.cache_options
@click.option("--host", help="Ollama to ask (default: OLLAMA_HOST, else the config, else "
              "127.0.0.1:11434).")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON (docs/json.md).")
def command(vram, ram, gpu, offline, refresh, host, as_json):
    """List the models Ollama has installed: size, whether each fits this budget, and whether
    quantpick would pick another tag of it now (for the config's default task).

    \b
    Examples:
      quantpick list
      quantpick list --vram 16GB --json
    """
    from ollama_quantpick.daemon import Daemon, resolve_host
    from ollama_quantpick.planner import budget_label
    from ollama_quantpick.sizes import format_bytes

    cfg = common.load_config()
    common.apply_cache(cfg, offline, refresh)
    daemon = Daemon(resolve_host(host, cfg.get("ollama.host")))
    click.get_current_context().meta["ollama_host"] = daemon.host
    models = daemon.models()
    budget = common.resolve_budget(cfg, vram, ram, gpu)
    rows = []
    for m in sorted(models, key=lambda m: m["name"]):
        rows.append({**m, **judge(m["name"], m["digest"], cfg, budget,
                                  lambda name=m["name"]: daemon.model_blob(name))})
    if as_json:
        common.echo_json({"host": daemon.host, "budget": budget.to_json(),
                          "task": cfg.get("defaults.task") or "general", "models": rows})
        return
    if not rows:
        click.echo(f"Ollama at {daemon.host} has no models; try 'quantpick pull MODEL'")
        return
    from ollama_quantpick.table import Column, render, terminal_width

    columns = [Column("name", "NAME", 0, shrink=True), Column("size", "SIZE", 0, ">"),
               Column("fit", "FITS HERE", 0), Column("tps", "TOK/S", 2, ">"),
               Column("pick", "QUANTPICK WOULD PICK", 1, shrink=True)]
    table = [{"name": r["name"], "size": format_bytes(r["size_bytes"]),
              "fit": "?" if r["fits"] is None else r["processor"],
              "tps": "-" if r["tokens_per_s"] is None else f"{r['tokens_per_s']:g}",
              "pick": r["other_pick"] or ("-" if not r["pick"] else "this one, after a pull"
                                           if r["outdated"] else "this one")} for r in rows]
    for line in render(columns, table, terminal_width()):
        click.echo(line)
    common.note(f"budget: {budget_label(budget)}; task {cfg.get('defaults.task') or 'general'}")
    for r in rows:
        if r["note"]:
            common.note(f"note: {r['name']}: {r['note']}")

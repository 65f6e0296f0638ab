"""`quantpick fit MODEL:TAG`: the memory breakdown of one tag against the budget."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import format_bytes

SOURCES = {"header": "from the model header",
           "scaled": "scaled from a sibling quant's header of the same size"}


@click.command("fit")
@click.argument("model")
@click.option("--ctx", type=click.IntRange(min=256, max=common.CTX_MAX), default=None,
              help="Context length (default: Ollama's default for this VRAM).")
@click.option("--kv-cache", "kv_cache", type=click.Choice(common.KV), default=None,
              help="KV cache type, as OLLAMA_KV_CACHE_TYPE.")
@common.budget_options
@common.version_option
@common.cache_options
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def command(model, ctx, kv_cache, vram, ram, gpu, offline, refresh, as_json):
    """Show why MODEL:TAG fits or not: weights, KV cache, graph, overhead, placement.

    \b
    Examples:
      quantpick fit llama3.3:70b-instruct-q4_K_M --ctx 8192
      quantpick fit phi4:14b-q8_0 --vram 12GB --json
    """
    from ollama_quantpick.planner import budget_label, plan

    cfg, budget = common.prepare(offline, refresh, vram, ram, gpu)
    req = common.make_request(model, cfg, budget, ctx=ctx, kv_cache=kv_cache)
    if req.ref.tag is None:
        raise InputError(f"fit needs MODEL:TAG, e.g. {req.ref.display}:latest; "
                         f"'quantpick tags {req.ref.display}' lists them")
    result = plan(req, decide_pick=False)
    common.plan_notes(result)
    common.note_release(req.release)
    c = result.ranked[0]
    est = c.estimate
    artifact = result.target
    from ollama_quantpick.table import processor

    if as_json:
        common.echo_json({"name": c.name, "aliases": c.aliases, "quant": c.quant.name,
                          "params_b": c.params_b, "download_bytes": c.download_bytes,
                          "architecture": artifact.arch.architecture if artifact.arch else None,
                          "fits": est.placement != "no",
                          "processor": processor(est.vram_bytes, est.ram_bytes, est.placement),
                          "budget": budget.to_json(), "estimate": est.to_json(),
                          "kld": c.quant.kld, "mix": artifact.arch.mix if artifact.arch else None,
                          "imatrix": bool(artifact.arch and artifact.arch.imatrix),
                          "blocked": c.blocked or None})
        if est.placement == "no":
            raise SystemExit(3)  # the answer "no", as pick gives it
        return
    rows = [("weights", est.weights_bytes), ("KV cache", est.kv_bytes),
            ("compute graph", est.graph_bytes), ("runtime overhead", est.overhead_bytes),
            ("total", est.total_bytes)]
    common.say(f"{c.name} at {est.ctx} context, {est.kv_cache} KV cache "
        f"({SOURCES.get(est.source, 'ESTIMATED: no header')})")
    for label, value in rows:
        click.echo(f"  {label:<17}{format_bytes(value):>10}")
    common.say(f"budget: {budget_label(budget)}")
    common.say(f"estimator: {est.estimator} — {est.notes[0] if est.notes else ''} "
        f"(release from {req.release.source})")
    moe = f", the routed experts of {est.moe_cpu_layers} of them on the CPU" \
        if est.moe_cpu_layers else ""
    where = {"gpu": "all layers on the GPU", "split": f"{est.gpu_layers} of {est.layers} layers "
             f"on the GPU{moe}, the rest on the CPU", "cpu": "on the CPU",
             "no": f"does not fit ({format_bytes(est.short_bytes)} short)"}[est.placement]
    if est.placement == "split" and est.gpu_layers == est.layers:
        where = f"all {est.layers} layers on the GPU{moe}"
    shown = processor(est.vram_bytes, est.ram_bytes, est.placement)
    common.say(f"placement: {est.placement}{'' if est.placement == 'no' else f' ({shown})'} — {where}")
    if len(est.devices) > 1 or (est.devices and est.placement != "gpu"):
        for d in est.devices:
            click.echo(f"  {d.name}: {format_bytes(d.bytes)}, {d.layers} layers")
    common.say(f"real need: {format_bytes(est.need_bytes)} on the GPU to run it whole "
        "(llama.cpp's sizes, flash attention)")
    if est.tokens_per_s is not None:
        common.say(f"speed: about {common.per_s(est.tokens_per_s)}")
    arch = artifact.arch
    if arch and arch.type_bytes:  # the real mix, from this file's own header
        common.say(f"mix: {arch.mix}" + (f" (file type {arch.file_type})" if arch.file_type
                                  else "") + ("; imatrix: yes" if arch.imatrix else ""))
    common.say(f"quality: {c.quant.name}, KLD {c.quant.kld:.4f}"
        + (f" — {c.quant.note}" if c.quant.note else ""))
    if c.blocked:
        common.say(f"note: not picked and not pulled: {c.blocked}")
    from ollama_quantpick.estimate import GRAPH_FORMULA

    for note in est.notes[1:]:
        common.say(f"note: {note}")
    if est.estimator == "legacy" and artifact.arch and \
            artifact.arch.architecture not in GRAPH_FORMULA:
        common.say(f"note: Ollama has no compute-graph formula for {artifact.arch.architecture} "
            "and charges GQA × KV cache / 6 for it; real use is often lower, but Ollama "
            "places layers by this figure (ollama/ollama#10740)")
    if est.placement == "no":
        raise SystemExit(3)  # the answer "no" (README's exit codes), after the breakdown

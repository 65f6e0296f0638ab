"""`quantpick pick MODEL`: print the one tag to pull, for `ollama run "$(quantpick pick ...)"`."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import NothingFits


@click.command("pick")
@click.argument("model")
@common.decision_options
@click.option("--json", "as_json", is_flag=True, help="Print the choice as JSON.")
def command(model, task, ctx, kv_cache, prefer, min_speed, size, vram, ram, gpu, offline,
            refresh, as_json):
    """Print the best tag of MODEL for the task on this machine (the reason goes to stderr).

    \b
    Examples:
      quantpick pick llama3.3 --task math
      quantpick pick qwen3 --task code --vram 16GB
      ollama run "$(quantpick pick gemma3 --task chat)"
    """
    cfg, budget = common.prepare(offline, refresh, vram, ram, gpu)
    result, pick, reason = common.choose(model, cfg, budget, task=task, ctx=ctx, kv_cache=kv_cache,
                                  prefer=prefer, min_speed=min_speed, size=size)
    if pick is None:
        raise NothingFits(reason)
    if as_json:
        if result.choice is not None:
            common.echo_json(result.choice.to_json())
        else:
            common.echo_json({"name": pick.name, "reason": reason,
                              "estimate": pick.estimate.to_json()})
        return
    click.echo(pick.name)
    click.echo(reason, err=True)
    if result.choice is not None and result.choice.ctx_hint:
        click.echo(f"note: {result.choice.ctx_hint}", err=True)

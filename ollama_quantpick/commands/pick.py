"""`quantpick pick MODEL`: print the one tag to pull, for `ollama run "$(quantpick pick ...)"`."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import NothingFits


@click.command("pick")
@common.models_argument
@common.decision_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON, also when it is "
              "\"no\" (exit 3; docs/json.md).")
def command(models, task, ctx, kv_cache, prefer, min_speed, size, vram, ram, gpu, offline,
            refresh, as_json):
    """Print the best tag of MODEL for the task on this machine (the reason goes to stderr).

    With several models they compete in one ranking, by per-task benchmark scores (see
    README, "Choosing between models"). When nothing fits, tags of other models that do are
    named.

    \b
    Examples:
      quantpick pick llama3.3 --task math
      quantpick pick qwen3 llama3.3 --task code --vram 24GB
      quantpick pick qwen3 --task code --vram 16GB
      ollama run "$(quantpick pick gemma3 --task chat)"
    """
    from ollama_quantpick.commands.answers import answer_json

    cfg, budget = common.prepare(offline, refresh, vram, ram, gpu)
    try:
        result, pick, reason = common.decide_and_note(models, cfg, budget, task=task, ctx=ctx,
                                             kv_cache=kv_cache, prefer=prefer,
                                             min_speed=min_speed, size=size)
    except NothingFits as exc:
        if as_json and exc.plan is not None:  # the answer "no" is still an answer object
            common.echo_json({**answer_json(exc.plan, str(exc)), **exc.detail})
        raise
    if pick is None:
        if as_json:
            common.echo_json(answer_json(result, reason))
        raise NothingFits(reason, plan=result)
    if as_json:
        common.echo_json(answer_json(result, reason, pick))
        return
    click.echo(pick.name)
    click.echo(reason, err=True)
    if result.choice is not None and result.choice.ctx_hint:
        click.echo(f"note: {result.choice.ctx_hint}", err=True)

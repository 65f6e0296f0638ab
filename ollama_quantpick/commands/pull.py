"""`quantpick pull MODEL[:TAG]`: pick, explain, and pull through the official Ollama client."""

from __future__ import annotations

import sys

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import NothingFits, QuantpickError
from ollama_quantpick.sizes import format_bytes


def interactive() -> bool:
    """Whether to ask before a large download: stdin is a terminal (tests replace this)."""
    return sys.stdin.isatty()


def ask_download(question: str, refused: str = "not pulled") -> None:
    """Ask `question [y/N]` and return on yes. The question goes to stderr: stdout is the answer
    (`pull --json | jq` must read one object, and a piped prompt would go unseen). No is exit 1;
    end of input (Ctrl-D) is exit 1 naming --yes; Ctrl-C is KeyboardInterrupt (exit 130)."""
    meta = click.get_current_context().meta  # shared by the command's contexts: cli.Group reads it
    meta["asking"] = True
    try:
        if click.confirm(question, default=False, err=True):
            meta["asking"] = False
            return
    except click.Abort as exc:
        # click.confirm turns Ctrl-C and end of input alike into Abort, raised while handling
        # the original: its __context__ tells them apart. Neither ends the prompt's line.
        click.echo(err=True)
        if isinstance(exc.__context__, EOFError):
            raise QuantpickError("no answer to the download question (end of input); pass --yes to "
                                 "pull without asking") from None
        raise KeyboardInterrupt from None
    raise QuantpickError(f"{refused}: you answered no; pass --yes to pull without asking")


def installed_note(name: str, outcome: str) -> str:
    """`X is already installed` / `X is already installed as Y (the same download)`."""
    have = outcome.removeprefix("already installed as ")
    if have == name or outcome == "already installed":
        return f"{name} is already installed; nothing to pull"
    return f"{name} is already installed as {have} (the same download); nothing to pull"


def install(daemon, artifact, *, yes: bool, quiet: bool, title: str | None = None) -> str:
    """install.pull with this terminal's progress display and, above 1 GB on a terminal
    without --yes, a confirmation; `title` heads the progress (sync names each model there)."""
    from ollama_quantpick import install as install_mod
    from ollama_quantpick.progress import Progress

    def confirm(size: int) -> None:
        if not yes and interactive():
            ask_download(f"download {format_bytes(size)} for {artifact.name}?")

    progress = Progress(quiet=quiet, title=title)
    outcome = install_mod.pull(daemon, artifact, on_progress=progress, confirm=confirm)
    progress.finish()
    return outcome


@click.command("pull")
@common.models_argument
@common.decision_options
@click.option("--dry-run", is_flag=True, help="Decide and print what would be pulled; pull "
              "nothing (no Ollama needed).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a large download.")
@click.option("--force", is_flag=True, help="Pull an explicit MODEL:TAG even if it does not fit.")
@click.option("--host", help="Ollama to pull into (default: OLLAMA_HOST, else the config, else "
              "127.0.0.1:11434).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer and what was done as JSON "
              "(docs/json.md); progress is not shown.")
def command(models, task, ctx, kv_cache, prefer, min_speed, size, vram, ram, gpu, offline,
            refresh, dry_run, yes, force, host, quiet, as_json):
    """Pick the best tag of MODEL for the task, say why, and pull it into Ollama.

    With MODEL:TAG the tag is checked against the budget and pulled as it is. With several
    models the best tag across them is pulled.

    \b
    Examples:
      quantpick pull llama3.3 --task math
      quantpick pull llama3.3 --task math --dry-run
      quantpick pull qwen3 llama3.3 --task code --dry-run
      quantpick pull qwen3:14b --yes
    """
    quiet = quiet or common.global_quiet()
    from ollama_quantpick import settings
    from ollama_quantpick.daemon import Daemon, is_local, resolve_host

    cfg = common.load_config()
    common.apply_cache(cfg, offline, refresh)
    daemon = Daemon(resolve_host(settings.host(cfg, host)))
    click.get_current_context().meta["ollama_host"] = daemon.host  # its release is predicted
    if not dry_run:
        daemon.installed()  # fail fast, before any scraping, when Ollama is not running
    budget = common.resolve_budget(cfg, vram, ram, gpu)
    from ollama_quantpick.commands.answers import answer_json

    try:
        result, pick, reason = common.decide_and_note(models, cfg, budget, task=task, ctx=ctx,
                                             kv_cache=kv_cache, prefer=prefer,
                                             min_speed=min_speed, size=size)
    except NothingFits as exc:
        if as_json and exc.plan is not None:
            common.echo_json({**answer_json(exc.plan, str(exc)), **exc.detail, **_pull_fields(
                None, daemon.host, dry_run, "none")})
        raise
    if pick is None:
        if not (force and result.target is not None):
            if as_json:
                common.echo_json({**answer_json(result, reason), **_pull_fields(
                    None, daemon.host, dry_run, "none")})
            raise NothingFits(f"{reason}; use --force to pull it anyway", plan=result)
        pick = result.ranked[0]
    artifact = pick.artifact
    if as_json:
        answer = answer_json(result, reason, pick)
        if dry_run:
            common.echo_json({**answer, **_pull_fields(artifact, daemon.host, True, "would pull")})
            return
        outcome = install(daemon, artifact, yes=yes, quiet=True)
        action = "pulled" if outcome == "pulled" else "already installed"
        common.echo_json({**answer, **_pull_fields(artifact, daemon.host, False, action)})
        return
    click.echo(f"{artifact.name} ({format_bytes(artifact.download_bytes)} download)")

    def say(text: str) -> None:  # indented under the name
        common.say(text, err=True, lead="  ")

    say(reason)
    if result.choice is not None and result.choice.ctx_hint:
        say(f"note: {result.choice.ctx_hint}")
    if not is_local(daemon.host) and vram is None and ram is None:
        say(f"note: Ollama runs at {daemon.host}, but the budget came from this machine; pass "
            "--vram/--ram for that machine's memory")
    if dry_run:
        click.echo(f"dry run: would pull {artifact.name}")
        return
    outcome = install(daemon, artifact, yes=yes, quiet=quiet)
    if outcome == "pulled":
        click.echo(f"pulled {artifact.name}; run it with: ollama run {artifact.name}")
    else:
        click.echo(installed_note(artifact.name, outcome))


def _pull_fields(artifact, host: str, dry_run: bool, action: str) -> dict:
    """What `pull --json` adds to the answer object."""
    return {"download_bytes": artifact.download_bytes if artifact else None, "host": host,
            "dry_run": dry_run, "action": action}



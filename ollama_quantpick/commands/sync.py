"""`quantpick sync`: bring this machine in line with the config's [[models]]."""

from __future__ import annotations

from pathlib import Path

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import InputError, QuantpickError


@click.command("sync")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file to use (default: quantpick config path).")
@click.option("--dry-run", is_flag=True, help="Show the plan; pull nothing.")
@click.option("--host", help="Ollama to pull into.")
@common.budget_options
@common.version_option
@common.cache_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask before downloading more than 1 GB.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and results as JSON "
              "(docs/json.md).")
def command(config_path, dry_run, host, vram, ram, gpu, offline, refresh, yes, quiet, as_json):
    """Decide and pull every [[models]] entry of the config that is missing here.

    One failing entry does not stop the others; the exit code is 1 if any failed.

    \b
    Examples:
      quantpick sync --dry-run
      quantpick sync --config ~/dotfiles/quantpick/workstation.toml
    """
    quiet = quiet or common.global_quiet()
    from ollama_quantpick import config as cfgmod
    from ollama_quantpick import install, settings
    from ollama_quantpick.commands.pull import ask_download, interactive
    from ollama_quantpick.daemon import Daemon, resolve_host
    from ollama_quantpick.progress import Progress
    from ollama_quantpick.sizes import format_bytes

    cfg = cfgmod.load(config_path) if config_path else common.load_config()
    if config_path and not cfg.exists:
        raise InputError(f"{config_path} does not exist; give the path of a config file "
                         "('quantpick config path' shows the default)")
    if not cfg.exists:
        raise InputError(f"{cfg.path} does not exist; create it with 'quantpick config init' and "
                         "add [[models]] entries")
    if not cfg.models:
        raise QuantpickError(f"{cfg.path} has no [[models]] entries; add some (see "
                             "'quantpick config init')")
    common.apply_cache(cfg, offline, refresh)
    budget = common.resolve_budget(cfg, vram, ram, gpu)
    daemon = Daemon(resolve_host(settings.host(cfg, host)))
    click.get_current_context().meta["ollama_host"] = daemon.host  # its release is predicted
    items = install.plan_sync(cfg, budget, daemon, dry_run=dry_run,
                              release=common.resolve_release(cfg))
    for item in items:
        for warning in item.warnings:
            common.say(f"{item.model}: {warning}", err=True)
    if not as_json:
        _print_table(items, ["MODEL", "TASK", "CHOSEN TAG", "SIZE", "INSTALLED", "ACTION"],
                     lambda i: [i.model, i.task, i.tag or "-", _size(i),
                                {True: "yes", False: "no", None: "?"}[i.installed], _action(i)])
    todo = [i for i in items if i.action == "pull"]
    total = sum(i.download_bytes or 0 for i in todo)
    if not dry_run and todo and not yes and interactive() and total > install.CONFIRM_ABOVE:
        ask_download(f"download {format_bytes(total)} for {len(todo)} model(s)?", "nothing pulled")
    if not dry_run:
        def progress(item):
            named = item.tag if item.model == item.tag else f"{item.model}: {item.tag}"
            return Progress(quiet=quiet or as_json, title=f"{named} ({_size(item)})")
        install.run_sync(items, daemon, progress)
    failed = [i for i in items if i.action == "failed"]
    done = sum(i.action == "pulled" for i in items)
    kept = sum(i.action == "keep" for i in items)
    same = sum(i.action == "same" for i in items)
    if as_json:
        common.echo_json({
            "config": str(cfg.path), "dry_run": dry_run, "host": daemon.host,
            "rows": [i.to_json() for i in items],
            "summary": {"would_pull": len(todo) if dry_run else 0, "pulled": done, "kept": kept,
                        "failed": len(failed), "same": same,
                        "download_bytes": total if dry_run else sum(
                            i.download_bytes or 0 for i in items if i.action == "pulled")}})
    else:
        for i in failed:
            common.say(f"failed: {i.model}: {i.error}", err=True)
        if not dry_run and done:
            click.echo("")
            _print_table(items, ["MODEL", "TAG", "ACTION", "SIZE"],
                         lambda i: [i.model, i.tag or "-", _action(i), _size(i)])
        verb = "would pull" if dry_run else "pulled"
        twice = f", same as an earlier entry {same}" if same else ""
        click.echo(f"{verb} {len(todo) if dry_run else done}, already installed {kept}, "
                   f"failed {len(failed)}{twice}")
    if failed:
        raise SystemExit(1)


def _action(item) -> str:
    return f"same as entry {item.same_as}" if item.action == "same" else item.action


def _size(item) -> str:
    from ollama_quantpick.sizes import format_bytes

    return format_bytes(item.download_bytes) if item.download_bytes else "-"


def _print_table(rows: list, header: list[str], cells) -> None:
    from ollama_quantpick.table import Column, render, terminal_width

    columns = [Column(str(i), h, 0, shrink=(i == 0)) for i, h in enumerate(header)]
    data = [dict(zip((c.key for c in columns), cells(r))) for r in rows]
    for line in render(columns, data, terminal_width()):
        click.echo(line)


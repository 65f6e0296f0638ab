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
    from ollama_quantpick.commands.pull import CONFIRM_ABOVE, install, interactive
    from ollama_quantpick.daemon import Daemon, resolve_host
    from ollama_quantpick.sizes import format_bytes

    cfg = cfgmod.load(config_path) if config_path else common.load_config()
    if config_path and not cfg.exists:
        raise InputError(f"{config_path} does not exist; give the path of a config file "
                         "('quantpick config path' shows the default)")
    if not cfg.models:
        raise QuantpickError(f"{cfg.path} has no [[models]] entries; add some (see "
                             "'quantpick config init')")
    common.apply_cache(cfg, offline, refresh)
    budget = common.resolve_budget(cfg, vram, ram, gpu)
    daemon = Daemon(resolve_host(host, cfg.get("ollama.host")))
    click.get_current_context().meta["ollama_host"] = daemon.host  # its release is predicted
    rows = []
    for entry in cfg.models:
        names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
        row = {"model": ", ".join(names), "task": entry.get("task") or cfg.get("defaults.task")
               or "general", "tag": None, "download_bytes": None, "installed": None,
               "action": None, "reason": None, "error": None}
        try:
            # several names: the candidates of one slot compete; the winner is pulled
            result, pick, reason = common.choose(names, cfg, budget, entry=entry)
            if pick is None:
                raise QuantpickError(config_hint(reason))
            artifact = result.artifact(pick.name)
            row.update(tag=artifact.name, download_bytes=artifact.download_bytes, _artifact=artifact,
                       reason=reason)
            try:
                digest = artifact.manifest.digest if artifact.manifest else None
                row["installed"] = daemon.find([artifact.name], digest) is not None
            except QuantpickError:
                if not dry_run:
                    raise
            row["action"] = "keep" if row["installed"] else "pull"
        except QuantpickError as exc:
            row.update(action="failed", error=config_hint(str(exc)))
        rows.append(row)
    if not as_json:
        _print_table(rows, ["MODEL", "TASK", "CHOSEN TAG", "SIZE", "INSTALLED", "ACTION"],
                     lambda r: [r["model"], r["task"], r["tag"] or "-", _size(r),
                                {True: "yes", False: "no", None: "?"}[r["installed"]],
                                r["action"]])
    todo = [r for r in rows if r["action"] == "pull"]
    total = sum(r["download_bytes"] for r in todo)
    if not dry_run and todo and not yes and interactive() and total > CONFIRM_ABOVE:
        click.confirm(f"download {format_bytes(total)} for {len(todo)} model(s)?", abort=True)
    if not dry_run:
        for row in todo:
            try:
                named = row["tag"] if row["model"] == row["tag"] else f"{row['model']}: {row['tag']}"
                title = f"{named} ({_size(row)})"
                install(daemon, row["_artifact"], yes=True, quiet=quiet or as_json, title=title)
                row["action"] = "pulled"
            except QuantpickError as exc:
                row.update(action="failed", error=str(exc))
    failed = [r for r in rows if r["action"] == "failed"]
    done = sum(r["action"] == "pulled" for r in rows)
    kept = sum(r["action"] == "keep" for r in rows)
    if as_json:
        common.echo_json({
            "config": str(cfg.path), "dry_run": dry_run, "host": daemon.host,
            "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
            "summary": {"would_pull": len(todo) if dry_run else 0, "pulled": done, "kept": kept,
                        "failed": len(failed),
                        "download_bytes": total if dry_run else sum(
                            r["download_bytes"] for r in rows if r["action"] == "pulled")}})
    else:
        for r in failed:
            click.echo(f"failed: {r['model']}: {r['error']}", err=True)
        if not dry_run and done:
            click.echo("")
            _print_table(rows, ["MODEL", "TAG", "ACTION", "SIZE"],
                         lambda r: [r["model"], r["tag"] or "-", r["action"], _size(r)])
        verb = "would pull" if dry_run else "pulled"
        click.echo(f"{verb} {len(todo) if dry_run else done}, already installed {kept}, "
                   f"failed {len(failed)}")
    if failed:
        raise SystemExit(1)


def config_hint(message: str) -> str:
    """The decision's hints name pick's flags; sync reads the config, so name its keys."""
    for flag, key in (("lower --min-speed", "lower defaults.min_tokens_per_s in the config"),
                      ("--min-speed", "defaults.min_tokens_per_s"), ("--ctx", "the entry's ctx"),
                      ("--size", "the entry's size"), ("--vram/--ram", "[budget] vram/ram"),
                      ("--vram", "[budget] vram"), ("--ram", "[budget] ram"),
                      ("--task", "the entry's task"), ("--prefer", "the entry's prefer")):
        message = message.replace(flag, key)
    return message


def _size(row: dict) -> str:
    from ollama_quantpick.sizes import format_bytes

    return format_bytes(row["download_bytes"]) if row["download_bytes"] else "-"


def _print_table(rows: list[dict], header: list[str], cells) -> None:
    from ollama_quantpick.table import Column, render, terminal_width

    columns = [Column(str(i), h, 0, shrink=(i == 0)) for i, h in enumerate(header)]
    data = [dict(zip((c.key for c in columns), cells(r))) for r in rows]
    for line in render(columns, data, terminal_width()):
        click.echo(line)


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
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and results as JSON.")
def command(config_path, dry_run, host, vram, ram, gpu, offline, refresh, quiet, as_json):
    """Decide and pull every [[models]] entry of the config that is missing here.

    One failing entry does not stop the others; the exit code is 1 if any failed.

    \b
    Examples:
      quantpick sync --dry-run
      quantpick sync --config ~/dotfiles/quantpick/workstation.toml
    """
    from ollama_quantpick import config as cfgmod
    from ollama_quantpick.commands.pull import install
    from ollama_quantpick.daemon import Daemon, resolve_host

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
        row = {"model": entry["name"], "task": entry.get("task") or cfg.get("defaults.task")
               or "general", "tag": None, "size_bytes": None, "installed": None,
               "action": None, "error": None}
        try:
            result, pick, reason = common.choose(entry["name"], cfg, budget, entry=entry)
            if pick is None:
                raise QuantpickError(reason)
            artifact = next(a for a in result.listing.artifacts if a.name == pick.name)
            row.update(tag=artifact.name, size_bytes=artifact.download_bytes, _artifact=artifact,
                       reason=reason)
            try:
                digest = artifact.manifest.digest if artifact.manifest else None
                row["installed"] = daemon.find([artifact.name], digest) is not None
            except QuantpickError:
                if not dry_run:
                    raise
            row["action"] = "keep" if row["installed"] else "pull"
        except QuantpickError as exc:
            row.update(action="failed", error=str(exc))
        rows.append(row)
    if not as_json:
        _print_plan(rows)
    if not dry_run:
        for row in rows:
            if row["action"] != "pull":
                continue
            try:
                install(daemon, row["_artifact"], yes=True, quiet=quiet or as_json)
                row["action"] = "pulled"
            except QuantpickError as exc:
                row.update(action="failed", error=str(exc))
    failed = [r for r in rows if r["action"] == "failed"]
    if as_json:
        common.echo_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    else:
        for r in failed:
            click.echo(f"failed: {r['model']}: {r['error']}", err=True)
        done = sum(r["action"] == "pulled" for r in rows)
        kept = sum(r["action"] == "keep" for r in rows)
        verb = "would pull" if dry_run else "pulled"
        todo = sum(r["action"] == "pull" for r in rows) if dry_run else done
        click.echo(f"{verb} {todo}, already installed {kept}, failed {len(failed)}")
    if failed:
        raise SystemExit(1)


def _print_plan(rows: list[dict]) -> None:
    from ollama_quantpick.sizes import format_bytes

    header = ["MODEL", "TASK", "CHOSEN TAG", "SIZE", "INSTALLED", "ACTION"]
    table = [[r["model"], r["task"], r["tag"] or "-", format_bytes(r["size_bytes"])
              if r["size_bytes"] else "-",
              {True: "yes", False: "no", None: "?"}[r["installed"]], r["action"]] for r in rows]
    widths = [max(len(x[i]) for x in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())

"""`quantpick config path|show|init|set|unset`: the TOML file kept in dotfiles."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.errors import InputError


@click.group("config")
def command():
    """Read and edit the config file (path, show, init, set, unset).

    \b
    Examples:
      quantpick config path
      quantpick config init
      quantpick config set defaults.task math
      quantpick config show --json
    """


@command.command("path")
def path_cmd():
    """Print where the config file is (QUANTPICK_CONFIG overrides)."""
    from ollama_quantpick.paths import config_file

    click.echo(str(config_file()))


@command.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the effective settings as JSON.")
def show_cmd(as_json):
    """Print the effective settings and where each one came from (flag > environment > config >
    detected or default; no flags here)."""
    from ollama_quantpick import config as cfgmod
    from ollama_quantpick import settings

    cfg = cfgmod.load()
    effective = {key: {"value": _shown(key, r.value), "source": r.source}
                 for key, r in settings.effective(cfg).items()}
    if as_json:
        common.echo_json({"path": str(cfg.path), "exists": cfg.exists, "settings": effective,
                          "models": cfg.models})
        return
    click.echo(f"# {cfg.path}{'' if cfg.exists else ' (not created yet: quantpick config init)'}")
    for key, item in effective.items():
        shown = "(detected)" if item["value"] is None else item["value"]
        click.echo(f"{key} = {shown!s}  [{item['source']}]")
    for m in cfg.models:
        extras = ", ".join(f"{k}={v}" for k, v in m.items() if k != "name")
        name = ", ".join(m["name"]) if isinstance(m["name"], list) else m["name"]
        click.echo(f"models: {name}" + (f" ({extras})" if extras else ""))


@command.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_cmd(force):
    """Write a commented starter config file."""
    from ollama_quantpick import config as cfgmod
    from ollama_quantpick.paths import config_file

    path = config_file()
    with cfgmod.locked(path):
        if (bad := cfgmod.path_problem(path)) is not None:  # not 'already exists; use --force'
            raise bad
        if path.exists() and not force:
            raise InputError(f"{path} already exists; use --force to overwrite it")
        cfgmod.write_atomic(path, cfgmod.STARTER)
    click.echo(f"wrote {path}" + (f" (through the link to {cfgmod.real_path(path)})"
                                  if path.is_symlink() else ""))


@command.command("set")
@click.argument("key")
@click.argument("value")
def set_cmd(key, value):
    """Set KEY (dotted, e.g. defaults.task) to VALUE, checked, written atomically.

    Comments, order and layout of the file are kept; a symlinked file is written through its link.
    """
    from ollama_quantpick import config as cfgmod

    cfg = cfgmod.load(check=False)  # an edit is how a file with a bad key gets repaired
    left = cfgmod.update(cfg, key, cfgmod.parse_value(key, value))
    click.echo(f"{key} = {_shown(key, value)} in {cfg.path}")
    _still(left)


@command.command("unset")
@click.argument("key")
def unset_cmd(key):
    """Remove KEY from the config file."""
    from ollama_quantpick import config as cfgmod

    cfg = cfgmod.load(check=False)  # an edit is how a file with a bad key gets repaired
    left = cfgmod.update(cfg, key, None)
    click.echo(f"removed {key} from {cfg.path}")
    _still(left)


def _shown(key: str, value):
    """`value` fit to print: an Ollama host's user and password are sent, never shown (README)."""
    if key == "ollama.host" and isinstance(value, str):
        from ollama_quantpick.paths import redact

        return redact(value)
    return value


def _still(problems: list[str]) -> None:
    """What the file still has wrong after an edit that did not add it: every other command
    refuses the file until it is fixed."""
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)

"""Options and helpers shared by the commands that decide (tags, pick, fit, pull, sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ollama_quantpick.errors import InputError
from ollama_quantpick.settings import CTX_MAX, CTX_MIN, KV_CACHE, PREFER, TASKS

if TYPE_CHECKING:  # imported lazily at run time: `--help` must stay fast
    from ollama_quantpick import config as config_mod
    from ollama_quantpick.budget import Budget

KV = KV_CACHE
# data/quants.toml [speed] min_tok_s (half of reading speed), spelled out for `--help` like TASKS.
MIN_SPEED = 2.65


class FiniteFloat(click.ParamType):
    """A float >= 0 that is a real number: click.FloatRange lets `nan` through (every comparison
    with nan is false), which silently turned --min-speed off."""

    name = "number"

    def convert(self, value, param, ctx):
        from ollama_quantpick.sizes import parse_float, shown

        if isinstance(value, float):
            value = repr(value)
        number = parse_float(str(value), limit=1e9)
        if number is None:
            self.fail(f"'{shown(value)}' is not a number >= 0 (nan and inf are not)", param, ctx)
        return number


def ctx_option():
    return click.option("--ctx", type=click.IntRange(min=CTX_MIN, max=CTX_MAX), default=None,
                        help="Context length to plan for (default: Ollama's default for this "
                        "VRAM; smaller ones down to the task's floor are tried).")


def task_choice() -> click.Choice:
    return click.Choice(TASKS)


def budget_options(f):
    f = click.option("--gpu", metavar="NAME", default=None,
                     help="auto (detect), none (CPU alone), or plan for a card or chip by name: "
                     "'RTX 4090', '2x RTX 3090', 'RTX 4090 Laptop', 'M3 Max' (with --ram 128GB).")(f)
    f = click.option("--ram", metavar="SIZE", help="RAM to plan with, e.g. 64GB (default: "
                     "detected available RAM).")(f)
    f = click.option("--vram", metavar="SIZE", help="VRAM of EACH GPU planned for (detected or "
                     "named; one if none), e.g. 24GB, 24GiB, 16g; 0: no GPU (default: detected).")(f)
    return f


def _store_version(ctx: click.Context, _param, value):
    """Checked at parse time (bad → one line, exit 2), then kept for `resolve_release`."""
    if value is not None:
        from ollama_quantpick.release import parse_version

        try:
            parse_version(value)
        except InputError:
            raise click.BadParameter(f"expected an Ollama release such as 0.32.15, not "
                                     f"'{value}'") from None
        ctx.meta["ollama_version"] = value
    return value


def version_option(f):
    """--ollama-version: the release to predict (over the config's ollama.version and the
    daemon's /api/version)."""
    return click.option("--ollama-version", "ollama_version", metavar="X.Y.Z", expose_value=False,
                        callback=_store_version,
                        help="Ollama release to predict, e.g. 0.32.15 (default: the config's "
                        "ollama.version, else what the running Ollama says, else the newest "
                        "release quantpick knows).")(f)


def cache_options(f):
    f = click.option("--refresh", is_flag=True, help="Ignore cached pages; fetch again.")(f)
    f = click.option("--offline", is_flag=True, help="Answer from the cache alone.")(f)
    return f


def models_argument(f):
    """MODEL...: one model, or several that compete in one decision."""
    return click.argument("models", metavar="MODEL...", nargs=-1, required=True)(f)


def decision_options(f):
    """--task --ctx --kv-cache --prefer --min-speed --size, the budget and cache flags."""
    f = cache_options(f)
    f = version_option(f)
    f = budget_options(f)
    f = click.option("--size", metavar="SIZE", help="Only this parameter size, e.g. 70b "
                     "(default: every size of the model competes).")(f)
    f = click.option("--min-speed", "min_speed", type=FiniteFloat(), default=None,
                     help=f"Drop tags slower than this many tokens/s when speed is known (default: "
                     f"{MIN_SPEED:g}, half of reading speed; `tags` still lists slower ones).")(f)
    f = click.option("--prefer", type=click.Choice(PREFER), default=None,
                     help="Trade quality against speed (default: balanced).")(f)
    f = click.option("--kv-cache", "kv_cache", type=click.Choice(KV), default=None,
                     help="KV cache type, as OLLAMA_KV_CACHE_TYPE (default: env, else f16).")(f)
    f = ctx_option()(f)
    f = click.option("--task", type=task_choice(), default=None,
                     help="What the model is for; math is the most quantization-sensitive.")(f)
    return f


def resolve_release(cfg: config_mod.Config, host: str | None = None):
    """The Ollama release to predict (settings.release: --ollama-version > config ollama.version
    > the daemon's /api/version > the newest release quantpick knows), once per command."""
    from ollama_quantpick import settings

    ctx = click.get_current_context(silent=True)
    meta: dict = ctx.meta if ctx is not None else {}
    if "release" not in meta:  # once per command (sync decides several models)
        meta["release"] = settings.release(cfg, meta.get("ollama_version"),
                                           host or meta.get("ollama_host"))
    return meta["release"]


def note_release(release) -> None:
    """One line on stderr, once per command, when the release is assumed rather than known;
    printed with the answer, so that an error stays one line."""
    ctx = click.get_current_context(silent=True)
    if release.source != "assumed" or (ctx is not None and ctx.meta.get("release_noted")):
        return
    if ctx is not None:
        ctx.meta["release_noted"] = True
    note(f"note: {release.note or 'Ollama release unknown'}; predicting Ollama "
         f"{release.label}, the newest release quantpick knows (set --ollama-version or "
         "ollama.version)")


def load_config() -> config_mod.Config:
    from ollama_quantpick import config as config_mod

    return config_mod.load()


def apply_cache(cfg: config_mod.Config, offline: bool, refresh: bool) -> None:
    """Set the cache mode, and route what the HTTP layer says while it waits: a warning always,
    a note unless -q (read now: the notes come from worker threads, outside Click's context)."""
    from ollama_quantpick import http, settings

    settings.apply_cache(cfg, offline, refresh)
    quiet = global_quiet()

    def notify(level: str, message: str) -> None:
        if level != "note" or not quiet:
            http.to_stderr(level, message)

    http.settings.notify = notify


def prepare(offline: bool, refresh: bool, vram: str | None, ram: str | None, gpu: str | None):
    """What every deciding command does first: read the config, set the cache mode, and
    resolve the budget. Returns (config, budget)."""
    cfg = load_config()
    apply_cache(cfg, offline, refresh)
    return cfg, resolve_budget(cfg, vram, ram, gpu)


def resolve_budget(cfg: config_mod.Config, vram: str | None, ram: str | None,
                   gpu: str | None, probe=None) -> Budget:
    """settings.budget: flag > config [budget] > detection."""
    return detect_and_budget(cfg, vram, ram, gpu, probe)[1]


def detect_and_budget(cfg: config_mod.Config, vram: str | None, ram: str | None,
                      gpu: str | None, probe=None):
    """(Hardware, Budget) by settings.budget."""
    from ollama_quantpick import settings

    return settings.budget(cfg, vram, ram, gpu, probe)


def parse_models(models) -> list:
    from ollama_quantpick import settings

    return settings.parse_models(models)


def make_request(model, cfg: config_mod.Config, budget: Budget, *, entry: dict | None = None,
                 **flags):
    """settings.request with this command's flags (None: not given) and the release to
    predict. `model`: a name or a list of names (several models compete in one decision)."""
    from ollama_quantpick import settings

    return settings.request(model, budget, cfg, flags, entry, release=resolve_release(cfg))


def per_s(tps: float) -> str:
    """`1 token/s`, `0.5 tokens/s`, `12 tokens/s`."""
    shown = f"{tps:.0f}" if tps >= 10 else f"{tps:.1f}".rstrip("0").rstrip(".")
    return f"{shown} token/s" if shown == "1" else f"{shown} tokens/s"


def global_quiet() -> bool:
    """`quantpick -q ...` (or `-q` after a subcommand that has no -q of its own)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("quiet"))


def say(text: str, *, err: bool = False, lead: str = "") -> None:
    """Prose wrapped to the terminal's width: each line after `lead`, continuation lines indented
    two more (reasons, notes, fit's lines, sync's failures)."""
    from ollama_quantpick.table import terminal_width, wrap

    for line in wrap(text, terminal_width() - len(lead)):
        click.echo(lead + line, err=err)


def note(text: str) -> None:
    """A note on stderr, wrapped to the terminal's width; none under -q."""
    if not global_quiet():
        say(text, err=True)


def echo_json(obj) -> None:
    import json

    click.echo(json.dumps(obj, indent=2))


def plan_notes(result) -> None:
    """What the plan collected for the user on stderr: a warning (a stale cached page, a registry
    that gave no manifest) as one line, always; a note (a --ctx past the model's context) as
    notes are, wrapped and not under -q."""
    for line in result.warnings:
        if line.startswith("note: "):
            note(line)
        else:
            click.echo(line, err=True)


def decide_and_note(model, cfg: config_mod.Config, budget: Budget, **opts):
    """Build the request, call planner.choose (the one decision entry point), and print the
    plan's notes: (plan, candidate or None, reason)."""
    from ollama_quantpick.errors import NothingFits
    from ollama_quantpick.planner import choose

    try:
        result, pick, reason = choose(make_request(model, cfg, budget, **opts))
    except NothingFits as exc:
        if exc.plan is not None:
            plan_notes(exc.plan)
        raise
    plan_notes(result)
    if pick is not None:  # a "no" stays one line
        note_release(result.request.release)
    return result, pick, reason

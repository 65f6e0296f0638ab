"""Options and helpers shared by the commands that decide (tags, pick, fit, pull, sync)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from ollama_quantpick.errors import InputError

if TYPE_CHECKING:  # imported lazily at run time: `--help` must stay fast
    from ollama_quantpick import config as config_mod
    from ollama_quantpick.budget import Budget

PREFER = ("quality", "balanced", "speed")
KV = ("f16", "q8_0", "q4_0")
# The task profiles of data/quants.toml, spelled out so `--help` need not parse the data file
# (a test keeps the two equal).
TASKS = ("general", "math", "code", "reasoning", "instruct", "chat", "creative")
# data/quants.toml [speed] min_tok_s (half of reading speed), spelled out for `--help` like TASKS.
MIN_SPEED = 2.65
# The longest context any released model offers is 10M tokens (Llama 4 Scout, meta-llama's model
# card); past 2^24 a --ctx is a typo, and the estimate's float arithmetic would overflow.
CTX_MAX = 2**24


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
    return click.option("--ctx", type=click.IntRange(min=256, max=CTX_MAX), default=None,
                        help="Context length to plan for (default: Ollama's default for this "
                        "VRAM; smaller ones down to the task's floor are tried).")


def env_uint(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole-number Ollama environment variable. Ollama's envconfig parses these with Go's
    strconv (ASCII digits only); a value it cannot read is refused here with one line, since
    planning with a number Ollama would not use gives a wrong answer."""
    from ollama_quantpick.sizes import parse_uint, shown

    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = parse_uint(raw)
    if value is None or value < minimum:
        raise InputError(f"{name}='{shown(raw)}' is not a whole number >= {minimum}; "
                         f"fix or unset it")
    return value


def task_choice() -> click.Choice:
    return click.Choice(TASKS)


def budget_options(f):
    f = click.option("--gpu", metavar="NAME", default=None,
                     help="auto (detect), none (CPU alone), or plan for a card or chip by name: "
                     "'RTX 4090', '2x RTX 3090', 'M3 Max' (with --ram 128GB).")(f)
    f = click.option("--ram", metavar="SIZE", help="RAM to plan with, e.g. 64GB (default: "
                     "detected available RAM).")(f)
    f = click.option("--vram", metavar="SIZE", help="VRAM to plan with, e.g. 24GB, 24GiB, 16g "
                     "(default: detected).")(f)
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
    """The Ollama release to predict: --ollama-version > config ollama.version > the daemon's
    /api/version > the newest release quantpick knows (`note_release` says so)."""
    from ollama_quantpick.release import Release, parse_version

    ctx = click.get_current_context(silent=True)
    meta: dict = ctx.meta if ctx is not None else {}
    flag = meta.get("ollama_version")
    host = host or meta.get("ollama_host")
    if "release" in meta:  # once per command (sync decides several models)
        return meta["release"]
    if flag is not None:
        release = Release(parse_version(flag), "flag")
    elif cfg.get("ollama.version") is not None:
        release = Release(parse_version(cfg.get("ollama.version"), "config ollama.version"),
                          "config")
    else:
        from ollama_quantpick.daemon import Daemon, resolve_host

        try:
            daemon = Daemon(host or resolve_host(None, cfg.get("ollama.host")))
            answer, note = daemon.version()
        except Exception as exc:  # noqa: BLE001 - a bad OLLAMA_HOST is reported elsewhere
            answer, note = None, f"the Ollama host is not usable ({exc})"
        parsed = None
        if answer is not None:
            try:
                parsed = parse_version(answer)
            except InputError:
                note = f"Ollama answered /api/version with '{answer[:40]}', not a release"
        release = Release(parsed, "daemon") if parsed else Release(source="assumed", note=note)
    meta["release"] = release
    return release


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
    from ollama_quantpick import http, paths

    if offline and refresh:
        raise InputError("--offline and --refresh contradict each other; use one")
    paths.library_url(), paths.registry_url()  # a malformed URL is a bad request: say so first
    http.settings.offline = offline
    http.settings.refresh = refresh
    if ttl := cfg.get("defaults.cache_ttl"):
        http.settings.ttl = ttl


def prepare(offline: bool, refresh: bool, vram: str | None, ram: str | None, gpu: str | None):
    """What every deciding command does first: read the config, set the cache mode, and
    resolve the budget. Returns (config, budget)."""
    cfg = load_config()
    apply_cache(cfg, offline, refresh)
    return cfg, resolve_budget(cfg, vram, ram, gpu)


def resolve_budget(cfg: config_mod.Config, vram: str | None, ram: str | None,
                   gpu: str | None, probe=None) -> Budget:
    """Flags over the config's [budget] over detection."""
    return detect_and_budget(cfg, vram, ram, gpu, probe)[1]


def detect_and_budget(cfg: config_mod.Config, vram: str | None, ram: str | None,
                      gpu: str | None, probe=None):
    """(Hardware, Budget): flags over the config's [budget] over detection. Detection runs even
    when both sizes are given: the card's bandwidth still sets the speed estimate."""
    from ollama_quantpick.hardware import detect, make_budget, named_hardware
    from ollama_quantpick.sizes import parse_size

    def pick(flag, key):
        if flag is not None:
            return parse_size(flag), "flag"
        if (value := cfg.get(f"budget.{key}")) is not None:
            return parse_size(value), "config"
        return None, "detected"

    (vram_b, vram_src), (ram_b, ram_src) = pick(vram, "vram"), pick(ram, "ram")
    hw = detect(probe)
    gpu = gpu or cfg.get("budget.gpu") or "auto"
    budget = make_budget(hw, vram=vram_b, ram=ram_b, gpu=gpu, vram_source=vram_src,
                         ram_source=ram_src)
    if gpu not in ("auto", "none"):  # show the hardware planned for, not this machine's
        hw = named_hardware(gpu, ram_b, hw.ram_available_bytes)
    return hw, budget


def parse_models(models) -> list:
    """One name or several (`qwen3 llama3.3`): each validated before anything is fetched; the
    same model named twice counts once."""
    from ollama_quantpick.tagname import parse_model_ref

    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise InputError("name at least one model, e.g. 'qwen3' or 'qwen3 llama3.3'")
    refs = list(dict.fromkeys(parse_model_ref(n) for n in names))
    whole = {(r.namespace, r.model) for r in refs if r.tag is None}
    # `qwen3 qwen3:32b`: every tag of qwen3 already competes; the explicit one adds nothing
    return [r for r in refs if r.tag is None or (r.namespace, r.model) not in whole]


def make_request(model, cfg: config_mod.Config, budget: Budget, *, task=None, ctx=None,
                 kv_cache=None, prefer=None, min_speed=None, size=None, entry: dict | None = None):
    """`model`: a name or a list of names (several models compete in one decision)."""
    from ollama_quantpick.planner import Request
    from ollama_quantpick.quants import data

    entry = entry or {}
    d = cfg.get
    ref, *others = parse_models(model)
    env_kv = os.environ.get("OLLAMA_KV_CACHE_TYPE")
    if env_kv and env_kv not in KV:
        env_kv = None
    parallel = env_uint("OLLAMA_NUM_PARALLEL", 0)  # 0 or unset: the release's default
    release = resolve_release(cfg)
    env = {k: v for k, v in os.environ.items() if k.startswith(("OLLAMA_", "LLAMA_ARG_"))}
    return Request(
        release=release, env=env, ref=ref, budget=budget,
        task=task or entry.get("task") or d("defaults.task") or "general",
        ctx=ctx or entry.get("ctx") or d("defaults.ctx"),
        kv_cache=kv_cache or d("defaults.kv_cache") or env_kv or "f16",
        prefer=prefer or entry.get("prefer") or d("defaults.prefer") or "balanced",
        min_tps=min_speed if min_speed is not None else (
            d("defaults.min_tokens_per_s") if d("defaults.min_tokens_per_s") is not None
            else data()["speed"]["min_tok_s"]),
        size=size or entry.get("size"),
        parallel=parallel or None,
        others=tuple(others),
    )


def per_s(tps: float) -> str:
    """`1 token/s`, `0.5 tokens/s`, `12 tokens/s`."""
    shown = f"{tps:.0f}" if tps >= 10 else f"{tps:.1f}".rstrip("0").rstrip(".")
    return f"{shown} token/s" if shown == "1" else f"{shown} tokens/s"


def global_quiet() -> bool:
    """`quantpick -q ...` (or `-q` after a subcommand that has no -q of its own)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("quiet"))


def note(text: str) -> None:
    """A note on stderr, wrapped to the terminal's width (continuation lines indented); none
    under -q."""
    from ollama_quantpick.table import terminal_width, wrap

    if global_quiet():
        return
    for line in wrap(text, terminal_width()):
        click.echo(line, err=True)


def echo_json(obj) -> None:
    import json

    click.echo(json.dumps(obj, indent=2))


def stale_note(page) -> None:
    """Tell the user when an answer came from an old cached copy."""
    from ollama_quantpick import http

    if getattr(page, "stale", False):
        note(f"note: network unavailable; using the cached copy from "
             f"{http.describe_age(page.age_s)} ago")


def choose(model, cfg: config_mod.Config, budget: Budget, **opts):
    """Build the request, decide, and note a stale cache: (plan, candidate or None, reason)."""
    from ollama_quantpick.planner import choose as decide

    result, pick, reason = decide(make_request(model, cfg, budget, **opts))
    for listing in result.listings or [result.listing]:
        stale_note(listing.page)
    if pick is not None:  # a "no" stays one line
        note_release(result.request.release)
    return result, pick, reason

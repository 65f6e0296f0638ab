"""Every setting quantpick uses, resolved by one rule, in one place:

    flag  >  environment variable  >  config file  >  detected or built-in default

A `[[models]]` entry of the config (for `sync`) is config too, more specific than `[defaults]`:
flag > environment > the entry > `[defaults]` > default. Not every setting has every level; the
table `SPECS` says which flag, environment variable and config key each one has. An environment
value that is not one the setting accepts is ignored, as Ollama ignores it.

No Click here: the commands pass what the user typed (None when a flag was not given).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ollama_quantpick.errors import InputError

if TYPE_CHECKING:  # imported lazily at run time: `--help` must stay fast
    from ollama_quantpick.budget import Budget
    from ollama_quantpick.config import Config
    from ollama_quantpick.hardware import Hardware, Probe
    from ollama_quantpick.planner import Request
    from ollama_quantpick.release import Release
    from ollama_quantpick.tagname import ModelRef

PREFER = ("quality", "balanced", "speed")
KV_CACHE = ("f16", "q8_0", "q4_0")
GPU = ("auto", "none")
# The task profiles of data/quants.toml, spelled out so `--help` need not parse the data file
# (a test keeps the two equal).
TASKS = ("general", "math", "code", "reasoning", "instruct", "chat", "creative")
DEFAULT_CACHE_TTL = 24 * 3600
# The longest context any released model offers is 10M tokens (Llama 4 Scout, meta-llama's model
# card); past 2^24 a context is a typo, and the estimate's float arithmetic would overflow. Below
# 256 no prompt fits. --ctx and the config's ctx keys share the range.
CTX_MIN, CTX_MAX = 256, 2**24


def _min_speed() -> float:
    from ollama_quantpick.quants import data

    return data()["speed"]["min_tok_s"]


def _default_host() -> str:
    from ollama_quantpick.daemon import DEFAULT_HOST

    return DEFAULT_HOST


def _kv_env(text: str) -> str | None:
    return text if text in KV_CACHE else None


def _uint_env(name: str) -> Callable[[str], int | None]:
    """A whole-number Ollama variable. Ollama's envconfig parses these with Go's strconv (ASCII
    digits only); a value it cannot read is refused with one line (exit 2), since planning with a
    number Ollama would not use gives a wrong answer. 0 means "Ollama's default"."""
    def parse(text: str) -> int | None:
        from ollama_quantpick.sizes import parse_uint, shown

        value = parse_uint(text)
        if value is None:
            raise InputError(f"{name}='{shown(text)}' is not a whole number >= 0; fix or unset it")
        return value or None
    return parse


def _text_env(text: str) -> str | None:
    return text.strip() or None


@dataclass(frozen=True)
class Spec:
    """Where one setting may come from. `default` may be a callable (computed on use); None
    means "detected" (or Ollama's own default, as for the context)."""

    flag: str | None = None
    env: str | None = None
    key: str | None = None  # config key, dotted
    entry: str | None = None  # key of a [[models]] entry
    default: Any = None
    parse_env: Callable[[str], Any] | None = None


SPECS: dict[str, Spec] = {
    "task": Spec("--task", key="defaults.task", entry="task", default="general"),
    "ctx": Spec("--ctx", key="defaults.ctx", entry="ctx"),
    "kv_cache": Spec("--kv-cache", "OLLAMA_KV_CACHE_TYPE", "defaults.kv_cache", default="f16",
                     parse_env=_kv_env),
    "prefer": Spec("--prefer", key="defaults.prefer", entry="prefer", default="balanced"),
    "min_speed": Spec("--min-speed", key="defaults.min_speed", default=_min_speed),
    "size": Spec("--size", entry="size"),
    # None: the default of the Ollama release being predicted (release.py)
    "parallel": Spec(env="OLLAMA_NUM_PARALLEL", parse_env=_uint_env("OLLAMA_NUM_PARALLEL")),
    "cache_ttl": Spec(key="defaults.cache_ttl", default=DEFAULT_CACHE_TTL),
    "vram": Spec("--vram", key="budget.vram"),
    "ram": Spec("--ram", key="budget.ram"),
    "gpu": Spec("--gpu", key="budget.gpu", default="auto"),
    "host": Spec("--host", "OLLAMA_HOST", "ollama.host", default=_default_host,
                 parse_env=_text_env),
    # None: ask the running Ollama (`release`), else assume the newest release quantpick knows
    "ollama_version": Spec("--ollama-version", key="ollama.version"),
}


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from."""

    value: Any
    source: str  # flag | env NAME | config | default | detected


def resolve(name: str, flag: Any = None, cfg: Config | None = None,
            env: Mapping[str, str] | None = None, entry: Mapping[str, Any] | None = None
            ) -> Resolved:
    """The value of setting `name` and where it came from, by the one rule."""
    spec = SPECS[name]
    env = os.environ if env is None else env
    if flag is not None:
        return Resolved(flag, "flag")
    if spec.env and (raw := env.get(spec.env)) and raw.strip():
        value = spec.parse_env(raw) if spec.parse_env else raw
        if value is not None:
            return Resolved(value, f"env {spec.env}")
    if spec.entry and entry and entry.get(spec.entry) is not None:
        return Resolved(entry[spec.entry], "config")
    if spec.key and cfg is not None and (value := cfg.get(spec.key)) is not None:
        return Resolved(value, "config")
    default = spec.default() if callable(spec.default) else spec.default
    return Resolved(default, "default" if default is not None else "detected")


@dataclass
class Settings:
    """The resolved settings of one decision; `sources` says where each came from."""

    task: str
    ctx: int | None
    kv_cache: str
    prefer: str
    min_speed: float
    size: str | None
    parallel: int | None
    sources: dict[str, str] = field(default_factory=dict)


DECISION = ("task", "ctx", "kv_cache", "prefer", "min_speed", "size", "parallel")


def decision(cfg: Config | None, flags: Mapping[str, Any] | None = None,
             entry: Mapping[str, Any] | None = None,
             env: Mapping[str, str] | None = None) -> Settings:
    """The settings a decision uses: `flags` maps setting names to what the user typed."""
    flags = flags or {}
    got = {name: resolve(name, flags.get(name), cfg, env, entry) for name in DECISION}
    ctx = got["ctx"]
    if ctx.source == "config" and not CTX_MIN <= ctx.value <= CTX_MAX:
        # the config schema checks only for a positive integer; the range is the flag's
        where = (f"config [[models]] {entry.get('name')}: ctx" if entry and entry.get("ctx")
                 is not None else f"config {SPECS['ctx'].key}")
        raise InputError(f"{where} = {ctx.value} is out of range: a context is {CTX_MIN} to "
                         f"{CTX_MAX} tokens")
    return Settings(**{n: r.value for n, r in got.items()},
                    sources={n: r.source for n, r in got.items()})


def parse_models(models: str | Sequence[str]) -> list[ModelRef]:
    """One name or several (`qwen3 llama3.3`): each validated before anything is fetched; the
    same name twice counts once. Two names of one download (`qwen3 qwen3:32b`, `qwen3:8b
    qwen3:latest`) are merged after loading (planner.plan), where each explicit tag is checked."""
    from ollama_quantpick.tagname import parse_model_ref

    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise InputError("name at least one model, e.g. 'qwen3' or 'qwen3 llama3.3'")
    return list(dict.fromkeys(parse_model_ref(n) for n in names))


def request(model: str | Sequence[str], budget: Budget, cfg: Config | None = None,
            flags: Mapping[str, Any] | None = None, entry: Mapping[str, Any] | None = None,
            env: Mapping[str, str] | None = None, release: Release | None = None) -> Request:
    """A planner Request for MODEL on `budget` with every setting resolved (`release`: the Ollama
    release to predict, from `release()`; None: the newest one known)."""
    from ollama_quantpick.planner import Request
    from ollama_quantpick.release import Release

    ref, *others = parse_models(model)
    s = decision(cfg, flags, entry, env)
    environ = os.environ if env is None else env
    server_env = {k: v for k, v in environ.items() if k.startswith(("OLLAMA_", "LLAMA_ARG_"))}
    return Request(ref=ref, budget=budget, task=s.task, ctx=s.ctx, kv_cache=s.kv_cache,
                   prefer=s.prefer, min_speed=s.min_speed, size=s.size, parallel=s.parallel,
                   size_from="--size" if s.sources["size"] == "flag" else "the config's size",
                   release=release or Release(), env=server_env, others=tuple(others))


def budget(cfg: Config | None, vram: str | None = None, ram: str | None = None,
           gpu: str | None = None, probe: Probe | None = None,
           env: Mapping[str, str] | None = None) -> tuple[Hardware, Budget]:
    """(Hardware, Budget) by the rule. Detection runs even when both sizes are given: the card's
    bandwidth still sets the speed estimate."""
    from ollama_quantpick.hardware import detect, gpu_keyword, make_budget, named_hardware
    from ollama_quantpick.sizes import memory_size

    sizes = {}
    for name, flag in (("vram", vram), ("ram", ram)):
        r = resolve(name, flag, cfg, env)
        where = SPECS[name].flag if r.source == "flag" else f"config {SPECS[name].key}"
        sizes[name] = (None if r.value is None else memory_size(r.value, str(where)), r.source)
    hw = detect(probe)
    gpu_r = resolve("gpu", gpu, cfg, env)
    gpu_r = Resolved(gpu_keyword(gpu_r.value), gpu_r.source)  # --gpu NONE, Auto: any case
    if gpu_r.value == "none" and sizes["vram"][0]:
        # "CPU alone" and a VRAM size from different places: the rule decides, as for any
        # setting (--gpu none over the config's budget.vram, --vram over its budget.gpu = none);
        # from the same place they contradict each other, and make_budget says so.
        if _rank(gpu_r.source) < _rank(sizes["vram"][1]):
            sizes["vram"] = (None, sizes["vram"][1])
        elif _rank(sizes["vram"][1]) < _rank(gpu_r.source):
            gpu_r = Resolved("auto", "default")
    planned = make_budget(hw, vram=sizes["vram"][0], ram=sizes["ram"][0], gpu=gpu_r.value,
                          vram_source=sizes["vram"][1], ram_source=sizes["ram"][1],
                          gpu_source=gpu_r.source)
    if gpu_r.value not in ("auto", "none"):  # show the GPU planned for, with this machine's RAM
        hw = named_hardware(gpu_r.value, sizes["ram"][0], hw)
    return hw, planned


def _rank(source: str) -> int:
    """A source's place in the rule: flag > env > config > default/detected."""
    return {"flag": 0, "env": 1, "config": 2}.get(source.split()[0], 3)


def host(cfg: Config | None, flag: str | None = None,
         env: Mapping[str, str] | None = None) -> str:
    """The Ollama to talk to (not yet normalised: daemon.resolve_host does that)."""
    return resolve("host", flag, cfg, env).value


def release(cfg: Config | None, flag: str | None = None, host: str | None = None,
            env: Mapping[str, str] | None = None) -> Release:
    """The Ollama release to predict: --ollama-version > config ollama.version > the running
    Ollama's /api/version (detected) > the newest release quantpick knows (`note` says why)."""
    from ollama_quantpick.release import Release, parse_version

    r = resolve("ollama_version", flag, cfg, env)
    if r.source == "flag":
        return Release(parse_version(r.value), "flag")
    if r.source == "config":
        return Release(parse_version(r.value, "config ollama.version"), "config")
    from ollama_quantpick.daemon import Daemon, resolve_host

    try:
        answer, note = Daemon(host or resolve_host(resolve("host", None, cfg, env).value)).version()
    except InputError:
        raise  # a malformed OLLAMA_HOST (':notaport', 'http://[::1') is a bad request: exit 2
    except Exception as exc:  # noqa: BLE001 - no answer only makes the release assumed
        answer, note = None, f"the Ollama host is not usable ({exc})"
    parsed = None
    if answer is not None:
        try:
            parsed = parse_version(answer)
        except InputError:
            from ollama_quantpick.sizes import shown

            note = f"Ollama answered /api/version with '{shown(answer)}', not a release"
        if parsed == (0, 0, 0):  # a build from source says 0.0.0: its rules are today's
            parsed, note = None, "the running Ollama is a development build (0.0.0)"
    return Release(parsed, "daemon") if parsed else Release(source="assumed", note=note)


def apply_cache(cfg: Config | None, offline: bool = False, refresh: bool = False) -> None:
    """Set this process's cache mode (flags) and lifetime (config, else a day)."""
    from ollama_quantpick import http, paths

    if offline and refresh:
        raise InputError("--offline and --refresh contradict each other; use one")
    paths.library_url(), paths.registry_url()  # a malformed URL is a bad request: say so first
    http.settings.offline = offline
    http.settings.refresh = refresh
    http.settings.ttl = resolve("cache_ttl", None, cfg).value


def effective(cfg: Config, env: Mapping[str, str] | None = None) -> dict[str, Resolved]:
    """Every setting that has a config key, resolved without flags: what `config show` prints."""
    return {spec.key: resolve(name, None, cfg, env) for name, spec in SPECS.items() if spec.key}

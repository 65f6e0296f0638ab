"""The TOML config (kept in dotfiles): read and validate every key, write atomically.

Schema (../shared/DESIGN.md §4): [defaults], [budget], [[models]], [ollama]. An error names the
file, the key and what was expected (exit 2). Nothing the user wrote is lost: writes go to a
temporary file that is fsynced and renamed over the original, keeping its mode, and a file with
comments is never rewritten (tomli-w would drop them).
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import parse_size

PREFER = ("quality", "balanced", "speed")
KV_CACHE = ("f16", "q8_0", "q4_0")
GPU = ("auto", "none")


def _tasks() -> tuple[str, ...]:
    from ollama_quantpick.quants import tasks

    return tuple(tasks())


def _choice(values):
    def check(v):
        vals = values() if callable(values) else values
        if not isinstance(v, str) or v not in vals:
            return f"one of {', '.join(vals)}"
        return None
    return check


def _int_pos(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v > 0 else "a positive integer"


def _number(v):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    return None if ok else "a number >= 0"


def _size(v):
    try:
        parse_size(v)
    except InputError:
        return "a size such as \"24GB\", \"16GiB\" or \"0\""
    return None


def _text(v):
    return None if isinstance(v, str) and v.strip() else "a non-empty string"


SCHEMA = {
    "defaults": {"task": _choice(_tasks), "ctx": _int_pos, "prefer": _choice(PREFER),
                 "kv_cache": _choice(KV_CACHE), "min_tokens_per_s": _number,
                 "cache_ttl": _int_pos},
    "budget": {"vram": _size, "ram": _size, "gpu": _choice(GPU)},
    "ollama": {"host": _text},
}
MODEL_KEYS = {"name": _text, "task": _choice(_tasks), "ctx": _int_pos, "prefer": _choice(PREFER),
              "size": _text}


@dataclass
class Config:
    path: Path
    exists: bool
    data: dict = field(default_factory=dict)

    def get(self, dotted: str):
        section, _, key = dotted.partition(".")
        return self.data.get(section, {}).get(key)

    @property
    def models(self) -> list[dict]:
        return self.data.get("models", [])


def validate(data: dict, path: Path) -> None:
    where = str(path)
    for section, value in data.items():
        if section == "models":
            if not isinstance(value, list):
                raise InputError(f"{where}: 'models' must be a list of [[models]] tables")
            for i, entry in enumerate(value, 1):
                if not isinstance(entry, dict):
                    raise InputError(f"{where}: [[models]] entry {i} must be a table")
                if "name" not in entry:
                    raise InputError(f"{where}: [[models]] entry {i} has no 'name'")
                for key, v in entry.items():
                    check = MODEL_KEYS.get(key)
                    if check is None:
                        raise InputError(f"{where}: unknown key 'models[{i}].{key}' (known: "
                                         f"{', '.join(MODEL_KEYS)})")
                    if (expected := check(v)) is not None:
                        raise InputError(f"{where}: 'models[{i}].{key}' = {v!r}; expected "
                                         f"{expected}")
            continue
        if section not in SCHEMA:
            raise InputError(f"{where}: unknown section [{section}] (known: "
                             f"{', '.join([*SCHEMA, 'models'])})")
        if not isinstance(value, dict):
            raise InputError(f"{where}: '{section}' must be a table")
        for key, v in value.items():
            check = SCHEMA[section].get(key)
            if check is None:
                raise InputError(f"{where}: unknown key '{section}.{key}' (known: "
                                 f"{', '.join(SCHEMA[section])})")
            if (expected := check(v)) is not None:
                raise InputError(f"{where}: '{section}.{key}' = {v!r}; expected {expected}")


def load(path: Path | None = None) -> Config:
    """Read and validate; a missing file is an empty config."""
    from ollama_quantpick.paths import config_file
    from ollama_quantpick.tomlcompat import tomllib

    path = path or config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path, False)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    validate(data, path)
    return Config(path, True, data)


def parse_value(dotted: str, raw: str):
    """Turn `quantpick config set KEY VALUE` text into the TOML value the key expects."""
    section, _, key = dotted.partition(".")
    if section not in SCHEMA or key not in SCHEMA[section]:
        known = ", ".join(f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys)
        raise InputError(f"unknown key '{dotted}'; settable keys: {known}")
    check = SCHEMA[section][key]
    value: object = raw
    if check in (_int_pos,):
        value = int(raw) if raw.isdigit() else raw
    elif check is _number:
        try:
            value = float(raw) if "." in raw else int(raw)
        except ValueError:
            value = raw
    if (expected := check(value)) is not None:
        raise InputError(f"'{dotted}' = {raw!r}; expected {expected}")
    return value


def has_comments(text: str) -> bool:
    """Conservative: any '#' may be a comment tomli-w would drop, so the file is left alone."""
    return "#" in text


def write_atomic(path: Path, text: str) -> None:
    """Temporary file in the same folder, fsync, rename; the file's mode is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update(cfg: Config, dotted: str, value) -> None:
    """Set (or, with value None, unset) one key and write the file atomically."""
    import tomli_w

    if cfg.exists and has_comments(cfg.path.read_text(encoding="utf-8")):
        raise InputError(f"{cfg.path} has comments that rewriting would drop; edit it by hand "
                         f"(set {dotted} in it) or remove the comments first")
    section, _, key = dotted.partition(".")
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.data.items()}
    if value is None:
        if key not in data.get(section, {}):
            raise InputError(f"'{dotted}' is not set in {cfg.path}")
        del data[section][key]
        if not data[section]:
            del data[section]
    else:
        data.setdefault(section, {})[key] = value
    validate(data, cfg.path)
    write_atomic(cfg.path, tomli_w.dumps(data))
    cfg.data, cfg.exists = data, True


STARTER = """\
# quantpick configuration: keep it in your dotfiles.
# Flags beat this file; this file beats detection and built-in defaults.

[defaults]
task = "general"          # math, code, reasoning, instruct, creative, chat, general
prefer = "balanced"       # quality, balanced, speed
# ctx = 8192              # context length to plan for (default: what Ollama would use)
# kv_cache = "f16"        # f16, q8_0, q4_0 (as OLLAMA_KV_CACHE_TYPE)
# min_tokens_per_s = 5.3  # drop tags slower than this when speed is known
# cache_ttl = 86400       # seconds to trust cached ollama.com pages

# [budget]                # override what `quantpick hw` detects
# vram = "24GB"
# ram = "64GB"
# gpu = "auto"            # "none" plans for the CPU alone

# [ollama]
# host = "http://127.0.0.1:11434"

# What `quantpick sync` brings this machine to:
# [[models]]
# name = "qwen3"
# task = "code"
#
# [[models]]
# name = "nomic-embed-text:latest"   # an explicit tag is pulled as it is
"""

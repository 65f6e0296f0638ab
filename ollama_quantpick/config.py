"""The TOML config (kept in dotfiles): read and validate every key, edit it in place.

Schema: [defaults], [budget], [[models]], [ollama]. An error names the file, the key and what was
expected (exit 2). Nothing the user wrote is lost:
- `set`/`unset` edit the document with tomlkit, which round-trips comments, order and layout, so a
  hand-written (commented) dotfile changes only in the one key; its line endings (CRLF), a UTF-8
  byte-order mark and a missing final newline are kept too;
- writes go to a temporary file beside the real file (through a symlink: stow, chezmoi,
  home-manager keep their link), fsynced and renamed over it with its mode kept; a failure (read-only
  folder, full disk) leaves the old file as it was and says so in one line (exit 1);
- read-modify-write runs under a lock on the file's folder, so concurrent `config set`s all land.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from ollama_quantpick.errors import InputError, QuantpickError
from ollama_quantpick.settings import CTX_MAX, CTX_MIN, GPU, KV_CACHE, PREFER
from ollama_quantpick.sizes import expected_size, memory_size


def _tasks() -> tuple[str, ...]:
    from ollama_quantpick.quants import tasks

    return tuple(tasks())


def _gpu(v) -> str | None:
    """auto, none, or a GPU name that data/gpus.toml knows (as --gpu)."""
    from ollama_quantpick.errors import InputError
    from ollama_quantpick.hardware import lookup_gpu

    if isinstance(v, str):
        if v.strip().lower() in GPU:  # the keywords in any case, as --gpu takes them
            return None
        try:
            lookup_gpu(v)
            return None
        except InputError:
            pass
    return "auto, none or a GPU name such as 'RTX 4090' or '2x RTX 3090'"


def _choice(values):
    def check(v):
        vals = values() if callable(values) else values
        if not isinstance(v, str) or v not in vals:
            return f"one of {', '.join(vals)}"
        return None
    return check


# Past 2^31 no key makes sense (ctx, cache_ttl in seconds: 68 years), and a 400-digit integer
# would overflow the estimate's float arithmetic.
INT_MAX = 2**31 - 1


def _int_pos(v):
    ok = isinstance(v, int) and not isinstance(v, bool) and 0 < v <= INT_MAX
    return None if ok else f"a positive integer up to {INT_MAX}"


def _ctx(v):
    """A context length in --ctx's range: `pick` refuses any other, so the file may not hold it."""
    ok = isinstance(v, int) and not isinstance(v, bool) and CTX_MIN <= v <= CTX_MAX
    return None if ok else f"an integer from {CTX_MIN} to {CTX_MAX} (tokens of context, as --ctx)"


def _number(v):
    # TOML allows nan and inf; neither is a speed (nan would silently turn the filter off).
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1e9
    return None if ok else "a number >= 0"


def _size(v):
    # memory_size: a TOML integer is refused like a bare number (`vram = 24` is no 24 bytes)
    try:
        memory_size(v, "")
    except InputError:
        return expected_size(v)
    return None


def _text(v):
    return None if isinstance(v, str) and v.strip() else "a non-empty string"


def _host_problem(v, source: str) -> str | None:
    """What daemon.parse_host, the one checker of Ollama hosts, says is wrong with `v`, or None;
    `source` is where the value came from (its message names it, never the credentials)."""
    from ollama_quantpick.daemon import parse_host

    try:
        parse_host(v, source)
    except InputError as exc:
        return str(exc)
    return None


def _release(v):
    from ollama_quantpick.release import parse_version

    try:
        parse_version(v)
    except InputError:
        return "an Ollama release such as \"0.32.15\""
    return None


def _names(v):
    """A model name, or a list of names that compete for one slot (sync pulls the winner)."""
    if isinstance(v, list) and v and all(_text(x) is None for x in v):
        return None
    return None if _text(v) is None else "a model name or a non-empty list of names"


SCHEMA = {
    "defaults": {"task": _choice(_tasks), "ctx": _ctx, "prefer": _choice(PREFER),
                 "kv_cache": _choice(KV_CACHE), "min_speed": _number,
                 "cache_ttl": _int_pos},
    "budget": {"vram": _size, "ram": _size, "gpu": _gpu},
    "ollama": {"host": _text, "version": _release},
}
# Keys renamed so that flag, config key and JSON share one name; the old spelling gets a pointer.
RENAMED = {"defaults.min_tokens_per_s": "defaults.min_speed"}
MODEL_KEYS = {"name": _names, "task": _choice(_tasks), "ctx": _ctx, "prefer": _choice(PREFER),
              "size": _text}


@dataclass
class Config:
    """The config file as read: its path, whether it exists, and its TOML data."""

    path: Path
    exists: bool
    data: dict = field(default_factory=dict)

    def get(self, dotted: str):
        section, _, key = dotted.partition(".")
        return self.data.get(section, {}).get(key)

    @property
    def models(self) -> list[dict]:
        return self.data.get("models", [])


def problems(data: dict, path: Path) -> list[str]:
    """Every problem in parsed config `data`, one line each (file, key, what was expected)."""
    return list(_problems(data, path))


def validate(data: dict, path: Path) -> None:
    """Raise InputError (exit 2) with the first problem in `data`, if any."""
    for problem in _problems(data, path):
        raise InputError(problem)


def _problems(data: dict, path: Path) -> Iterator[str]:
    where = str(path)
    for section, value in data.items():
        if section == "models":
            if not isinstance(value, list):
                yield f"{where}: 'models' must be a list of [[models]] tables"
                continue
            for i, entry in enumerate(value, 1):
                if not isinstance(entry, dict):
                    yield f"{where}: [[models]] entry {i} must be a table"
                    continue
                if "name" not in entry:
                    yield f"{where}: [[models]] entry {i} has no 'name'"
                for key, v in entry.items():
                    check = MODEL_KEYS.get(key)
                    if check is None:
                        yield f"{where}: unknown key 'models[{i}].{key}' (known: {', '.join(MODEL_KEYS)})"
                    elif (expected := check(v)) is not None:
                        yield f"{where}: 'models[{i}].{key}' = {v!r}; expected {expected}"
            continue
        if section not in SCHEMA:
            yield f"{where}: unknown section [{section}] (known: {', '.join([*SCHEMA, 'models'])})"
            continue
        if not isinstance(value, dict):
            yield f"{where}: '{section}' must be a table"
            continue
        for key, v in value.items():
            check = SCHEMA[section].get(key)
            if (new := RENAMED.get(f"{section}.{key}")) is not None:
                new_section, _, new_key = new.partition(".")
                set_too = isinstance(data.get(new_section), dict) and new_key in data[new_section]
                yield (f"{where}: '{section}.{key}' is now called '{new}'; "
                       f"{_rename_hint(path, f'{section}.{key}', new, v, set_too)}")
            elif check is None:
                yield f"{where}: unknown key '{section}.{key}' (known: {', '.join(SCHEMA[section])})"
            elif (expected := check(v)) is not None:
                yield f"{where}: '{section}.{key}' = {v!r}; expected {expected}"
            elif (section, key) == ("ollama", "host") and (
                    bad := _host_problem(v, f"ollama.host in {where}")):
                yield bad  # here, not at first use, where it was blamed on a --host never given
    yield from _across(data, where)


def _across(data: dict, where: str) -> Iterator[str]:
    """Problems of keys that are each fine alone but not together (make_budget refuses them)."""
    budget = data.get("budget")
    if not isinstance(budget, dict):
        return
    gpu, vram = budget.get("gpu"), budget.get("vram")
    if gpu is None or vram is None or _gpu(gpu) is not None or _size(vram) is not None:
        return  # a missing key, or one with its own problem (said once, by its own check)
    if gpu.strip().lower() == "none" and memory_size(vram, "") != 0:
        # no values in the line: an edit of budget.vram alone then adds no new problem
        yield (f"{where}: 'budget.gpu' = none plans for the CPU alone, but 'budget.vram' gives "
               "a GPU; drop one of them")


def _rename_hint(path: Path, old: str, new: str, value, set_too: bool = False) -> str:
    """The commands that rename the key, where `quantpick config` edits this very file. When the
    new key is `set_too`, only the old one goes: setting the new one to the old value would undo
    the user's later choice."""
    from ollama_quantpick.paths import config_file

    here = Path(path).absolute() == config_file().absolute()
    if set_too:
        return f"'{new}' is set too: remove the old key" + (f": quantpick config unset {old}" if here else "")
    if not here:
        return "rename it"
    import shlex

    shown = shlex.quote(str(value)) if isinstance(value, (str, int, float)) else "VALUE"
    return f"rename it: quantpick config unset {old} && quantpick config set {new} {shown}"


def load(path: Path | None = None, *, check: bool = True) -> Config:
    """Read and validate; a missing file is an empty config. check=False parses without judging
    the keys (an edit that repairs the file reads it so); text that is not TOML still fails."""
    from ollama_quantpick.paths import config_file

    path = path or config_file()
    text = _read(path)
    if text is None:
        return Config(path, False)
    return Config(path, True, _parse(text, path) if check else _toml(text, path))


def _read(path: Path) -> str | None:
    """The file's text as written (CRLF kept: an edit writes the line endings back); None when
    it does not exist; InputError (one line) when unreadable."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        if (bad := path_problem(path)) is not None:  # a directory, or a file as its folder
            raise bad from None
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def path_problem(path: Path) -> InputError | None:
    """What makes `path` unusable whatever is retried, with what will help, or None: a directory
    or a device (QUANTPICK_CONFIG=/dev/null reads as empty, but no edit may replace it) where the
    file should be, or a file where one of its folders should be."""
    from ollama_quantpick.paths import config_file

    default = Path(path).absolute() == config_file().absolute()
    try:
        real = real_path(path)
        if real.is_dir():
            hint = ("set QUANTPICK_CONFIG to a file path or remove it" if default
                    else "give the path of a file")
            return InputError(f"{path} is a directory, not a file: {hint}")
        if real.exists() and not real.is_file():  # /dev/null, a FIFO: a write would replace it
            hint = ("set QUANTPICK_CONFIG to a file path" if default
                    else "give the path of a file")
            return InputError(f"{path} is not a regular file (a device, pipe or socket): {hint}")
        parent = next((p for p in real.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            hint = ("set QUANTPICK_CONFIG to another path or move that file away" if default
                    else "give another path")
            return InputError(f"{parent} is a file, not a folder, so {path} cannot exist: {hint}")
    except OSError:  # a folder we may not look into: the read or write says so itself
        pass
    return None


def _toml(text: str, path: Path) -> dict:
    from ollama_quantpick.tomlcompat import tomllib

    try:
        return tomllib.loads(text.removeprefix(BOM))
    except tomllib.TOMLDecodeError as exc:
        if "\r" in text.replace("\r\n", ""):  # TOML ends lines with LF or CRLF only
            raise InputError(f"{path} is not valid TOML: a line ends in a bare CR (classic Mac "
                             "OS); save it with LF or CRLF line endings") from None
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per level of nested arrays and inline tables
        raise InputError(f"{path} is not valid TOML (nested too deeply)") from None


# Windows editors may start a UTF-8 file with a byte-order mark; tomllib refuses it, so it is read
# past, and an edit writes it back.
BOM = "\ufeff"


def _layout(text: str) -> tuple[str, str, bool]:
    """(BOM or "", the text to edit, CRLF?): a file whose every line ends in CRLF is edited with
    LF and written back with CRLF, so that new lines (tomlkit writes LF) match the old ones; in a
    file of mixed endings tomlkit keeps each line's own and new lines get LF."""
    bom = BOM if text.startswith(BOM) else ""
    body = text[len(bom):]
    crlf = "\r\n" in body and body.count("\r\n") == body.count("\n")
    return bom, body.replace("\r\n", "\n") if crlf else body, crlf


def _parse(text: str, path: Path) -> dict:
    data = _toml(text, path)
    validate(data, path)
    return data


def parse_value(dotted: str, raw: str):
    """Turn `quantpick config set KEY VALUE` text into the TOML value the key expects."""
    section, _, key = dotted.partition(".")
    if section not in SCHEMA or key not in SCHEMA[section]:
        known = ", ".join(f"{s}.{k}" for s, keys in SCHEMA.items() for k in keys)
        raise InputError(f"unknown key '{dotted}'; settable keys: {known}")
    check = SCHEMA[section][key]
    from ollama_quantpick.sizes import parse_float, parse_uint, shown

    value: object = raw
    if check in (_int_pos, _ctx):
        # ASCII digits only: '²' passes str.isdigit() but int() refuses it.
        number = parse_uint(raw, limit=INT_MAX)
        value = raw if number is None else number
    elif check is _number:
        number = parse_uint(raw, limit=INT_MAX)
        value = number if number is not None else parse_float(raw, limit=1e9)
        value = raw if value is None else value
    if (expected := check(value)) is not None:
        raise InputError(f"'{dotted}' = '{shown(raw)}'; expected {expected}")
    if dotted == "ollama.host" and (bad := _host_problem(raw, dotted)):
        raise InputError(bad)
    return value


def real_path(path: Path) -> Path:
    """Where writes must land: the file a symlink (dotfiles manager) points at, the link kept."""
    return Path(os.path.realpath(path))


def _write_error(path: Path, exc: OSError) -> QuantpickError:
    real = real_path(path)
    where = str(path) if real == path.absolute() else f"{path} (a link to {real})"
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        hint = "free some disk space and run it again"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = ("it lives in a read-only store: change it where it is generated (e.g. your "
                "home-manager or nix config)" if str(real).startswith("/nix/store/")
                else "make the folder writable or point QUANTPICK_CONFIG at a writable copy")
    else:
        hint = "run it again"
    return QuantpickError(f"cannot write {where}: {why}; the file is unchanged — {hint}")


def write_atomic(path: Path, text: str) -> None:
    """Temporary file in the real file's folder, fsync, rename over it; the mode is kept and a
    symlinked config keeps its link. An OSError becomes one line (exit 1), the old file intact."""
    import tempfile  # only a write needs it: reading the config stays cheap

    target = real_path(path)
    if (bad := path_problem(path)) is not None:  # else 'Is a directory … run it again' (exit 1)
        raise bad
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:  # the text's own newlines
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


LOCK_TIMEOUT_S = 10.0


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of `path`. POSIX: flock on the real file's
    folder (no lock file left in the user's dotfiles; works in a read-only folder too). Elsewhere,
    or where the file system refuses flock: an O_EXCL lock file beside it, taken over when older
    than the timeout (a crashed writer).

    The folder is made first, so that every process, the one that creates it included, takes the
    same kind of lock: one that took a lock file while another took flock would exclude nothing
    (two `config set`s on a fresh machine lost a key)."""
    folder = real_path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made = True
    except OSError:  # a read-only parent, or a file in the way: the write fails with its own line
        made = False
    if not made:
        yield  # nobody can write there, so there is nothing to serialize
        return
    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None  # type: ignore[assignment]
    fd = -1
    if fcntl is not None:
        with suppress(OSError):  # a folder we may not read: the lock file, for everyone alike
            fd = os.open(folder, os.O_RDONLY)
    if fd >= 0:
        try:
            if _flock(fcntl, fd, path):
                yield
                return
        finally:
            os.close(fd)  # closing releases the lock
    with _lock_file(folder / f".{real_path(path).name}.lock", path):
        yield


def _flock(fcntl, fd: int, path: Path) -> bool:
    """Take flock on `fd`, polling until the timeout; False where the file system does not do
    flock (then it refuses every process alike, so all fall back to the lock file together)."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise QuantpickError(f"{path} is locked by another quantpick for over "
                                     f"{LOCK_TIMEOUT_S:.0f} s; try again") from None
            time.sleep(0.02)
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return False
            raise


@contextmanager
def _lock_file(lock: Path, path: Path) -> Iterator[None]:
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    held = False
    while not held:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            held = True
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > LOCK_TIMEOUT_S:
                    lock.unlink(missing_ok=True)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise QuantpickError(f"{path} is locked ({lock} exists); try again") from None
            time.sleep(0.02)
        except OSError:  # a read-only folder: the write will fail with its own message
            break
    try:
        yield
    finally:
        if held:
            lock.unlink(missing_ok=True)


def _edit(doc, section: str, key: str, value) -> bool:
    """Set or (value None) remove one key in a tomlkit document, keeping everything else as it
    was written. A new key goes after the table's last key, not after its trailing comments (which
    usually describe what follows). Returns False when an unset key was not there."""
    import tomlkit

    if value is None:
        table = doc.get(section)
        if table is None or key not in table:
            return False
        del table[key]
        # tomlkit gives a table written as dotted keys or split in two as a proxy without a body
        body = getattr(table.value, "body", None)
        if body is not None and not any(
                k is not None or isinstance(item, tomlkit.items.Comment) for k, item in body):
            del doc[section]  # an empty table without comments of its own goes too
        return True
    if section not in doc:
        doc.add(section, tomlkit.table())
    table = doc[section]
    if key in table:
        table[key] = value  # tomlkit keeps the key's inline comment and spacing
        return True
    body = getattr(table.value, "body", None)
    if body is None:  # a proxy (dotted keys, a split table): tomlkit places the key
        table[key] = value
        return True
    last = max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
    if last + 1 >= len(body):
        table[key] = value
        return True
    try:
        table.value._insert_at(last + 1, key, value)
    except (AttributeError, TypeError, ValueError):  # another tomlkit: append instead
        table[key] = value
    return True


def update(cfg: Config, dotted: str, value) -> list[str]:
    """Set (or, with value None, unset) one key and write the file atomically. The file is read
    again under the lock, so an update another process made since `cfg` was loaded is kept.

    The current file must be TOML but its keys are not judged: an edit is how a user repairs
    them (`unset` of an unknown or renamed key, `set` of its new name). The edit is refused only
    when the result has a problem the file did not have before, so with two bad keys either
    can go first. Returns the problems left (the caller says them)."""
    import tomlkit

    section, _, key = dotted.partition(".")
    with locked(cfg.path):
        text = _read(cfg.path)
        before = problems(_toml(text, cfg.path), cfg.path) if text is not None else []
        bom, body, crlf = _layout(text or "")
        try:
            doc = tomlkit.parse(body)
        except tomlkit.exceptions.ParseError as exc:  # TOML that tomllib reads and tomlkit not
            raise InputError(f"{cfg.path}: cannot edit this file ({exc}); change it in an "
                             "editor") from None
        table = doc.get(section)
        if table is not None and not isinstance(table, dict):
            raise InputError(f"{cfg.path}: '{section}' is not a table, so '{dotted}' cannot be "
                             f"{'removed' if value is None else 'set'}; edit it in the file")
        if not _edit(doc, section, key, value):
            raise InputError(f"'{dotted}' is not set in {cfg.path}")
        new_text = doc.as_string()
        if value is None and section not in doc and new_text.endswith("\n\n"):
            new_text = new_text.rstrip("\n") + "\n"  # the blank line that led the removed table
        if body and not body.endswith("\n"):
            new_text = new_text.removesuffix("\n")  # no final newline before, none after
        new_text = bom + (new_text.replace("\n", "\r\n") if crlf else new_text)
        data = _toml(new_text, cfg.path)  # proves tomlkit wrote valid TOML
        left = problems(data, cfg.path)
        known = {_gist(p) for p in before}
        for problem in left:
            if _gist(problem) not in known:
                raise InputError(problem)
        write_atomic(cfg.path, new_text)
    cfg.data, cfg.exists = data, True
    return left


def _gist(problem: str) -> str:
    """A problem without its advice: a renamed key's advice changes when its new name is set, and
    that edit adds no problem."""
    head, sep, rest = problem.partition("' is now called '")
    return head + sep + rest.partition("'")[0] if sep else problem


STARTER = """\
# quantpick configuration: keep it in your dotfiles.
# Flags beat environment variables (OLLAMA_HOST, OLLAMA_KV_CACHE_TYPE), which beat this
# file, which beats detection and built-in defaults.

[defaults]
task = "general"          # math, code, reasoning, instruct, creative, chat, general
prefer = "balanced"       # quality, balanced, speed
# ctx = 8192              # context length to plan for (default: what Ollama would use)
# kv_cache = "f16"        # f16, q8_0, q4_0 (as OLLAMA_KV_CACHE_TYPE)
# min_speed = 2.65        # drop tags slower than this when speed is known
# cache_ttl = 86400       # seconds to trust cached ollama.com pages

# [budget]                # override what `quantpick hw` detects
# vram = "24GB"          # each GPU's memory (the GPUs detected or named in gpu)
# ram = "64GB"
# gpu = "auto"            # "none" plans for the CPU alone; or a card: "RTX 4090", "2x RTX 3090"

# [ollama]
# host = "http://127.0.0.1:11434"
# version = "0.32.15"     # the release to predict (default: ask the running Ollama)

# What `quantpick sync` brings this machine to:
# [[models]]
# name = "qwen3"
# task = "code"
#
# [[models]]
# name = "nomic-embed-text:latest"   # an explicit tag is pulled as it is
#
# [[models]]
# name = ["qwen3", "gemma3"]         # candidates for one slot: the best here is pulled
# task = "chat"
"""

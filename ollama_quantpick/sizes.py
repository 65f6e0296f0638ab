"""Byte sizes: parse what users type (`24GB`, `24GiB`, `16g`) and print them back in one unit."""

from __future__ import annotations

import math
import re

from ollama_quantpick.errors import InputError

# Decimal units are what ollama.com and `ollama list` print (43GB = 43e9 bytes); binary units are
# what nvidia-smi and most GPU spec sheets mean. A bare one-letter suffix (`16g`) follows the
# docker/JVM convention and is binary.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
# ASCII digits only: `\d` would also take other scripts' digits, which int() may still refuse.
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", re.ASCII)
_UINT_RE = re.compile(r"[0-9]+", re.ASCII)

ACCEPTED_FORMS = "24GB, 24 GB, 24GiB, 16g, 8000MiB or 0"
# Less memory than this is a slip, not a machine: `24b` for 24GB (or a parameter count, as in
# `qwen3:8b`). No GPU or computer sold this century has under 1 MB, and no model's weights fit in
# it; 0 keeps its meaning (no GPU).
MIN_MEMORY = 10**6
# No machine holds an exbibyte; a larger figure is a typo (or 400 digits), not a budget, and would
# overflow the float arithmetic of the estimate.
MAX_SIZE = 2**60


def shown(text: object, limit: int = 40) -> str:
    """User text quoted for a one-line message: control characters escaped, long text cut."""
    s = repr(str(text))[1:-1]
    return s if len(s) <= limit else s[:limit] + "…"


def parse_uint(text: str | None, limit: int = MAX_SIZE) -> int | None:
    """A whole number written in ASCII digits (what Go's strconv.ParseUint takes), at most
    `limit`; None for anything else ('²' passes str.isdigit() but int() refuses it)."""
    if text is None:
        return None
    t = text.strip()
    if not _UINT_RE.fullmatch(t) or len(t) > 20:
        return None
    value = int(t)
    return value if value <= limit else None


def parse_float(text: str | None, limit: float = float(MAX_SIZE)) -> float | None:
    """A finite, non-negative number at most `limit` (nvidia-smi may print `inf` or `[N/A]`)."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value <= limit else None


def parse_size(text: str | int) -> int:
    """Return the number of bytes `text` stands for; InputError (exit 2) when it is not a size.

    Typed text needs a unit: a bare `24` (which used to be 24 bytes) and a nonzero size under
    MIN_MEMORY (`24b`) are refused with the size they most likely meant. An int is a byte count
    (the Python API; the config's integers go through memory_size)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise InputError(f"size must not be negative: {shown(text)}")
        if text > MAX_SIZE:
            raise InputError(f"size {shown(text)} is beyond any machine; use a form like "
                             f"{ACCEPTED_FORMS}")
        return text
    match = _SIZE_RE.fullmatch(str(text).strip())
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise InputError(f"'{shown(text)}' is not a size; use a form like {ACCEPTED_FORMS}")
    number = match.group(1)
    value = float(number) * _UNITS[unit]
    if not value <= MAX_SIZE:  # also catches inf from a number with hundreds of digits
        raise InputError(f"'{shown(text)}' is beyond any machine's memory; use a form like "
                         f"{ACCEPTED_FORMS}")
    if value and not unit:
        raise InputError(f"'{shown(text)}' has no unit: did you mean {_said(_meant(number))}?")
    if value and value < MIN_MEMORY:
        bigger = "MB" if unit.startswith("k") else "GB"
        raise InputError(f"'{shown(text)}' is {format_bytes(value)}, less memory than any machine "
                         f"has: did you mean {number}{bigger}?")
    return int(value)


def _meant(number: str) -> str:
    """What a number without a unit most likely meant, as a size parse_size takes: `24` → 24GB;
    a figure as large as a byte count (`24000000000`) → that many bytes, `24000000000B`."""
    return f"{number}B" if float(number) >= MIN_MEMORY else f"{number}GB"


def _said(meant: str) -> str:
    """The size meant, with a byte count said back in GB: `24000000000B (24.0 GB)`."""
    return meant if meant.endswith("GB") else f"{meant} ({format_bytes(parse_size(meant))})"


def expected_size(value: object) -> str:
    """What a config check says a bad size should be: the size meant when it is a number
    without a unit (`"24GB"`), else the accepted forms."""
    number = str(value).strip()
    if isinstance(value, (int, float, str)) and not isinstance(value, bool) and \
            _SIZE_RE.fullmatch(number) and number.replace(".", "", 1).isdigit() and float(number):
        meant = _meant(number)
        try:
            gloss = "" if meant.endswith("GB") else f" ({format_bytes(parse_size(meant))})"
            return f"a size with its unit: did you mean \"{meant}\"{gloss}?"
        except InputError:
            pass  # no size it could mean (400 digits): the accepted forms
    return "a size such as \"24GB\", \"16GiB\" or \"0\""


def memory_size(value: str | int, where: str) -> int:
    """A VRAM or RAM budget from `where` (`--vram`, `config budget.vram`): parse_size's rules,
    with `where` named. A TOML integer has no unit either (`budget.vram = 24`): refused like a
    bare number on the command line, with the quoted form as the fix; 0 stays "none"."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0:
            return 0
        key, meant = where.removeprefix("config "), _meant(str(value))
        gloss = "" if meant.endswith("GB") else f" ({format_bytes(value)})"
        raise InputError(f"{where} = {value} has no unit: did you mean {key} = \"{meant}\"{gloss}?")
    try:
        return parse_size(value)
    except InputError as exc:
        raise InputError(f"{where} {exc}") from None


def format_bytes(n: int | float | None) -> str:
    """Bytes as decimal GB/MB, the unit ollama.com uses, e.g. `42.5 GB`."""
    if n is None:
        return "?"
    if n >= 10**9:
        return f"{n / 1e9:.1f} GB"
    if n >= 10**6:
        return f"{n / 1e6:.0f} MB"
    if n >= 10**3:
        return f"{n / 1e3:.0f} kB"
    return f"{int(n)} B"

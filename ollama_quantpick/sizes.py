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
    """Return the number of bytes `text` stands for; InputError (exit 2) when it is not a size."""
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
    value = float(match.group(1)) * _UNITS[unit]
    if not value <= MAX_SIZE:  # also catches inf from a number with hundreds of digits
        raise InputError(f"'{shown(text)}' is beyond any machine's memory; use a form like "
                         f"{ACCEPTED_FORMS}")
    return int(value)


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

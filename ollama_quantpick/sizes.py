"""Byte sizes: parse what users type (`24GB`, `24GiB`, `16g`) and print them back in one unit."""

from __future__ import annotations

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
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

ACCEPTED_FORMS = "24GB, 24 GB, 24GiB, 16g, 8000MiB or 0"


def parse_size(text: str | int) -> int:
    """Return the number of bytes `text` stands for; InputError (exit 2) when it is not a size."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise InputError(f"size must not be negative: {text}")
        return text
    match = _SIZE_RE.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise InputError(f"'{text}' is not a size; use a form like {ACCEPTED_FORMS}")
    return int(float(match.group(1)) * _UNITS[unit])


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

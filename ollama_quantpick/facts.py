"""Parsed answers (a model's tags, its model page) kept beside the raw pages they came from.

A cached answer then needs only a lookup: it imports neither the HTML parser nor `requests`, so a
cached `pick` or `tags` starts about as fast as `quantpick --version`.

The raw page stays the source of truth: http.get_text still decides freshness (TTL), `--offline`,
`--refresh` and the stale fallback from the raw entry and its age. A parsed entry is keyed by
the SHA-256 of the exact page text it was parsed from (the validator), the parser's kind and
`SCHEMA` (the version of what is stored): a changed page, a garbled raw entry or a newer
quantpick makes it a miss, never a misread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ollama_quantpick import http

SCHEMA = 1  # bump when what `encode` stores changes
T = TypeVar("T")


def data_file(name: str) -> dict:
    """A TOML file of the package's data/ (quants, speed, gpus, capability), parsed once per
    version of its text and then read back as JSON: a cached answer needs no TOML parser."""
    from pathlib import Path

    text = (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")

    def parse(t: str) -> dict:
        from ollama_quantpick.tomlcompat import tomllib

        return tomllib.loads(t)

    def decode(stored: Any) -> dict:
        if not isinstance(stored, dict):
            raise TypeError("not a table")  # garbled: parse the file again
        return stored
    return parsed("data", text, parse, lambda d: d, decode, context=name)


def parsed(kind: str, text: str, parse: Callable[[str], T], encode: Callable[[T], Any],
           decode: Callable[[Any], T], context: str = "") -> T:
    """`parse(text)`, memoized on disk by the text's SHA-256 (and `context`, e.g. the model the
    page belongs to). A parse error is raised as usual and nothing is stored."""
    source = http.sha256_hex(text.encode("utf-8", errors="surrogatepass"))
    key = f"facts|v{SCHEMA}|{kind}|{context}|{source}"
    if not http.settings.refresh:
        entry = http.read_cache(key)
        if entry is not None and entry.get("schema") == SCHEMA and entry.get("source") == source:
            try:
                return decode(entry["facts"])
            except (KeyError, TypeError, ValueError):
                pass  # garbled or written by another build: parse again
    value = parse(text)
    http.write_cache(key, {"schema": SCHEMA, "kind": kind, "context": context, "source": source,
                           "fetched_at": time.time(), "facts": encode(value)})
    return value


def record(cls: type[T], data: object) -> T:
    """`cls(**data)` for a dataclass kept in the cache as JSON, checked first: every field there,
    each of its annotated type. TypeError otherwise (valid JSON from another build, a bug, a hand
    edit), which callers take as a miss: a wrong type must cost a refetch, not a traceback."""
    if not isinstance(data, dict):
        raise TypeError(f"a cached {cls.__name__} is not an object")
    checks = _checks(cls)
    for name, ok in checks.items():
        if name not in data or not ok(data[name]):
            raise TypeError(f"a cached {cls.__name__} has no valid {name}")
    return cls(**{name: data[name] for name in checks})


_CHECKS: dict[type, dict[str, Callable[[object], bool]]] = {}


def _checks(cls: type) -> dict[str, Callable[[object], bool]]:
    """A type check per field of the dataclass, built once per process: a cached `tags` checks
    every row of every listing it reads."""
    if cls not in _CHECKS:
        import dataclasses
        import typing

        hints = typing.get_type_hints(cls)
        _CHECKS[cls] = {f.name: _check(hints[f.name]) for f in dataclasses.fields(cls)}
    return _CHECKS[cls]


def _check(hint: object) -> Callable[[object], bool]:
    """A predicate for a simple type hint: int, float, str, bool, X | None, list[X]."""
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_check(h) for h in typing.get_args(hint)]
        return lambda v: any(ok(v) for ok in parts)
    if origin is list:
        inner = _check((typing.get_args(hint) or (object,))[0])
        return lambda v: isinstance(v, list) and len(v) <= 1 << 16 and all(map(inner, v))
    if hint is type(None):
        return lambda v: v is None
    if hint is bool:
        return lambda v: isinstance(v, bool)
    if hint is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63
    if hint is float:
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and \
            math.isfinite(v)
    if isinstance(hint, type):
        return lambda v: isinstance(v, hint)  # type: ignore[arg-type]  # hint is a class
    return lambda v: True  # a hint this checker does not know (dict[str, int]): trust the dataclass

"""Where quantpick keeps its files. Environment variables win, so tests and CI stay hermetic."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ollama_quantpick.errors import InputError

# The variables that may carry credentials (`https://user:token@mirror.example`): they are used for
# requests but never shown, logged or hashed into a cache file name.
URL_VARS = ("QUANTPICK_LIBRARY_URL", "QUANTPICK_REGISTRY_URL", "QUANTPICK_HF_URL", "OLLAMA_HOST")
TOKEN_VARS = ("HF_TOKEN",)  # sent as a bearer token; scrubbed like a URL's password
_USERINFO_RE = re.compile(r"(?<=//)[^/?#@\s]*@")
# OLLAMA_HOST and ollama.host may omit the scheme (`me:pw@gpu-box:11434`; Ollama's client adds
# http://): userinfo then leads the value. The run stops at / ? #, so an '@' in a path or query is
# left alone, and host:port has no '@' at all.
_BARE_USERINFO_RE = re.compile(r"^(\s*)([^/?#@\s]*)@")


def cache_dir() -> Path:
    """`QUANTPICK_CACHE_DIR`, else the platform's user cache dir for quantpick."""
    if env := os.environ.get("QUANTPICK_CACHE_DIR"):
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("quantpick"))


def config_file() -> Path:
    """`QUANTPICK_CONFIG`; else `$XDG_CONFIG_HOME/quantpick/config.toml` or
    `~/.config/quantpick/config.toml` when that folder exists (dotfiles users expect it on macOS
    too); else the platform's user config dir."""
    if env := os.environ.get("QUANTPICK_CONFIG"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    for base in ([Path(xdg)] if xdg else []) + [Path.home() / ".config"]:
        if (base / "quantpick").is_dir():
            return base / "quantpick" / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("quantpick")) / "config.toml"


def redact(url: str) -> str:
    """`url` fit to show: no user or password, no query (signed storage URLs carry tokens)."""
    text = _USERINFO_RE.sub("***@", str(url))
    text = _BARE_USERINFO_RE.sub(r"\1***@", text)  # `http://…` stops it at the first '/'
    return text.split("?", 1)[0] + ("?…" if "?" in text else "")


def secrets() -> list[str]:
    """The user-info parts of the URL variables, longest first, to scrub from any message."""
    found = set()
    for var in URL_VARS:
        value = os.environ.get(var) or ""
        infos = [m.group(1) for m in re.finditer(r"//([^/?#@\s]*)@", value)]
        if bare := _BARE_USERINFO_RE.match(value):  # `me:pw@host`, Ollama's scheme-less form
            infos.append(bare.group(2))
        for info in infos:
            found.update(x for x in (info, info.partition(":")[2]) if len(x) >= 3)
    for var in TOKEN_VARS:
        if len(token := (os.environ.get(var) or "").strip()) >= 8:
            found.add(token)
    return sorted(found, key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` with any credential of the URL variables replaced by `***`."""
    text = _USERINFO_RE.sub("***@", text)
    for secret in secrets():
        text = text.replace(secret, "***")
    return text


def _service_url(var: str, default: str) -> str:
    """A base URL from `var`, checked: http(s), a host, a valid port; InputError (exit 2)
    otherwise, since every request would fail on it."""
    raw = (os.environ.get(var) or "").strip()
    if not raw:
        return default
    url = raw.rstrip("/")
    example = f"set it like {default}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError as exc:
        raise InputError(f"{var}='{redact(url)}' is not a URL ({exc}); {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{var}='{redact(url)}' is not an http(s) URL with a host; {example}")
    if parts.query or parts.fragment:
        raise InputError(f"{var}='{redact(url)}' has a query or fragment; {example}")
    return url


def library_url() -> str:
    return _service_url("QUANTPICK_LIBRARY_URL", "https://ollama.com")


def registry_url() -> str:
    return _service_url("QUANTPICK_REGISTRY_URL", "https://registry.ollama.ai")


def hub_url() -> str:
    """The Hugging Face Hub (`QUANTPICK_HF_URL`: tests point it at a local stand-in)."""
    return _service_url("QUANTPICK_HF_URL", "https://huggingface.co")

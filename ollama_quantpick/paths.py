"""Where quantpick keeps its files. Environment variables win, so tests and CI stay hermetic."""

from __future__ import annotations

import os
from pathlib import Path


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


def library_url() -> str:
    return os.environ.get("QUANTPICK_LIBRARY_URL", "https://ollama.com").rstrip("/")


def registry_url() -> str:
    return os.environ.get("QUANTPICK_REGISTRY_URL", "https://registry.ollama.ai").rstrip("/")

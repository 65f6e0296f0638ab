"""Shared fixtures: a hermetic environment, the fake ollama.com/registry, a CLI runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import world  # noqa: E402
from ollama_quantpick import daemon, http  # noqa: E402


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch):
    """No test reads the user's cache, config or Ollama, and none sleeps between retries."""
    monkeypatch.setenv("QUANTPICK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("QUANTPICK_CONFIG", str(tmp_path / "config.toml"))
    for var in ("QUANTPICK_LIBRARY_URL", "QUANTPICK_REGISTRY_URL", "OLLAMA_HOST",
                "OLLAMA_KV_CACHE_TYPE", "OLLAMA_NUM_PARALLEL", "OLLAMA_GPU_OVERHEAD",
                "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "OLLAMA_MODELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "80")  # tables are laid out for a known width
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(http, "BACKOFF", 0)
    monkeypatch.setattr(http, "settings", http.Settings())
    monkeypatch.setattr(http, "_session", None)
    monkeypatch.setattr(http, "_warned_cache", False)
    # No test asks a real Ollama for its release: the default host is a closed port.
    monkeypatch.setattr(daemon, "DEFAULT_HOST", "http://127.0.0.1:9")
    monkeypatch.setattr(http, "stalls", http._Stalls())


@pytest.fixture
def site():
    """ollama.com and the registry, played by `responses` from tests/world.py."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        served = world.install(rsps)
        served.rsps = rsps
        yield served


@pytest.fixture
def run():
    """Invoke the CLI; stdout and stderr kept apart."""
    from ollama_quantpick.cli import cli

    def invoke(*args, input=None, env=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env,
                                  catch_exceptions=False)
    return invoke

"""Shared fixtures: a hermetic environment, the fake ollama.com/registry, a CLI runner."""

from __future__ import annotations

import sys
import threading
import time
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


@pytest.fixture(autouse=True)
def settle_threads():
    """Waits (up to 5 s) for the threads quantpick started in this test: a command that fails
    leaves its pool workers and background page fetch to finish (a real process just exits),
    and left running they write into the cache while a test reads it, or into the next test's
    cache. Called at the end of every test (before `hermetic` undoes the environment); a test
    that reads the cache calls it first."""
    before = set(threading.enumerate())

    def settle() -> None:
        deadline = time.monotonic() + 5
        for t in threading.enumerate():
            target = getattr(t, "_target", None)  # threading.Thread keeps it until run() ends
            module = getattr(target, "__module__", None) or ""
            if t not in before and (module.startswith("ollama_quantpick")
                                    or module == "concurrent.futures.thread"):
                t.join(max(0.0, deadline - time.monotonic()))
    yield settle
    settle()


# Parsed GGUF headers, shared by the whole test run. Each test has its own empty cache, so every
# CLI test used to fetch and parse the same 2-4 MB headers again (a third of the suite's time).
# A header is content-addressed (its key names the blob digest) and the fake registry serves the
# same bytes all run long, so sharing the parse changes no answer. Tests about reading headers
# (ranges, offline, garbled entries) ask for `real_headers` and get the unshared behaviour.
_HEADERS: dict[str, dict] = {}


@pytest.fixture(autouse=True)
def shared_headers(request, monkeypatch):
    if "real_headers" in request.fixturenames:
        return
    read, write = http.read_cache, http.write_cache

    def read_cache(key: str):
        if key.startswith("gguf-info|") and key in _HEADERS:
            return _HEADERS[key]
        return read(key)

    def write_cache(key: str, data: dict) -> None:
        if key.startswith("gguf-info|"):
            _HEADERS[key] = data
        write(key, data)

    monkeypatch.setattr(http, "read_cache", read_cache)
    monkeypatch.setattr(http, "write_cache", write_cache)


@pytest.fixture
def real_headers():
    """Headers fetched and parsed by this test itself (no sharing across tests)."""


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's session server (its fixture, overridden) on a loopback port, one that
    stops in ~50 ms at the end of the run instead of 0.5 s."""
    server = world.http_server("localhost")
    yield server
    server.clear()
    if server.is_running():
        server.stop()


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


@pytest.fixture
def silent():
    """A port that accepts connections and never answers; `.accepted` counts them."""
    srv, held = world.silent_server()

    class Silent:
        port = srv.getsockname()[1]
        url = f"http://127.0.0.1:{srv.getsockname()[1]}"

        @property
        def accepted(self) -> int:
            return len(held)
    yield Silent()
    srv.close()
    for c in held:
        c.close()

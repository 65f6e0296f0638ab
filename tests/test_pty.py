"""The real `quantpick` process on a pseudo-terminal, against local servers playing ollama.com, the
registry and Ollama: colour and width where a terminal decides them, and pull progress in place."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

import world
from ollama_fake import FakeOllama
from test_progress import screen

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pty on Windows")


@pytest.fixture
def servers(httpserver, tmp_path):
    fake = FakeOllama()
    host = fake.attach(httpserver)  # /api/* first; everything else is ollama.com and the registry
    base, _ = world.serve_http(httpserver)
    env = dict(os.environ, OLLAMA_HOST=host, QUANTPICK_LIBRARY_URL=base,
               QUANTPICK_REGISTRY_URL=base, QUANTPICK_CACHE_DIR=str(tmp_path / "cache"),
               QUANTPICK_CONFIG=str(tmp_path / "config.toml"), COLUMNS="80", TERM="xterm",
               OLLAMA_MODELS=str(tmp_path / "models"))
    env.pop("NO_COLOR", None)
    return fake, env


def on_pty(args: list[str], env: dict) -> tuple[int, str]:
    """Run quantpick with stdin, stdout and stderr on one pty; (exit code, what the terminal got)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ollama_quantpick", *args], env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, data.decode("utf-8", "replace").replace("\r\n", "\n")


def test_tags_on_a_terminal_has_colour_and_fits_80_columns(servers):
    _, env = servers
    code, out = on_pty(["tags", "qwen3", "--vram", "16GB", "--ram", "32GB"], env)
    assert code == 0, out
    assert "\x1b[32m" in out and "\x1b[31m" in out  # the pick green, "no" red
    assert max(len(ANSI.sub("", line)) for line in out.splitlines()) <= 80
    code, plain = on_pty(["tags", "qwen3", "--vram", "16GB", "--ram", "32GB"],
                         dict(env, NO_COLOR="1"))
    assert code == 0 and "\x1b[" not in plain


def test_pull_on_a_terminal_draws_each_layer_in_place(servers):
    fake, env = servers
    code, out = on_pty(["pull", "qwen3:0.6b", "--yes", "--vram", "4GB", "--ram", "16GB"], env)
    assert code == 0, out
    assert fake.pulls == ["qwen3:0.6b-q4_K_M"]
    shown = screen(ANSI.sub("", out))
    layers = [line for line in shown if re.match(r"pulling [0-9a-f]{12}: ", line)]
    artifact = world.find("qwen3", "0.6b")
    assert len(layers) == len(artifact.layers)  # one line per layer, none stale
    assert all(" 100% " in line for line in layers), shown
    assert shown.index("pulling manifest") < shown.index("success")
    assert all(len(line) <= 80 for line in shown), [x for x in shown if len(x) > 80]
    assert all(len(line) < 80 for line in layers)  # never the last column

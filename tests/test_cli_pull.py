"""`pull` and `sync` through the real `ollama` client against a local server playing Ollama."""

import json
import shutil
import socket
from collections import namedtuple

import pytest

import world
from ollama_fake import FakeOllama
from ollama_quantpick.sizes import format_bytes

# The decisions these tests pin were worked out for the legacy estimate (llama on v0.15.5).
MATH = ["llama3.3", "--task", "math", "--ctx", "8192", "--vram", "52GB", "--ram", "64GB",
        "--ollama-version", "0.15.5"]


@pytest.fixture
def ollama(httpserver, monkeypatch, tmp_path):
    fake = FakeOllama()
    monkeypatch.setenv("OLLAMA_HOST", fake.attach(httpserver))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    # This machine's free disk must not decide the test: report 1 TB free where models go.
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(2 * 10**12, 10**12, 10**12))
    return fake


def test_pull_sends_one_pull_for_the_picked_tag_then_nothing(site, ollama, run):
    picked = run("pick", *MATH).stdout.strip()
    result = run("pull", *MATH, "--yes")
    assert result.exit_code == 0, result.stderr
    assert ollama.pulls == [picked] == ["llama3.3:70b-instruct-q4_K_M"]
    assert "pulling" in result.stderr and "pulled " in result.stderr  # non-terminal progress
    assert "success" in result.stderr
    assert f"pulled {picked}" in result.stdout
    again = run("pull", *MATH, "--yes")
    assert again.exit_code == 0 and ollama.pulls == [picked]
    assert "already installed" in again.stdout


def test_installed_under_another_alias_counts_by_digest(site, ollama, run):
    ollama.installed["llama3.3:latest"] = world.find("llama3.3", "latest").digest
    result = run("pull", *MATH, "--yes")
    assert ollama.pulls == [] and "already installed as llama3.3:latest" in result.stdout


def test_daemon_down_is_one_line(site, run, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    result = run("pull", "phi4", "--yes", "--vram", "24GB", "--ram", "32GB")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: cannot reach Ollama at http://127.0.0.1:{port} — is "
                             "'ollama serve' running?\n")


def test_error_mid_stream_keeps_the_installed_model(site, ollama, run):
    ollama.installed["llama3.3:70b-instruct-q3_K_M"] = "0" * 64
    ollama.fail_with = "max retries exceeded: write /root/.ollama/models/blobs: no space left on device"
    result = run("pull", *MATH, "--yes")
    assert result.exit_code == 1
    assert result.stderr.endswith("no space left on device\n")
    assert "Ollama at http://" in result.stderr
    assert ollama.installed == {"llama3.3:70b-instruct-q3_K_M": "0" * 64}


def test_stream_that_ends_without_success_is_a_failed_pull(site, ollama, run):
    """The stream stops cleanly after one progress line (no `success`, no error line): not pulled,
    one line that says so and how to resume, exit 1, the model installed before still there."""
    ollama.installed["llama3.3:70b-instruct-q3_K_M"] = "0" * 64
    ollama.end_after = 1
    result = run("pull", *MATH, "--yes")
    assert result.exit_code == 1
    assert "pulled" not in result.stdout
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: the pull of llama3.3:70b-instruct-q4_K_M ended before it finished")
    assert last.endswith("run the same command again to resume it")
    assert "Traceback" not in result.stderr
    assert ollama.pulls == ["llama3.3:70b-instruct-q4_K_M"]
    assert ollama.installed == {"llama3.3:70b-instruct-q3_K_M": "0" * 64}


def test_explicit_tag_that_does_not_fit_is_refused_unless_forced(site, ollama, run):
    result = run("pull", "llama3.3:70b-instruct-q8_0", "--yes", "--vram", "24GB", "--ram", "32GB")
    assert result.exit_code == 3 and "use --force" in result.stderr and ollama.pulls == []
    forced = run("pull", "llama3.3:70b-instruct-q8_0", "--yes", "--force", "--vram", "24GB",
                 "--ram", "32GB")
    assert forced.exit_code == 0 and ollama.pulls == ["llama3.3:70b-instruct-q8_0"]


def test_explicit_alias_pulls_its_artifact(site, ollama, run):
    result = run("pull", "phi4:latest", "--yes", "--vram", "24GB", "--ram", "32GB")
    assert result.exit_code == 0 and ollama.pulls == ["phi4:14b-q4_K_M"]


def test_dry_run_pulls_nothing_and_needs_no_daemon(site, run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    result = run("pull", *MATH, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "llama3.3:70b-instruct-q4_K_M (42.5 GB download)",
        "dry run: would pull llama3.3:70b-instruct-q4_K_M"]


def test_quiet_pull_prints_no_progress(site, ollama, run):
    result = run("pull", "phi4", "--yes", "--quiet", "--vram", "24GB", "--ram", "32GB")
    assert result.exit_code == 0 and "pulling" not in result.stderr


def test_not_enough_disk_is_refused_with_the_figures(site, ollama, run, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**11, 95 * 10**9, 5 * 10**9))
    result = run("pull", "phi4", "--yes", "--vram", "24GB", "--ram", "32GB")
    assert result.exit_code == 1 and ollama.pulls == []
    download = world.find("phi4", "14b-q8_0").download_bytes / 1e9
    assert f"the download needs {download:.1f} GB, 5.0 GB is free" in result.stderr


def test_no_or_end_of_input_at_the_download_question_is_one_line(site, ollama, run, monkeypatch):
    """The question goes to stderr (stdout stays the answer, `--json | jq` included); "n" and end
    of input (Ctrl-D) each end with one line that names --yes, exit 1, nothing pulled."""
    from ollama_quantpick.commands import pull as pull_mod

    monkeypatch.setattr(pull_mod, "interactive", lambda: True)
    declined = run("pull", *MATH, input="n\n")
    assert declined.exit_code == 1 and ollama.pulls == []
    assert "download 42.5 GB for llama3.3:70b-instruct-q4_K_M? [y/N]" in declined.stderr
    assert declined.stderr.splitlines()[-1] == (
        "Error: not pulled: you answered no; pass --yes to pull without asking")
    assert "Aborted" not in declined.stderr + declined.stdout
    closed = run("pull", *MATH, "--json", input="")
    assert closed.exit_code == 1 and ollama.pulls == [] and closed.stdout == ""
    assert closed.stderr.splitlines()[-1] == (
        "Error: no answer to the download question (end of input); pass --yes to pull without asking")
    agreed = run("pull", *MATH, "--json", input="y\n")
    assert agreed.exit_code == 0 and ollama.pulls == ["llama3.3:70b-instruct-q4_K_M"]
    assert json.loads(agreed.stdout)["action"] == "pulled"


@pytest.mark.parametrize("args", [["pull", *MATH], ["sync"]], ids=["pull", "sync"])
def test_ctrl_c_at_the_download_question_is_exit_130(httpserver, tmp_path, args):
    """A real process with stdin on a terminal, a real SIGINT while it waits for y/N."""
    import os
    import select
    import signal
    import subprocess
    import time

    fake = FakeOllama()
    host = fake.attach(httpserver)
    base, _ = world.serve_http(httpserver)
    (tmp_path / "config.toml").write_text(DUPLICATE)
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
               QUANTPICK_CACHE_DIR=str(tmp_path / "c"), OLLAMA_HOST=host,
               QUANTPICK_CONFIG=str(tmp_path / "config.toml"), OLLAMA_MODELS=str(tmp_path / "models"),
               PYTHONUNBUFFERED="1")
    master, slave = os.openpty()
    proc = subprocess.Popen([*world.python_with_sigint(), "-m", "ollama_quantpick", *args], env=env,
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.close(slave)

    def read_until(marker: bytes, seconds: float) -> bytes:
        """What the process wrote until `marker` (or its end, or `seconds`)."""
        got = b""
        deadline = time.monotonic() + seconds
        while marker not in got and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                got += chunk
        return got

    try:
        seen = read_until(b"[y/N]", 60)
        assert b"[y/N]" in seen, seen.decode()
        rest = b""
        for _ in range(5):
            # A SIGINT that lands after the prompt is written but before input() blocks in read()
            # stays pending until the read returns (CPython checks signals between bytecodes), so
            # the test, faster than any hand, sends another when nothing happened for 0.5 s
            # (a SIGINT that lands ends the process in milliseconds).
            proc.send_signal(signal.SIGINT)
            rest += read_until(b"interrupted", 0.5)
            if b"interrupted" in rest or proc.poll() is not None:
                break
        rest = (rest + proc.communicate(timeout=30)[0]).decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, seen.decode() + rest
    shown = (seen.decode() + rest).splitlines()  # the message on its own line, not after "[y/N]: "
    assert shown[-1] == "interrupted"  # nothing started: nothing to resume
    assert "Traceback" not in rest and "Aborted" not in rest
    assert fake.pulls == []


def test_remote_host_warns_that_the_budget_is_local(site, run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box.example:11434")
    result = run("pull", "phi4", "--dry-run", "--min-speed", "0")
    assert result.exit_code == 0  # notes wrap to the terminal: compare the words
    assert "the budget came from this machine" in " ".join(result.stderr.split())


# ---- sync --------------------------------------------------------------------------------------

CONFIG = """
[defaults]
task = "code"

[budget]
vram = "24GB"
ram = "64GB"

[[models]]
name = "qwen3"

[[models]]
name = "llama3.3"
task = "math"
ctx = 8192

[[models]]
name = "phi4:14b-q8_0"
"""


def test_sync_dry_run_then_sync_then_nothing(site, ollama, run, tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG.replace('vram = "24GB"', 'vram = "52GB"'))
    plan = run("sync", "--dry-run", "--json")
    rows = json.loads(plan.stdout)["rows"]
    assert [r["tag"] for r in rows] == ["qwen3:32b-q8_0", "llama3.3:70b-instruct-q4_K_M",
                                        "phi4:14b-q8_0"]
    assert [r["action"] for r in rows] == ["pull"] * 3 and ollama.pulls == []
    done = run("sync")
    assert done.exit_code == 0, done.stderr
    assert sorted(ollama.pulls) == sorted(r["tag"] for r in rows)
    assert "pulled 3, already installed 0, failed 0" in done.stdout
    again = run("sync")
    assert len(ollama.pulls) == 3 and "pulled 0, already installed 3, failed 0" in again.stdout


def test_one_failing_entry_does_not_stop_the_others(site, ollama, run, tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG + '\n[[models]]\nname = "nosuchmodel"\n')
    result = run("sync")
    assert result.exit_code == 1
    assert "failed: nosuchmodel: no model 'nosuchmodel'" in result.stderr
    assert len(ollama.pulls) >= 2


DUPLICATE = """
[budget]
vram = "24GB"
ram = "64GB"

[[models]]
name = "phi4:14b-q8_0"

[[models]]
name = "qwen3:0.6b"

[[models]]
name = "phi4:14b-q8_0"
task = "code"
"""


def test_two_entries_for_one_download_are_pulled_and_counted_once(site, ollama, run, tmp_path,
                                                                    monkeypatch):
    """Two entries that resolve to the same artifact: one pull, one size in the total asked
    for and in the summary; the second row says which entry it is the same as."""
    from ollama_quantpick.commands import pull as pull_mod

    (tmp_path / "config.toml").write_text(DUPLICATE)
    phi4, qwen = (world.find("phi4", "14b-q8_0").download_bytes,
                  world.find("qwen3", "0.6b").download_bytes)
    plan = json.loads(run("sync", "--dry-run", "--json").stdout)
    assert [(r["tag"], r["action"], r["same_as"]) for r in plan["rows"]] == [
        ("phi4:14b-q8_0", "pull", None), ("qwen3:0.6b-q4_K_M", "pull", None),
        ("phi4:14b-q8_0", "same", 1)]
    assert plan["summary"] == {"would_pull": 2, "pulled": 0, "kept": 0, "failed": 0, "same": 1,
                               "download_bytes": phi4 + qwen}
    text = run("sync", "--dry-run").stdout.splitlines()
    assert text[-1] == "would pull 2, already installed 0, failed 0, same as an earlier entry 1"
    monkeypatch.setattr(pull_mod, "interactive", lambda: True)
    asked = run("sync", input="n\n")
    assert "for 2 model(s)? [y/N]" in asked.stderr and ollama.pulls == []
    assert f"download {format_bytes(phi4 + qwen)} " in asked.stderr
    assert "same as entry 1" in asked.stdout  # the plan's ACTION column
    done = json.loads(run("sync", "--json", "--yes").stdout)
    assert sorted(ollama.pulls) == ["phi4:14b-q8_0", "qwen3:0.6b-q4_K_M"]
    assert [r["action"] for r in done["rows"]] == ["pulled", "pulled", "same"]
    assert done["summary"] == {"would_pull": 0, "pulled": 2, "kept": 0, "failed": 0, "same": 1,
                               "download_bytes": phi4 + qwen}
    again = json.loads(run("sync", "--json").stdout)
    assert [(r["action"], r["installed"]) for r in again["rows"]] == [
        ("keep", True), ("keep", True), ("same", True)]
    assert len(ollama.pulls) == 2


def test_sync_without_models_says_what_to_do(run, tmp_path):
    (tmp_path / "config.toml").write_text('[defaults]\ntask = "math"\n')
    result = run("sync")
    assert result.exit_code == 1 and "no [[models]] entries" in result.stderr


def test_ctrl_c_during_a_pull_is_exit_130_and_keeps_what_was_installed(httpserver, tmp_path):
    """A real process, a real SIGINT, the real client blocked in a slow download."""
    import os
    import signal
    import subprocess

    base, _ = world.serve_http(httpserver)
    daemon = world.http_server(threaded=True)  # stop() need not wait out the slow download
    try:
        fake = FakeOllama(delay=0.5)
        fake.installed["phi4:14b-fp16"] = "f" * 64
        env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
                   QUANTPICK_CACHE_DIR=str(tmp_path / "c"), OLLAMA_HOST=fake.attach(daemon),
                   QUANTPICK_CONFIG=str(tmp_path / "none.toml"),
                   OLLAMA_MODELS=str(tmp_path / "models"), PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([*world.python_with_sigint(), "-m", "ollama_quantpick", "pull",
                                 "phi4", "--yes", "--vram", "24GB", "--ram", "32GB"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = []
        for line in proc.stderr:  # wait until the download is under way
            seen.append(line)
            if line.startswith("pulling "):
                break
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
        assert proc.returncode == 130, "".join(seen) + rest
        assert "interrupted — run the same command again to resume" in rest
        assert "Traceback" not in rest
        assert fake.installed == {"phi4:14b-fp16": "f" * 64}
    finally:
        daemon.clear()
        if daemon.is_running():
            daemon.stop()

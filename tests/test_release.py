"""Which Ollama release is predicted, and the rules that change with it."""

import json
import time

import pytest

from ollama_quantpick import daemon, release
from ollama_quantpick.budget import GiB
from ollama_quantpick.errors import InputError


@pytest.mark.parametrize("text,expected", [("0.32.15", (0, 32, 15)), ("v0.12.6", (0, 12, 6)),
                                           ("0.33.0-rc2", (0, 33, 0)), ("0.6", (0, 6, 0))])
def test_versions_parse(text, expected):
    assert release.parse_version(text) == expected


@pytest.mark.parametrize("text", ["banana", "", "0.x.1", "1.2.3.4", "0.32.15; rm -rf"])
def test_junk_versions_are_refused(text):
    with pytest.raises(InputError, match="such as 0.32.15"):
        release.parse_version(text)


@pytest.mark.parametrize("version,arch,expected", [
    ((0, 11, 4), "qwen3", "legacy"), ((0, 11, 4), "llama", "legacy"),
    ((0, 12, 6), "qwen3", "layout"),  # Ollama engine, measured layout (v0.11.11+)
    ((0, 12, 6), "llama", "legacy"),  # llama engine: GraphSize until v0.24
    ((0, 24, 0), "phi3", "legacy"), ((0, 24, 0), "gemma3", "layout"),
    ((0, 11, 8), "gemma3", "legacy"),  # v0.11.5–10 only with OLLAMA_NEW_ESTIMATES=1
    ((0, 30, 0), "llama", "fit"), ((0, 32, 15), "qwen3moe", "fit")])
def test_estimator_follows_the_release(version, arch, expected):
    assert release.estimator(version, arch)[0] == expected


def test_new_estimates_opt_in():
    env = {"OLLAMA_NEW_ESTIMATES": "1"}
    assert release.estimator((0, 11, 8), "gemma3", env)[0] == "layout"
    assert release.estimator((0, 11, 4), "gemma3", env)[0] == "legacy"  # before d5a0d8d90


@pytest.mark.parametrize("version,vram_gib,expected", [
    ((0, 32, 15), 24, 32768), ((0, 15, 4), 24, 4096), ((0, 32, 15), 23, 32768),
    ((0, 32, 15), 22, 4096), ((0, 15, 5), 47, 262144), ((0, 15, 5), 46.9, 32768),
    ((0, 6, 6), 80, 2048), ((0, 6, 7), 80, 4096)])
def test_default_context_per_release(version, vram_gib, expected):
    assert release.default_ctx(version, int(vram_gib * GiB)) == expected
    assert release.default_ctx(version, int(vram_gib * GiB), model_ctx=3000) == min(expected, 3000)


def test_gpt_oss_gets_8k_except_in_low_vram_mode():
    assert release.default_ctx((0, 11, 0), 8 * GiB, "gptoss") == 8192
    assert release.default_ctx((0, 11, 4), 16 * GiB, "gptoss") == 4096  # < 20 GiB: low VRAM
    assert release.default_ctx((0, 11, 4), 24 * GiB, "gptoss") == 8192


def test_parallel_defaults():
    assert release.parallel_choices((0, 9, 0)) == [2, 1]
    assert release.parallel_choices((0, 6, 6)) == [4, 1]
    assert release.parallel_choices((0, 10, 0)) == [1]
    assert release.parallel_choices((0, 32, 15), env_parallel=3) == [3]
    assert release.parallel_choices((0, 9, 0), "mllama", env_parallel=3) == [1]


def test_flash_attention_defaults():
    assert release.flash_attention((0, 11, 4), "qwen3") is False
    assert release.flash_attention((0, 11, 4), "qwen3", {"OLLAMA_FLASH_ATTENTION": "1"}) is True
    assert release.flash_attention((0, 12, 4), "qwen3") is True
    assert release.flash_attention((0, 12, 6), "phi3") is False
    assert release.flash_attention((0, 32, 15), "phi3") is True  # --flash-attn auto
    assert release.flash_attention((0, 32, 15), "phi3", {"OLLAMA_FLASH_ATTENTION": "0"}) is False
    # a quantized cache without flash attention runs as f16 before v0.30, verbatim after
    assert release.kv_type((0, 11, 4), "llama", "q8_0", flash=False) == "f16"
    assert release.kv_type((0, 32, 15), "llama", "q8_0", flash=True) == "q8_0"


# ---- the daemon ------------------------------------------------------------------------------

def test_daemon_version(httpserver):
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.12.6"})
    assert daemon.ask_version(httpserver.url_for("/").rstrip("/")) == ("0.12.6", None)


@pytest.mark.parametrize("body", ["<html>hello</html>", json.dumps({"version": 12}),
                                  json.dumps(["0.1"]), json.dumps({"version": ""})])
def test_junk_version_answer_is_a_note(httpserver, body):
    httpserver.expect_request("/api/version").respond_with_data(body)
    version, note = daemon.ask_version(httpserver.url_for("/").rstrip("/"))
    assert version is None and "not a version" in note


def test_a_slow_daemon_costs_at_most_the_version_timeout(silent, monkeypatch):
    assert daemon.VERSION_TIMEOUT_S == 2.0  # docs/memory.md: "answered within 2 s or ignored"
    monkeypatch.setattr(daemon, "VERSION_TIMEOUT_S", 0.3)  # the same wait, shorter
    t0 = time.monotonic()
    version, note = daemon.ask_version(silent.url)
    waited = time.monotonic() - t0
    assert version is None and "within 0.3 s" in note, note
    assert 0.29 <= waited < 1.0, waited  # 0.3 s, plus slack for a loaded test machine


# ---- the CLI ---------------------------------------------------------------------------------

def hw_json(run, *args):
    result = run("hw", "--vram", "24GiB", "--ram", "64GB", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["ollama"]


def test_precedence_flag_config_daemon_assumed(run, httpserver, monkeypatch, tmp_path):
    release = {k: v for k, v in hw_json(run).items() if k in ("version", "source", "note")}
    assert release == {"version": "0.32.15", "source": "assumed",
                       "note": "no Ollama answered at http://127.0.0.1:9"}
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.11.4"})
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    assert hw_json(run)["version"] == "0.11.4" and hw_json(run)["source"] == "daemon"
    (tmp_path / "config.toml").write_text('[ollama]\nversion = "0.15.4"\n')
    release = {k: v for k, v in hw_json(run).items() if k in ("version", "source", "note")}
    assert release == {"version": "0.15.4", "source": "config", "note": None}
    assert hw_json(run, "--ollama-version", "0.30.1")["source"] == "flag"


def test_hw_shows_the_release_and_where_it_came_from(run):
    result = run("hw", "--vram", "24GiB", "--ram", "64GB", "--ollama-version", "v0.12.6")
    assert "Ollama: v0.12.6 (--ollama-version)" in result.stdout


def test_a_slow_daemon_falls_back_with_a_note(run, silent, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{silent.port}")
    monkeypatch.setattr(daemon, "VERSION_TIMEOUT_S", 0.3)  # 2 s in use; the test waits less
    t0 = time.monotonic()
    result = run("hw", "--vram", "24GiB", "--ram", "64GB")
    waited = time.monotonic() - t0
    assert "Ollama: v0.32.15 (assumed: " in result.stdout and "within 0.3 s" in result.stdout, \
        result.stdout
    assert 0.29 <= waited < 2.5, waited  # the 0.3 s wait plus detection, on a loaded machine


@pytest.mark.parametrize("cmd", [["fit", "qwen3:32b-q4_K_M"], ["pick", "qwen3"], ["tags", "qwen3"],
                                 ["pull", "qwen3", "--dry-run"], ["sync", "--dry-run"],
                                 ["hw"]])
def test_banana_is_one_line_and_exit_2(run, cmd):
    result = run(*cmd, "--ollama-version", "banana")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'banana'" in lines[0] and "0.32.15" in lines[0]


def test_a_bad_config_version_is_refused(run, tmp_path):
    (tmp_path / "config.toml").write_text('[ollama]\nversion = "latest"\n')
    result = run("hw", "--vram", "24GiB", "--ram", "64GB")
    assert result.exit_code == 2 and "ollama.version" in result.stderr


def test_a_development_build_is_predicted_as_the_newest(run, httpserver, monkeypatch):
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.0.0"})
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    out = hw_json(run)
    assert out["version"] == "0.32.15" and out["source"] == "assumed"
    assert "development build" in out["note"]

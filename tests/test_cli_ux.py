"""pull/sync/pick/fit as a user meets them: JSON answers, confirmations, summaries, wording."""

from __future__ import annotations

import json

import pytest

import world
from ollama_quantpick.commands import pull as pull_mod
from test_cli_pull import CONFIG, MATH, ollama  # noqa: F401  (the fake Ollama fixture)
from test_hf import IQ, hub  # noqa: F401  (the fake Hugging Face Hub)

SMALL = ["--vram", "4GB", "--ram", "4GB", "--gpu", "auto"]


def test_pick_json_on_exit_3_prints_the_answer_no(site, run):
    result = run("pick", "llama3.3", "--json", *SMALL)
    assert result.exit_code == 3
    out = json.loads(result.stdout)
    assert out["answer"] == "no" and out["name"] is None and out["pick"] is None
    assert out["closest"]["name"].startswith("llama3.3:")
    assert out["lacks"]["memory_bytes"] > 0
    assert out["reason"] in result.stderr


def test_pick_json_yes_has_the_same_keys_as_no(site, run):
    yes = json.loads(run("pick", *MATH, "--json").stdout)
    no = json.loads(run("pick", "llama3.3", "--json", *SMALL).stdout)
    assert yes["answer"] == "yes" and yes["name"] == "llama3.3:70b-instruct-q4_K_M"
    assert set(yes) == set(no)


def test_explicit_tag_too_big_is_no_with_json(site, run):
    result = run("pick", "llama3.3:70b-instruct-q8_0", "--json", *SMALL)
    assert result.exit_code == 3 and json.loads(result.stdout)["answer"] == "no"


def test_pull_dry_run_json(site, run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    out = json.loads(run("pull", *MATH, "--dry-run", "--json").stdout)
    assert out["answer"] == "yes" and out["action"] == "would pull" and out["dry_run"] is True
    assert out["download_bytes"] == world.find("llama3.3", "latest").download_bytes
    no = run("pull", "llama3.3", "--dry-run", "--json", *SMALL)
    assert no.exit_code == 3 and json.loads(no.stdout)["answer"] == "no"


def test_fit_exits_3_when_it_does_not_fit(site, run):
    result = run("fit", "llama3.3:70b-instruct-q8_0", *SMALL)
    assert result.exit_code == 3 and "placement: no" in result.stdout
    as_json = run("fit", "llama3.3:70b-instruct-q8_0", "--json", *SMALL)
    assert as_json.exit_code == 3 and json.loads(as_json.stdout)["fits"] is False
    ok = run("fit", "phi4:latest", "--vram", "8GB", "--ram", "32GB")
    assert ok.exit_code == 0 and "CPU/GPU)" in ok.stdout  # placement as ollama ps writes it


@pytest.mark.parametrize("tps,text", [(1.0, "1 token/s"), (1.04, "1 token/s"),
                                      (0.5, "0.5 tokens/s"), (2.0, "2 tokens/s"),
                                      (12.4, "12 tokens/s")])
def test_tokens_per_s_reads_right(tps, text):
    from ollama_quantpick.commands.common import per_s

    assert per_s(tps) == text


def test_already_installed_reads_right(site, ollama, run):  # noqa: F811
    ollama.installed["llama3.3:70b-instruct-q4_K_M"] = world.find("llama3.3", "latest").digest
    same = run("pull", *MATH, "--yes").stdout
    assert "llama3.3:70b-instruct-q4_K_M is already installed; nothing to pull" in same
    ollama.installed = {"llama3.3:latest": world.find("llama3.3", "latest").digest}
    other = run("pull", *MATH, "--yes").stdout
    assert "is already installed as llama3.3:latest (the same download)" in other


def test_sync_asks_on_a_terminal_above_1_gb(site, ollama, run, tmp_path, monkeypatch):  # noqa: F811
    (tmp_path / "config.toml").write_text(CONFIG.replace('vram = "24GB"', 'vram = "52GB"'))
    monkeypatch.setattr(pull_mod, "interactive", lambda: True)
    refused = run("sync", input="n\n")
    assert refused.exit_code == 1 and ollama.pulls == []
    assert "download " in refused.stderr and "for 3 model(s)? [y/N]" in refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "Error: nothing pulled: you answered no; pass --yes to pull without asking")
    closed = run("sync", "--json", input="")
    assert closed.exit_code == 1 and ollama.pulls == [] and closed.stdout == ""
    assert closed.stderr.splitlines()[-1] == (
        "Error: no answer to the download question (end of input); pass --yes to pull without asking")
    done = run("sync", "--yes")
    assert done.exit_code == 0 and len(ollama.pulls) == 3
    assert "?" not in done.stdout


def test_sync_names_each_model_and_prints_a_summary(site, ollama, run, tmp_path):  # noqa: F811
    (tmp_path / "config.toml").write_text(CONFIG.replace('vram = "24GB"', 'vram = "52GB"'))
    result = run("sync")
    assert result.exit_code == 0, result.stderr
    entries = {"qwen3:32b-q8_0": "qwen3: ", "llama3.3:70b-instruct-q4_K_M": "llama3.3: ",
               "phi4:14b-q8_0": ""}  # an explicit tag is its own name
    for tag in ollama.pulls:
        title = f"{entries[tag]}{tag} ("
        assert any(line.startswith(title) for line in result.stderr.splitlines()), title
    lines = result.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.split() == ["MODEL", "TAG", "ACTION",
                                                                         "SIZE"]))
    summary = lines[header + 1:header + 4]
    assert all(" pulled " in line for line in summary)
    out = json.loads(run("sync", "--json").stdout)
    assert out["summary"] == {"would_pull": 0, "pulled": 0, "kept": 3, "failed": 0, "same": 0,
                              "download_bytes": 0}
    assert all(r["download_bytes"] > 0 and "size_bytes" not in r for r in out["rows"])


def test_sync_hints_name_its_own_keys(site, ollama, run, tmp_path):  # noqa: F811
    (tmp_path / "config.toml").write_text('[defaults]\nmin_speed = 500\n'
                                          '[budget]\nvram = "0"\nram = "64GB"\n'
                                          '[[models]]\nname = "phi4"\n')
    result = run("sync")
    assert result.exit_code == 1
    assert "defaults.min_speed" in result.stderr and "--min-speed" not in result.stderr


def test_list_shows_installed_models_fit_and_a_better_pick(site, ollama, run):  # noqa: F811
    best = world.find("phi4", "14b-q8_0")  # what quantpick picks for phi4 on 24 GB
    small = world.find("phi4", "14b-q4_K_M")
    ollama.installed = {"phi4:14b-q4_K_M": small.digest, "llama3.3:70b-instruct-q8_0":
                        world.find("llama3.3", "70b-instruct-q8_0").digest,
                        "mine:latest": "f" * 64}
    res = run("list", "--json", "--vram", "24GB", "--ram", "32GB")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    rows = {r["name"]: r for r in out["models"]}
    assert set(rows) == {"phi4:14b-q4_K_M", "llama3.3:70b-instruct-q8_0", "mine:latest"}
    phi = rows["phi4:14b-q4_K_M"]
    assert phi["size_bytes"] == small.download_bytes and phi["fits"] is True
    assert phi["processor"] == "100% GPU" and phi["other_pick"] == "phi4:14b-q8_0" == \
        f"phi4:{best.tags[0]}"
    assert rows["llama3.3:70b-instruct-q8_0"]["fits"] is False
    assert rows["mine:latest"]["fits"] is None and "mine" in rows["mine:latest"]["note"]
    ollama.installed = {"phi4:14b-q8_0": best.digest}
    again = json.loads(run("list", "--json", "--vram", "24GB", "--ram", "32GB").stdout)
    assert again["models"][0]["other_pick"] is None and again["models"][0]["pick"] == \
        "phi4:14b-q8_0"
    table = run("list", "--vram", "24GB", "--ram", "32GB")
    assert table.exit_code == 0 and "phi4:14b-q8_0" in table.stdout and "this one" in table.stdout


def test_list_without_ollama_is_one_line(run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    result = run("list")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "cannot reach Ollama" in result.stderr


def test_verbose_and_quiet_after_the_subcommand(site, run, tmp_path):
    (tmp_path / "config.toml").write_text("[defaults\n")
    before = run("-v", "tags", "phi4")
    after = run("tags", "phi4", "-v")
    assert before.exit_code == after.exit_code == 2
    assert "Traceback" in after.stderr and "Traceback" in before.stderr
    (tmp_path / "config.toml").unlink()
    noisy = run("tags", "phi4", "--vram", "24GB", "--ram", "32GB")
    assert "note:" in noisy.stderr  # the Ollama release is assumed (no daemon)
    quiet = run("tags", "phi4", "--vram", "24GB", "--ram", "32GB", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == noisy.stdout


def test_bare_quantpick_prints_help_to_stdout_and_exits_0(run):
    result = run()
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")
    assert "tags" in result.stdout and result.stderr == ""


def test_a_group_without_its_subcommand_prints_its_help_like_bare_quantpick(run):
    """`quantpick config` printed Click's whole help as one 'Error:' line with literal \\n (rc 2)."""
    result = run("config")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: cli config ")  # CliRunner names the program cli
    assert "set " in result.stdout and "\\n" not in result.stdout


@pytest.mark.parametrize("args,text", [
    (["completion"], "Error: Missing argument '{bash|zsh|fish}'. Choose from: bash, zsh, fish "
                     "(see 'quantpick completion --help')"),
    (["completion", "tcsh"], "Error: Invalid value for '{bash|zsh|fish}': 'tcsh' is not one of "
                             "'bash', 'zsh', 'fish'. (see 'quantpick completion --help')"),
    (["tags"], "Error: Missing argument 'MODEL...'. (see 'quantpick tags --help')"),
    (["config", "nope"], "Error: No such command 'nope'. (see 'quantpick config --help')")])
def test_a_usage_error_is_one_clean_line(args, text):
    from click.testing import CliRunner

    from ollama_quantpick.cli import cli

    result = CliRunner().invoke(cli, args, prog_name="quantpick")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == text + "\n"  # one line, no escaped newlines or tabs


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F"),
                                          ("zsh", "#compdef quantpick"),
                                          ("fish", "complete --no-files --command quantpick")])
def test_completion_prints_the_script(run, shell, marker):
    result = run("completion", shell)
    assert result.exit_code == 0 and marker in result.stdout
    assert "_QUANTPICK_COMPLETE" in result.stdout


def test_unknown_model_is_exit_2_with_did_you_mean(site, run):
    result = run("pick", "llama33")
    assert result.exit_code == 2
    assert "no model 'llama33' in the Ollama library; did you mean 'llama3.3'" in result.stderr


def test_hw_shows_ollama_state(ollama, run, tmp_path):  # noqa: F811
    out = json.loads(run("hw", "--json", "--vram", "8GB", "--ram", "16GB").stdout)["ollama"]
    assert out["running"] is True and out["running_version"] == "0.12.6"
    assert out["host"].startswith("http://localhost:") or out["host"].startswith("http://127.")
    assert out["models_dir"] == str(tmp_path / "models") and out["models_dir_source"] == \
        "OLLAMA_MODELS"
    assert out["models_free_bytes"] == 10**12  # the fixture's disk
    text = run("hw", "--vram", "8GB", "--ram", "16GB").stdout
    assert f"Ollama at {out['host']}: running, 0.12.6" in text
    assert f"models: {tmp_path / 'models'}, 1000.0 GB free (OLLAMA_MODELS)" in text or \
        f"models: {tmp_path / 'models'}, 1.0 TB free (OLLAMA_MODELS)" in text


def test_hw_says_when_ollama_is_not_running(run, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    out = json.loads(run("hw", "--json", "--vram", "8GB", "--ram", "16GB").stdout)["ollama"]
    assert out["running"] is False and out["host"] == "http://127.0.0.1:9"
    assert "Ollama at http://127.0.0.1:9: not running" in run("hw", "--vram", "8GB").stdout


def test_no_quality_figure_or_score_where_there_is_no_evidence_or_no_pick(hub, run):  # noqa: F811
    """TQ1_0/TQ2_0 have no quality evidence (their catalogue KLD is a display-only guess) and
    Q4_0_4_4 cannot be loaded: none of them may show a score, and the ternary ones no quality."""
    budget = ("--vram", "8GB", "--ram", "16GB")
    rows = {r["tag"]: r for r in json.loads(run("tags", IQ, *budget, "--json").stdout)["rows"]}
    for tag in ("TQ1_0", "TQ2_0"):
        assert rows[tag]["runs"] and rows[tag]["quality"] is None and rows[tag]["score"] is None
    assert rows["Q4_0_4_4"]["quality"] == rows["Q4_0"]["quality"]  # the same weights as Q4_0
    assert rows["Q4_0_4_4"]["score"] is None and rows["Q4_0_4_4"]["blocked"]
    assert all(r["score"] is not None and r["quality"] is not None
               for r in rows.values() if not r["blocked"])
    table = run("tags", IQ, *budget, "--wide").stdout.splitlines()
    head = next(line for line in table if "QUALITY" in line)
    qual, score = head.index("QUALITY") + len("QUALITY"), head.index("SCORE") + len("SCORE")
    for tag, quality in (("TQ1_0", "-"), ("TQ2_0", "-"), ("Q4_0_4_4", "95.5%"), ("Q4_K_M", "98.2%")):
        line = next(line for line in table if f" {tag} " in line)
        assert line[:qual].split()[-1] == quality, line
        assert (line[:score].split()[-1] == "-") == (tag != "Q4_K_M"), line


def test_list_says_an_old_download_of_a_current_tag_is_outdated(site, ollama, run):  # noqa: F811
    """qwen3:latest installed under an old digest was "not among the current tags of qwen3", FITS
    `?`: the tag exists and points to a newer download; say so and how to update it."""
    current = world.find("phi4", "latest")
    assert current is not None
    ollama.installed = {"phi4:latest": "e" * 64, "phi4:gone": "f" * 64}
    ollama.blobs = {"phi4:latest": "d" * 64}  # an older download: other weights
    res = run("list", "--json", "--vram", "24GB", "--ram", "32GB")
    assert res.exit_code == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)["models"]}
    old = rows["phi4:latest"]
    assert old["outdated"] is True and old["fits"] is None and old["processor"] is None
    assert old["note"].startswith("a newer phi4:latest is on ollama.com; `ollama pull phi4:latest` "
                                  "updates it (the installed download's fit is unknown; the newer "
                                  "one: 100% GPU)")
    assert "not among the current tags" not in old["note"]
    assert rows["phi4:gone"]["outdated"] is False and rows["phi4:gone"]["fits"] is None
    assert rows["phi4:gone"]["note"] == "phi4:gone is not among the current tags of phi4 on ollama.com"
    table = run("list", "--vram", "24GB", "--ram", "32GB")
    assert "a newer phi4:latest is on ollama.com" in table.stderr


def test_list_judges_an_outdated_tag_with_the_same_weights(site, ollama, run):  # noqa: F811
    """Only the template or parameters changed (the weights blob is the newer manifest's): the
    newer tag's estimate holds for the installed one, so FITS is known."""
    current = world.find("phi4", "latest")
    ollama.installed = {"phi4:latest": "e" * 64}
    ollama.blobs = {"phi4:latest": current.blob_digest.removeprefix("sha256:")}
    out = json.loads(run("list", "--json", "--vram", "24GB", "--ram", "32GB").stdout)
    (row,) = out["models"]
    assert row["outdated"] is True and row["fits"] is True and row["processor"] == "100% GPU"
    ollama.installed = {"phi4:latest": current.digest}  # the up-to-date download, judged the same
    fresh = json.loads(run("list", "--json", "--vram", "24GB", "--ram", "32GB").stdout)["models"][0]
    assert (fresh["fits"], fresh["processor"], fresh["tokens_per_s"], fresh["outdated"]) == \
        (row["fits"], row["processor"], row["tokens_per_s"], False)
    ollama.installed = {"phi4:latest": "e" * 64}
    assert row["note"] == ("a newer phi4:latest is on ollama.com; `ollama pull phi4:latest` updates "
                           "it (the same weights: the fit shown holds for both)")
    ollama.blobs = {"phi4:latest": "d" * 64}  # other weights: unknown, said
    other = json.loads(run("list", "--json", "--vram", "24GB", "--ram", "32GB").stdout)["models"][0]
    assert other["fits"] is None and "fit is unknown" in other["note"]

"""`tags`, `pick` and `fit` through the CLI, against the fake ollama.com and registry."""

import json
import os
import subprocess
import sys

import pytest

import world
from ollama_quantpick.score import TIE

BUDGET = ["--vram", "52GB", "--ram", "64GB"]
# A release whose estimator is `legacy` for llama and whose default context follows the VRAM
# tiers: the decisions these tests pin were worked out for it.
LEGACY = ["--ollama-version", "0.15.5"]


def test_tags_json_lists_every_local_artifact_once_with_aliases(site, run):
    result = run("tags", "llama3.3", "--json", *BUDGET)
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["rows"]
    assert len(records) == 14
    by_name = {r["name"]: r for r in records}
    top = by_name["llama3.3:70b-instruct-q4_K_M"]
    assert sorted(top["aliases"]) == ["70b", "latest"] and top["quant"] == "q4_K_M"
    assert top["params_b"] == 70 and top["context_max"] == 131072
    assert top["digest"] == world.find("llama3.3", "latest").digest[:12]
    assert top["estimate"]["layers"] == 81
    # one header read for the size (its smallest blob), the sibling quants scaled from it
    sources = [r["estimate"]["source"] for r in records]
    assert sources.count("header") == 1 and set(sources) == {"header", "scaled"}
    smallest = min(records, key=lambda r: r["download_bytes"])
    assert smallest["estimate"]["source"] == "header" and top["estimate"]["source"] == "scaled"
    assert sum(r["picked"] for r in records) == 1
    for r in records:
        a = world.find("llama3.3", r["tag"])
        assert r["download_bytes"] == a.download_bytes


def test_tags_table(site, run):
    result = run("tags", "phi4", "--task", "code", *BUDGET)
    lines = result.stdout.splitlines()
    assert lines[0] == ("phi4: Phi-4 is a 14B parameter, state-of-the-art open model from "
                        "Microsoft.")
    assert lines[1].startswith("phi4: task code, 52.0 GB VRAM + 64.0 GB RAM, context 16K")
    qwen = run("tags", "qwen3", *BUDGET).stdout.splitlines()[0]
    assert qwen.endswith("… [tools, thinking]") and len(qwen) < 130
    wide = run("tags", "phi4", "--task", "code", "--wide", *BUDGET).stdout
    assert "14b, latest" in wide or "latest, 14b" in wide
    assert any(line.startswith("*") for line in lines)
    assert sum("14b-q8_0 " in line for line in lines if not line.startswith("pick:")) == 1


def test_tags_cloud_only_with_all(site, run):
    result = run("tags", "gpt-oss", "--json", *BUDGET)
    assert [r["tag"] for r in json.loads(result.stdout)["rows"]] == ["20b"]
    everything = json.loads(run("tags", "gpt-oss", "--json", "--all", *BUDGET).stdout)
    assert [r["tag"] for r in everything["rows"]] == ["20b"]
    assert {r["tag"] for r in everything["cloud"]} == {"20b-cloud", "120b-cloud"}
    assert run("tags", "gpt-oss", *BUDGET).stdout.rstrip().endswith(
        "2 cloud tag(s) not shown; --all lists them") is False  # the pick line comes last
    assert "2 cloud tag(s) not shown; --all lists them" in run("tags", "gpt-oss", *BUDGET).stdout


def test_phi4_code_16gb_marks_one_pick_and_ranks_non_fits_last(site, run):
    records = json.loads(run("tags", "phi4", "--task", "code", "--vram", "16GB", "--ram", "8GB",
                             "--json").stdout)["rows"]
    assert sum(r["picked"] for r in records) == 1
    fits = [r["rank"] for r in records if r["estimate"]["placement"] != "no"]
    nofit = [r["rank"] for r in records if r["estimate"]["placement"] == "no"]
    assert nofit and max(fits) < min(nofit)


def test_pick_prints_only_the_name_on_stdout(site, run):
    result = run("pick", "llama3.3", "--task", "math", "--ctx", "8192", *BUDGET, *LEGACY)
    assert result.exit_code == 0
    assert result.stdout == "llama3.3:70b-instruct-q4_K_M\n"
    # fit decided: the next better tag, q5_0, would not fit in VRAM; the reason says so
    assert "70B q4_K_M: best that fits on the GPU; runs fully on the GPU" in result.stderr
    assert "q5_0 would be split 80/81" in result.stderr
    assert "best math quality" not in result.stderr  # quality did not decide


def test_pick_nothing_fits_is_exit_3_with_the_closest(site, run):
    result = run("pick", "llama3.3", "--task", "math", "--vram", "8GB", "--ram", "16GB")
    assert result.exit_code == 3
    # the tag to consider keeps 97 % of math quality (q4_K_S), not q2_K (79 %) because it is smallest
    assert ("nothing fits 8.0 GB VRAM + 16.0 GB RAM: the one to consider, "
            "llama3.3:70b-instruct-q4_K_S, needs") in result.stderr
    assert "at 8K context" in result.stderr and "more than the budget" in result.stderr


def test_a_no_never_suggests_a_kv_cache_that_leaves_it_too_slow(site, run):
    # On 32 GB of RAM alone qwen3 32B q4_K_M fits with a q8_0 KV cache but makes ~1.7 tokens/s:
    # "try --kv-cache q8_0" would not change the answer, so the "no" must not offer it.
    result = run("pick", "qwen3", "--size", "32b", "--task", "code", "--gpu", "none",
                 "--ram", "32GB", "--ctx", "8192")
    assert result.exit_code == 3, result.stderr
    assert "nothing runs fast enough" in result.stderr
    assert "qwen3:32b-q4_K_M" in result.stderr and "kv-cache" not in result.stderr


def test_pick_json(site, run):
    choice = json.loads(run("pick", "qwen3", "--task", "code", "--vram", "24GB", "--ram", "64GB",
                            "--json").stdout)
    assert choice["name"] == "qwen3:32b-q4_K_M" and choice["runner_up"]["name"]
    assert choice["pick"]["estimate"]["placement"] == "gpu"


RTX4090 = ["--gpu", "RTX 4090", "--ram", "64GB"]


def test_tags_says_the_rows_are_estimated_with_the_q8_0_kv_cache_the_pick_needs(site, run):
    """On an RTX 4090 qwen3 32B q4_K_M runs on the GPU only with a q8_0 KV cache: the rows are
    estimated that way, so the header and the JSON must say so, not the f16 that was asked."""
    out = json.loads(run("tags", "qwen3", *RTX4090, "--json").stdout)
    assert out["pick"]["settings"] == {"OLLAMA_KV_CACHE_TYPE": "q8_0"}
    assert {r["estimate"]["kv_cache"] for r in out["rows"]} == {"q8_0"}
    assert out["request"]["kv_cache"] == "q8_0" and out["request"]["kv_cache_asked"] == "f16"
    assert out["ollama"]["kv_cache_type"] == "q8_0"
    head = run("tags", "qwen3", *RTX4090, env={"COLUMNS": "200"}).stdout.splitlines()[1]
    assert head.startswith("qwen3: task general, ") and ", context 32K, q8_0 KV cache — set " in head
    assert "OLLAMA_KV_CACHE_TYPE=q8_0 on the Ollama server" in head
    # `fit` is asked for f16 and says so; its split is not the row's "100% GPU"
    fit = json.loads(run("fit", "qwen3:32b-q4_K_M", *RTX4090, "--json").stdout)
    assert fit["estimate"]["kv_cache"] == "f16" and fit["estimate"]["placement"] == "split"


def test_tags_header_says_nothing_of_the_kv_cache_when_rows_use_the_one_asked(site, run):
    out = json.loads(run("tags", "qwen3", *BUDGET, "--json").stdout)
    assert out["pick"]["settings"] == {}
    assert out["request"]["kv_cache"] == out["request"]["kv_cache_asked"] == "f16"
    assert {r["estimate"]["kv_cache"] for r in out["rows"]} == {"f16"}
    head = run("tags", "qwen3", *BUDGET, env={"COLUMNS": "200"}).stdout.splitlines()[1]
    assert "KV cache" not in head and "OLLAMA_" not in head
    asked = json.loads(run("tags", "qwen3", *BUDGET, "--kv-cache", "q4_0", "--json").stdout)
    assert asked["request"]["kv_cache"] == asked["request"]["kv_cache_asked"] == "q4_0"
    shown = run("tags", "qwen3", *BUDGET, "--kv-cache", "q4_0", env={"COLUMNS": "200"}).stdout
    assert ", q4_0 KV cache" in shown.splitlines()[1]


def test_smaller_context_hint(site, run):
    result = run("pick", "llama3.3", "--task", "math", *BUDGET, *LEGACY)
    assert result.stdout == "llama3.3:70b-instruct-q4_K_M\n"
    assert "OLLAMA_CONTEXT_LENGTH=16384" in result.stderr


@pytest.mark.parametrize("args,code,message", [
    (["pick", "llama33"], 2, "no model 'llama33' in the Ollama library; did you mean 'llama3.3'"),
    (["pick", "../x"], 2, "is not a valid Ollama model name"),
    (["pick", "quay.io/org/model"], 2, "names another registry"),
    (["pick"], 2, "Missing argument 'MODEL...'"),
    (["pick", "phi4", "--ctx", "-5"], 2, "--ctx"),
    (["pick", "phi4", "--task", "poetry"], 2, "'poetry' is not one of"),
    (["pick", "phi4", "--ram", "8GB", "--vram", "huge"], 2, "'huge' is not a size"),
    (["fit", "phi4"], 2, "fit needs MODEL:TAG"),
    (["fit", "phi4:99b"], 2, "phi4:99b is not a tag of phi4"),
    (["pick", "gpt-oss:20b-cloud"], 2, "is a cloud tag"),
    (["tags", "phi4", "--offline", "--refresh"], 2, "contradict"),
    (["pick", "phi4", "--gpu", "RTX 9999", "--vram", "8GB"], 2,
     "no GPU named 'RTX 9999' in quantpick's table; closest: RTX 5090, RTX 4090"),
    (["pick", "phi4", "--gpu", "0x RTX 3090", "--vram", "8GB"], 2, "the count must be 1 to 16"),
])
def test_bad_input_is_one_line_and_the_right_code(site, run, args, code, message):
    result = run(*args) if "--vram" in args else run(*args, *BUDGET)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_layout_change_is_exit_1(site, run):
    site.tags_html["phi4"] = "<html><body><div>phi4 14b 9.1GB</div></body></html>"
    result = run("tags", "phi4", *BUDGET)
    assert result.exit_code == 1 and "layout was not understood" in result.stderr


def test_fit_breakdown_json(site, run):
    result = run("fit", "llama3.3:70b-instruct-q4_K_M", "--ctx", "8192", "--vram", "64GB",
                 "--ram", "64GB", "--json")
    e = json.loads(result.stdout)["estimate"]
    assert e["kv_bytes"] == pytest.approx(2 * 80 * 8 * 128 * 8192 * 2, rel=0.02)
    assert e["placement"] == "gpu" and e["source"] == "header"
    split = json.loads(run("fit", "llama3.3:70b-instruct-q4_K_M", "--ctx", "8192", "--vram",
                           "24GB", "--ram", "64GB", "--json").stdout)["estimate"]
    assert split["placement"] == "split" and 30 <= split["gpu_layers"] <= 45


def test_fit_reads_the_tags_own_header(site, run, real_headers):
    """It asks the registry for this blob: with headers shared between tests (conftest), an
    earlier test in the same worker could have read it, and nothing was requested."""
    run("fit", "llama3.3:70b-instruct-q8_0", "--ctx", "8192", *BUDGET)
    q8 = world.find("llama3.3", "70b-instruct-q8_0").blob_digest
    assert any(url.endswith(q8) for url in site.calls)


def test_fit_table(site, run):
    out = run("fit", "phi4:latest", "--vram", "8GB", "--ram", "32GB").stdout
    assert "phi4:14b-q4_K_M at 4096 context" in out and "placement: split" in out


def test_offline_answers_from_the_cache(site, run):
    assert run("tags", "phi4", "--json", *BUDGET).exit_code == 0
    site.rsps.reset()  # no network at all now
    offline = run("tags", "phi4", "--json", "--offline", *BUDGET)
    assert offline.exit_code == 0 and len(json.loads(offline.stdout)["rows"]) == 3


def test_network_down_is_one_line(run):
    import responses
    with responses.RequestsMock():
        result = run("pull", "llama3.3", "--task", "math", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr == "Error: cannot reach ollama.com — check the network connection\n"


def test_against_a_real_local_server(httpserver, tmp_path):
    """The done-when: QUANTPICK_LIBRARY_URL at a local server serving the library pages."""
    base, served = world.serve_http(httpserver)
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
               QUANTPICK_CACHE_DIR=str(tmp_path / "c"), QUANTPICK_CONFIG=str(tmp_path / "x.toml"))
    out = subprocess.run([sys.executable, "-m", "ollama_quantpick", "tags", "qwen3", "--json",
                          "--vram", "24GB", "--ram", "64GB"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)["rows"]
    expected = world.artifacts("qwen3")
    assert len(records) == len(expected)
    for a in expected:
        r = next(r for r in records if r["name"] == f"qwen3:{a.tags[0]}")
        assert sorted(r["aliases"]) == sorted(a.tags[1:])
        assert r["quant"] == a.quant and r["context_max"] == 40960
        assert r["download_bytes"] == a.download_bytes
        assert abs(r["page_size_bytes"] - a.model_bytes) < 0.06 * a.model_bytes
    assert records[0]["picked"] and records[0]["name"] == "qwen3:32b-q4_K_M"


def test_registry_down_falls_back_to_a_marked_estimate(run):
    import re

    import responses

    served = world.Served()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback("GET", re.compile(re.escape(world.LIB) + ".*"),
                          callback=lambda r: world.respond(r.url, dict(r.headers), served))
        rsps.add("GET", re.compile(re.escape(world.REG) + ".*"), status=503)  # registry outage
        result = run("tags", "phi4", "--json", *BUDGET)
        table = run("tags", "phi4", *BUDGET).stdout
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["rows"]
    assert {r["estimate"]["source"] for r in records} == {"fallback"}
    assert "the registry gave no manifest for phi4 (" in result.stderr  # and why
    assert "estimated without the model header" in table
    # `14b` and `latest` are the same download as `14b-q4_K_M` (the same size on the page): one
    # row, not three rated three ways
    assert sorted(r["tag"] for r in records) == ["14b-fp16", "14b-q4_K_M", "14b-q8_0"]
    q4 = next(r for r in records if r["tag"] == "14b-q4_K_M")
    assert sorted(q4["aliases"]) == ["14b", "latest"]


def test_a_long_ctx_on_a_tag_of_unknown_size_is_a_note_not_a_traceback(run):
    """gpt-oss's page names no size for `latest`; with the registry down nothing else does, and
    the note on a --ctx past the model's context formatted a missing size (a TypeError)."""
    import re

    import responses

    served = world.Served()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback("GET", re.compile(re.escape(world.LIB) + ".*"),
                          callback=lambda r: world.respond(r.url, dict(r.headers), served))
        rsps.add("GET", re.compile(re.escape(world.REG) + ".*"), status=503)
        result = run("pick", "gpt-oss", "--ctx", "16777216", *BUDGET)
    assert result.exit_code in (0, 3), result.stderr
    assert "Traceback" not in result.stderr
    assert any("not the 16777216 asked" in line for line in world.said(result.stderr))


def test_stale_cache_answers_and_says_how_old(site, run):
    import time

    from ollama_quantpick import http

    assert run("tags", "phi4", *BUDGET).exit_code == 0
    for path in http._cache_path("x").parent.parent.rglob("*.json"):
        entry = json.loads(path.read_text())
        entry["fetched_at"] = time.time() - 3 * 86400
        path.write_text(json.dumps(entry))
    site.rsps.reset()  # the network is gone
    result = run("tags", "phi4", *BUDGET)
    assert result.exit_code == 0
    assert "note: network unavailable; using the cached copy from 3 days ago" in result.stderr


def test_fit_says_when_ollama_has_no_graph_formula(site, run):
    qwen = run("fit", "qwen3:32b", "--vram", "24GB", "--ram", "64GB", "--ollama-version",
               "0.11.4").stdout
    assert "no compute-graph formula for qwen3" in qwen
    llama = run("fit", "llama3.3:latest", "--vram", "52GB", "--ram", "64GB", *LEGACY).stdout
    assert "no compute-graph formula" not in llama
    # llama-server (v0.30+) measures the graph: the legacy formula's gap is not mentioned
    now = run("fit", "qwen3:32b", "--vram", "24GB", "--ram", "64GB", "--ollama-version",
              "0.32.15").stdout
    assert "no compute-graph formula" not in now and "estimator: fit" in now


@pytest.mark.parametrize("width", [50, 80])
def test_fit_wraps_its_prose_to_the_terminal_and_keeps_the_breakdown_aligned(site, run, width):
    """fit printed lines up to 204 characters at 80 columns."""
    args = ["fit", "qwen3:32b", "--vram", "24GB", "--ram", "64GB", "--ollama-version", "0.11.4"]
    wide = run(*args, env={"COLUMNS": "1000"}).stdout.splitlines()
    lines = run(*args, env={"COLUMNS": str(width)}).stdout.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    assert max(len(line) for line in wide) > 150  # the same text, unwrapped
    # each wide line comes back whole: its words in order over one line and its indented sequel
    joined, i = [], 0
    while i < len(lines):
        line, i = lines[i], i + 1
        while i < len(lines) and lines[i].startswith("  ") and not line.startswith("  ") \
                and not lines[i].lstrip().startswith(("weights", "KV cache", "compute", "runtime",
                                                      "total", "CUDA", "CPU")):
            line, i = f"{line} {lines[i].strip()}", i + 1
        joined.append(" ".join(line.split()))
    assert joined == [" ".join(line.split()) for line in wide]
    rows = [line for line in lines if line.startswith("  ") and line.endswith(("GB", "MB"))]
    assert [line.split()[0] for line in rows] == ["weights", "KV", "compute", "runtime", "total"]
    assert len({len(line) for line in rows}) == 1  # the figures right-aligned in one column


def test_explicit_tag_that_is_too_slow_is_refused_with_its_speed(site, run):
    result = run("pick", "phi4:14b-fp16", "--gpu", "none", "--ram", "64GB")
    assert result.exit_code == 3
    assert "nothing runs fast enough on CPU only, 64.0 GB RAM" in result.stderr
    assert "phi4:14b-fp16, runs on the CPU at 4K context but makes about 1." in result.stderr
    ok = run("pick", "phi4:14b-fp16", "--gpu", "none", "--ram", "64GB", "--min-speed", "0")
    assert ok.exit_code == 0 and ok.stdout == "phi4:14b-fp16\n"


def test_min_speed_default_is_half_reading_speed_and_shown_in_help(run):
    from ollama_quantpick.commands.common import MIN_SPEED
    from ollama_quantpick.quants import data

    assert MIN_SPEED == data()["speed"]["min_tok_s"] == pytest.approx(data()["speed"]["read_tok_s"] / 2)
    assert "default: 2.65, half of reading speed" in " ".join(run("pick", "--help").stdout.split())


def test_tags_still_lists_tags_below_the_minimum_speed(site, run):
    rows = json.loads(run("tags", "phi4", "--gpu", "none", "--ram", "64GB", "--json").stdout)["rows"]
    slow = [r for r in rows if r["estimate"]["placement"] == "cpu"
            and r["estimate"]["tokens_per_s"] < 2.65]
    assert slow and not any(r["picked"] for r in slow)


@pytest.mark.parametrize("args,config,message", [
    (["--vram", "24", "--ram", "64GB"], "", "--vram '24' has no unit: did you mean 24GB?"),
    (["--vram", "24b", "--ram", "64GB"], "",
     "--vram '24b' is 24 B, less memory than any machine has: did you mean 24GB?"),
    (["--vram", "0", "--ram", "64"], "", "--ram '64' has no unit: did you mean 64GB?"),
    (["--ram", "64GB"], "[budget]\nvram = 24\n",  # refused when the file is read, named
     '\'budget.vram\' = 24; expected a size with its unit: did you mean "24GB"?'),
])
def test_a_budget_without_a_unit_is_a_bad_request(site, run, tmp_path, args, config, message):
    """It used to plan for 24 bytes of VRAM and answer "runs on the CPU (24 B VRAM ...)", exit 0."""
    (tmp_path / "config.toml").write_text(config)
    result = run("pick", "phi4", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.endswith(f"{message}\n")
    assert result.stderr.count("\n") == 1  # one line (the config's problem names the file first)
    assert not site.calls  # refused before anything was fetched


def test_no_gpu_is_still_vram_0(site, run):
    result = run("pick", "phi4", "--vram", "0", "--ram", "64GB", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["pick"]["estimate"]["placement"] == "cpu"


def test_a_config_context_out_of_range_is_a_bad_request(site, run, tmp_path):
    (tmp_path / "config.toml").write_text("[defaults]\nctx = 255\n")
    result = run("pick", "phi4", "--vram", "0", "--ram", "64GB")
    assert result.exit_code == 2 and result.stdout == ""
    # the file is refused when read, as for any bad value, with the file, the key and --ctx's range
    assert result.stderr == (f"Error: {tmp_path / 'config.toml'}: 'defaults.ctx' = 255; expected an "
                             "integer from 256 to 16777216 (tokens of context, as --ctx)\n")
    (tmp_path / "config.toml").write_text("[defaults]\nctx = 256\n")
    assert run("pick", "phi4", "--vram", "0", "--ram", "64GB").exit_code == 0


def test_an_explicit_tag_and_a_size_that_disagrees_is_a_bad_request(site, run):
    """It used to print qwen3:8b-q4_K_M, exit 0, without a word on the --size it ignored."""
    result = run("pick", "qwen3:8b", "--size", "14b", "--vram", "0", "--ram", "64GB")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("Error: qwen3:8b is the 8b size, but --size asks for 14b: drop "
                             "--size or name a 14b tag\n")
    assert not any("/blobs/" in url for url in site.calls)  # refused before any GGUF header
    agrees = run("pick", "qwen3:8b", "--size", "8B", "--vram", "0", "--ram", "64GB")
    assert agrees.exit_code == 0 and agrees.stdout == "qwen3:8b-q4_K_M\n"
    moe = run("pick", "qwen3:30b-a3b", "--size", "30b-a3b", "--vram", "0", "--ram", "64GB")
    assert moe.exit_code == 0, moe.stderr
    bad = run("pick", "qwen3:8b", "--size", "big", "--vram", "0", "--ram", "64GB")
    assert bad.exit_code == 2 and "--size takes a parameter size" in bad.stderr


def test_a_models_entry_whose_size_disagrees_with_its_tag_names_the_config(site, run, tmp_path):
    (tmp_path / "config.toml").write_text('[budget]\nvram = "0"\nram = "64GB"\n\n[[models]]\n'
                                          'name = "qwen3:8b"\nsize = "14b"\n')
    result = run("sync", "--dry-run")
    assert result.exit_code == 1  # sync reports each entry that failed, then exits 1
    lines = result.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines)  # wrapped to the terminal (COLUMNS=80)
    assert ("failed: qwen3:8b: qwen3:8b is the 8b size, but the config's size asks for 14b: "
            "drop size or name a 14b tag") in " ".join(line.strip() for line in lines)


CTX_NOTE = ("note: phi4:14b has a 16K context (16384 tokens): planned at 16384, not the 1000000 "
            "asked, as Ollama runs it (it caps num_ctx at the model's context)")


def test_a_ctx_past_the_models_context_is_planned_at_the_models_and_says_so(site, run):
    """The plan's ctx used to be the 1000000 asked while every row was estimated at 16K, and
    nothing said so; docs/json.md: `ctx` is the context the rows are estimated at."""
    cpu = ["--vram", "0", "--ram", "64GB"]
    picked = run("pick", "phi4", "--ctx", "1000000", *cpu, "--json")
    assert picked.exit_code == 0, picked.stderr
    answer = json.loads(picked.stdout)
    assert answer["ctx"] == answer["pick"]["estimate"]["ctx"] == 16384
    assert CTX_NOTE in world.said(picked.stderr)
    listed = json.loads(run("tags", "phi4", "--ctx", "1000000", *cpu, "--json").stdout)
    assert listed["request"]["ctx"] == 16384 and listed["request"]["ctx_asked"] == 1000000
    assert {r["estimate"]["ctx"] for r in listed["rows"]} == {16384}
    table = run("tags", "phi4", "--ctx", "1000000", *cpu)
    assert "context 16K" in table.stdout.splitlines()[1] and "1000000" not in table.stdout
    assert CTX_NOTE in world.said(table.stderr)
    explicit = run("pick", "phi4:14b", "--ctx", "1000000", *cpu)
    assert explicit.exit_code == 0 and CTX_NOTE in world.said(explicit.stderr)
    within = run("pick", "phi4", "--ctx", "16384", *cpu)  # at the model's context: no note
    assert within.exit_code == 0 and "note: phi4" not in within.stderr
    quiet = run("-q", "pick", "phi4", "--ctx", "1000000", *cpu)  # -q: no notes, this one too
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr
    assert all(len(line) <= 80 for line in table.stderr.splitlines())  # wrapped, as notes are


@pytest.mark.parametrize("var,version,heard", [
    ("OLLAMA_CONTEXT_LENGTH", "0.15.5", "Ollama ignores it and uses its default context"),
    ("LLAMA_ARG_FIT_TARGET", "0.32.15", "planned with llama-server's default 1024 MiB margin"),
])
@pytest.mark.parametrize("value", ["²", "٣"])  # a superscript and an Arabic-Indic digit
def test_a_server_variable_in_non_ascii_digits_is_planned_as_ollama_reads_it(site, run, var, version,
                                                                              heard, value):
    """'²' passes str.isdigit() but is no number to Go's strconv.ParseUint (Ollama) nor to
    llama-server: the pick is the one made without the variable, with one note, no traceback."""
    args = ["pick", "phi4", "--vram", "24GB", "--ram", "64GB", "--ollama-version", version, "--json"]
    plain = run(*args)
    odd = run(*args, env={var: value})
    assert odd.exit_code == 0, odd.stderr
    assert json.loads(odd.stdout) == json.loads(plain.stdout)
    said = " ".join(world.said(odd.stderr))
    assert f"{var}='{value}' is not a number" in said and heard in said
    assert var not in plain.stderr


def test_fit_target_reads_ascii_mib_only():
    from ollama_quantpick.budget import MiB
    from ollama_quantpick.estimators import fit_target

    assert fit_target({"LLAMA_ARG_FIT_TARGET": " 2048,1024"}) == 2048 * MiB
    assert fit_target({"LLAMA_ARG_FIT_TARGET": "٣"}) is None  # int() reads it as 3; llama-server not
    assert fit_target({"LLAMA_ARG_FIT_TARGET": "²"}) is None and fit_target({}) is None


def test_a_tie_on_a_mac_goes_to_the_smaller_faster_tag(site, run):
    """M3 Max, 128 GB, Ollama 0.12.10 (4K context): 32B fp16 (65.5 GB, 5.4 t/s) scores 0.04 %
    above 32B q8_0 (34.8 GB, 9.9 t/s): a tie by the README's 0.1 %, so the half-size download
    that runs almost twice as fast is the pick, and fp16 the runner-up."""
    out = json.loads(run("pick", "qwen3", "--gpu", "M3 Max", "--ram", "128GB", "--task", "chat",
                         "--ollama-version", "0.12.10", "--json").stdout)
    pick, runner = out["pick"], out["runner_up"]
    assert (out["name"], runner["name"]) == ("qwen3:32b-q8_0", "qwen3:32b-fp16")
    assert 0 < runner["score"] / pick["score"] - 1 < TIE
    assert pick["download_bytes"] < runner["download_bytes"] / 1.8
    assert pick["estimate"]["tokens_per_s"] > runner["estimate"]["tokens_per_s"] * 1.5


@pytest.mark.parametrize("model", ["qwen3:32b", "QWEN3:8b"])
def test_tags_of_an_explicit_tag_gives_the_answer_pick_gives(site, run, model):
    """`tags qwen3:32b` marked its one row `*` yet said "nothing runs fast enough … --min-speed
    36.6 accepts it", and its JSON answered "no" with lacks.tokens_per_s -34.6, while `pick`
    of the same tag said yes."""
    budget = ["--gpu", "RTX 4090", "--ram", "64GB"]  # a named card: its speed is estimated
    tags = run("tags", model, *budget, "--json")
    pick = run("pick", model, *budget, "--json")
    assert tags.exit_code == pick.exit_code == 0, tags.stderr + pick.stderr
    out, answer = json.loads(tags.stdout), json.loads(pick.stdout)
    assert out["rows"][0]["picked"] and out["pick"]["answer"] == answer["answer"] == "yes"
    assert out["pick"]["name"] == answer["name"] == out["rows"][0]["name"]
    assert out["pick"]["reason"] == answer["reason"] and out["pick"]["lacks"] is None
    assert out["pick"]["decided"] is None  # checked, not chosen over another tag
    text = run("tags", model, *budget, "--wide").stdout
    assert f"pick: {answer['name']} — {answer['reason']}" in " ".join(text.split())
    assert "nothing runs fast enough" not in text
    # too slow for the minimum asked: both say "no", with the same reason and a shortfall > 0
    slow = ["--min-speed", "500"]
    no_tags = json.loads(run("tags", model, *budget, *slow, "--json").stdout)
    no_pick = run("pick", model, *budget, *slow, "--json")
    assert no_pick.exit_code == 3
    assert no_tags["pick"]["answer"] == json.loads(no_pick.stdout)["answer"] == "no"
    assert no_tags["pick"]["reason"] == json.loads(no_pick.stdout)["reason"]
    assert no_tags["pick"]["lacks"]["tokens_per_s"] > 0 and not no_tags["rows"][0]["picked"]


def test_an_explicit_tag_planned_at_the_task_floor_says_the_setting(site, run):
    """An explicit thinking-model tag for math is planned at 32K (the task's floor) above
    Ollama's 4K default: the answer names the setting that runs it there, as for a bare name."""
    out = json.loads(run("pick", "qwen3:8b", "--task", "math", "--vram", "0", "--ram", "64GB",
                         "--json").stdout)
    assert out["answer"] == "yes" and out["ctx"] == 32768
    assert out["settings"] == {"OLLAMA_CONTEXT_LENGTH": "32768"}


@pytest.mark.parametrize("ram", [[], ["--ram", "32GB"]])
def test_adding_a_model_that_cannot_fit_keeps_the_true_reason(site, run, ram):
    """qwen3 alone on the CPU: 4B q4_K_M is chosen for speed over 4B q8_0. Adding llama3.3,
    whose 70B q4_0 cannot fit, must not change that to 'best that fits ... 70B q4_0 would need':
    q8_0, the better tag that fits, is still what the pick beat, and on speed."""
    args = ["--task", "code", "--gpu", "none", *ram, "--json"]
    alone = json.loads(run("pick", "qwen3", *args).stdout)
    both = json.loads(run("pick", "qwen3", "llama3.3", *args).stdout)
    assert alone["name"] == both["name"] == "qwen3:4b-q4_K_M"
    assert both["runner_up"]["name"] == "qwen3:4b-q8_0"
    assert alone["decided"] == both["decided"] == "speed"
    first = both["reason"].split("; over llama3.3")[0]
    assert "chosen for speed" in first and "q8_0 would run at" in first and "would need" not in first

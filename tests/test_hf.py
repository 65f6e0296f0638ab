"""Hugging Face GGUF repos (`hf.co/OWNER/REPO`) through the same commands, against a stand-in Hub
(tests/hf_hub.py) that answers as the real one does."""

from __future__ import annotations

import json
import math
import re

import pytest
import responses

import hf_hub
import world
from ollama_quantpick import gguf, hf, http, quants, score
from ollama_quantpick.tagname import parse_model_ref

QWEN = "hf.co/unsloth/Qwen3-32B-GGUF"
SCOUT = "hf.co/unsloth/Llama-4-Scout-17B-16E-Instruct-GGUF"
IQ = "hf.co/bartowski/Qwen_Qwen3-4B-GGUF"
BUDGET = ("--vram", "24GB", "--ram", "64GB")


@pytest.fixture
def hub():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield hf_hub.install(rsps)


def rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def sizes(repo: str) -> dict[str, int]:
    return {s["rfilename"]: s["size"] for s in hf_hub.model_info(repo)["siblings"]}


# ---- names and grouping (pure) ------------------------------------------------------------------

@pytest.mark.parametrize("path,tag", [
    ("Qwen3-32B-Q4_K_M.gguf", "Q4_K_M"), ("Qwen3-32B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
    ("BF16/Qwen3-32B-BF16-00001-of-00002.gguf", "BF16"), ("gemma-2b.q4_k_m.gguf", "Q4_K_M"),
    ("Qwen_Qwen3-4B-IQ2_XXS.gguf", "IQ2_XXS"), ("x-Q4_0_4_4.gguf", "Q4_0_4_4"),
    ("model-tq1_0.gguf", "TQ1_0"), ("gpt-oss-20b-MXFP4_MOE.gguf", "MXFP4_MOE"),
    ("UD-IQ1_S/DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf", "UD-IQ1_S"), ("unsloth.F16.gguf", "F16"),
    ("ggml-model.gguf", None),
])
def test_quant_names_as_ollama_accepts_them(path, tag):
    assert hf.quant_tag(path) == tag


def test_split_parts_are_one_quant_with_the_summed_size_and_one_projector():
    files = [hf.HubFile("Q8_0/m-Q8_0-00002-of-00002.gguf", 20), hf.HubFile("m-Q4_K_M.gguf", 7),
             hf.HubFile("Q8_0/m-Q8_0-00001-of-00002.gguf", 30), hf.HubFile("mmproj-F32.gguf", 4),
             hf.HubFile("mmproj-F16.gguf", 2), hf.HubFile("README.md", 1)]
    by_tag = {q.tag: q for q in hf.group(files)}
    assert set(by_tag) == {"Q8_0", "Q4_K_M"}
    q8 = by_tag["Q8_0"]
    assert q8.split and q8.model_bytes == 50 and q8.parts[0].path.endswith("00001-of-00002.gguf")
    assert q8.projector.path == "mmproj-F16.gguf" and by_tag["Q4_K_M"].projector.size == 2


def test_a_single_file_beats_a_split_set_of_the_same_quant():
    files = [hf.HubFile("m-Q8_0.gguf", 50), hf.HubFile("Q8_0/m-Q8_0-00001-of-00002.gguf", 25),
             hf.HubFile("Q8_0/m-Q8_0-00002-of-00002.gguf", 25)]
    (q8,) = hf.group(files)
    assert not q8.split and q8.parts[0].path == "m-Q8_0.gguf"


def test_redirects_only_to_the_hubs_own_hosts_over_https():
    for url in ("https://cas-bridge.xethub.hf.co/xet-bridge-us/ab?x=1",
                "https://cdn-lfs-us-1.hf.co/repos/ab", "https://cdn-lfs.huggingface.co/x",
                "https://us.aws.cdn.hf.co/xet", "https://huggingface.co/a/b/resolve/main/c"):
        assert hf.is_hub_host(url), url
    for url in ("http://cas-bridge.xethub.hf.co/x", "https://evilhf.co/x",
                "https://huggingface.co.evil.example/x", "https://files.evil.example/x"):
        assert not hf.is_hub_host(url), url


# ---- the done-when of issue #14 -----------------------------------------------------------------

def test_tags_lists_every_quant_with_its_exact_size(hub, run):
    by_tag = {r["tag"]: r for r in rows(run("tags", QWEN, *BUDGET, "--json"))}
    files = sizes("unsloth/Qwen3-32B-GGUF")
    ggufs = {p: s for p, s in files.items() if p.endswith(".gguf")}
    expected = {hf.quant_tag(p) for p in ggufs}
    assert set(by_tag) == expected and len(expected) == 12
    for p, s in ggufs.items():
        if "-of-" not in p:
            assert by_tag[hf.quant_tag(p)]["download_bytes"] == s  # exact LFS size, no projector
    bf16 = [s for p, s in ggufs.items() if p.startswith("BF16/")]
    assert len(bf16) == 2 and by_tag["BF16"]["download_bytes"] == sum(bf16)  # one row, summed
    assert by_tag["Q4_K_M"]["aliases"] == ["latest"]
    assert by_tag["Q4_K_M"]["params_b"] == 32.8  # from the header's tensor table
    assert by_tag["BF16"]["picked"] is False and "split into 2 files" in by_tag["BF16"]["blocked"]


def test_table_says_why_a_split_quant_is_not_picked(hub, run):
    out = run("tags", QWEN, *BUDGET, "--vram", "96GB", "--wide").stdout
    row = next(line for line in out.splitlines() if re.match(r"\s*\*?\s*(\d+\s+)?BF16\s", line))
    assert "100% GPU" in row  # it fits 96 GB and is the best quality ...
    flat = " ".join(out.split())
    assert re.search(r"pick: hf\.co/unsloth/Qwen3-32B-GGUF:(?!BF16)", flat)  # ... not picked
    assert "not picked: BF16 — BF16 is split into 2 files" in flat
    assert "llama-gguf-split --merge" in flat and "ollama create" in flat


def test_pick_chooses_with_the_same_rules(hub, run):
    result = run("pick", QWEN, "--task", "code", *BUDGET)
    assert result.exit_code == 0, result.output
    name = result.stdout.strip()
    assert name.startswith(QWEN + ":")
    ranked = rows(run("tags", QWEN, "--task", "code", *BUDGET, "--json"))
    picked = next(r for r in ranked if r["picked"])
    assert picked["name"] == name and picked["estimate"]["placement"] == "gpu"
    # no quant that also runs fully on the GPU and can be pulled scores higher
    rivals = [r for r in ranked if r["estimate"]["placement"] == "gpu" and r["tag"] != "BF16"]
    assert all(r["score"] <= picked["score"] + score.TIE for r in rivals)  # within a tie
    ties = [r for r in rivals if r["score"] > picked["score"] - score.TIE / 2]
    assert len(ties) < len(rivals)  # the rule chose among a few, not by luck


def test_pull_dry_run_prints_the_name_ollama_expects(hub, run):
    result = run("pull", QWEN, "--task", "chat", *BUDGET, "--dry-run")
    assert result.exit_code == 0, result.output
    assert re.search(r"^dry run: would pull hf\.co/unsloth/Qwen3-32B-GGUF:[A-Z0-9_-]+$",
                     result.stdout, re.M)


def test_moe_109b_on_24gb_picks_a_quant_that_fits(hub, run):
    """The issue's command on a faithful Llama-4-Scout repo (IQ2_XS is 37.8 GB with its
    projector, not ~24 GB: 107.8B weights at >= 2.31 bits cannot be smaller than 31 GB). With
    64 GB of RAM the same rules take the best quality that fits and is fast enough: Q4_K_M, its
    routed experts in RAM."""
    result = run("pick", SCOUT, "--task", "chat", *BUDGET)
    assert result.exit_code == 0, result.output
    name = result.stdout.strip()
    ranked = {r["name"]: r for r in rows(run("tags", SCOUT, "--task", "chat", *BUDGET, "--json"))}
    assert ranked[name]["picked"] and ranked[name]["estimate"]["placement"] == "split"
    assert ranked[name]["params_b"] == 107.8 and ranked[name]["active_params_b"] == 17.2
    fitting = [r for r in ranked.values() if r["runs"] and not r["blocked"]]
    assert ranked[name]["quality"] == max(r["quality"] for r in fitting)


def test_moe_109b_on_a_48gb_machine_picks_a_2bit_quant_and_says_what_it_costs(hub, run):
    small = ("--vram", "24GB", "--ram", "24GB")  # no 3- or 4-bit file fits 48 GB
    result = run("pick", SCOUT, "--task", "chat", *small)
    assert result.exit_code == 0, result.output
    name = result.stdout.strip()
    ranked = {r["name"]: r for r in rows(run("tags", SCOUT, "--task", "chat", *small, "--json"))}
    assert ranked[name]["estimate"]["placement"] in ("gpu", "split")  # it fits the budget
    m = re.search(r"is a 2-bit quant \(([\d.]+) bits per weight\): it keeps about (\d+)% of "
                  r"full-precision quality for chat, but (\d+)% for math and (\d+)% for code",
                  " ".join(result.stderr.split()))
    assert m, result.stderr
    chat, math_, code = (int(m.group(i)) for i in (2, 3, 4))
    assert 2.0 <= float(m.group(1)) < 3.0 and math_ < code < chat  # math pays the most


def test_vision_repo_counts_one_projector_the_f16_one(hub, run):
    by_tag = {r["tag"]: r for r in rows(run("tags", SCOUT, *BUDGET, "--json"))}
    files = sizes("unsloth/Llama-4-Scout-17B-16E-Instruct-GGUF")
    model = files["Llama-4-Scout-17B-16E-Instruct-IQ2_XS.gguf"]
    assert by_tag["IQ2_XS"]["download_bytes"] == model + files["mmproj-F16.gguf"]
    assert by_tag["IQ2_XS"]["inputs"] == ["text", "image"]
    assert not any("mmproj" in t for t in by_tag)


def test_fit_names_the_real_mix_and_uses_the_imatrix_kld(hub, run):
    out = run("fit", QWEN + ":q4_k_m", *BUDGET).stdout  # any case, as Ollama matches
    assert "mix: q4_K " in out and "q6_K" in out and "(file type q4_K_M); imatrix: yes" in out
    assert f"KLD {quants.lookup('q4_K_M').kld_imatrix:.4f}" in out
    out = run("fit", QWEN + ":Qwen3-32B-UD-Q4_K_XL.gguf", *BUDGET).stdout  # a file name as tag
    assert out.startswith(QWEN + ":UD-Q4_K_XL at ")
    assert "rated on the imatrix curve" in " ".join(out.split())  # fit wraps its prose


def test_fit_a_split_quant_says_why_and_pull_refuses_it(hub, run):
    out = run("fit", QWEN + ":BF16", "--vram", "96GB", "--ram", "64GB").stdout
    assert "placement: gpu" in out and "note: not picked and not pulled: BF16 is split" in out
    result = run("pull", QWEN + ":BF16", "--vram", "96GB", "--ram", "64GB", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot be pulled: BF16 is split" in result.stderr


def test_every_iq_and_ternary_type_is_rated_and_types_without_evidence_are_never_picked(hub, run):
    ranked = rows(run("tags", IQ, "--prefer", "quality", "--vram", "80GB", "--ram", "64GB",
                      "--json"))
    by_tag = {r["tag"]: r for r in ranked}
    assert len(by_tag) == 17
    for tag in ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS",
                "IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL"):
        assert by_tag[tag]["quant_rated"] and 0 < by_tag[tag]["quality"] < 1, tag
    for tag in ("TQ1_0", "TQ2_0", "Q4_0_4_4"):
        assert not by_tag[tag]["picked"] and by_tag[tag]["blocked"]
    out = " ".join(run("tags", IQ, "--vram", "80GB", "--ram", "64GB").stdout.split())
    assert "not picked: TQ1_0 — no quality evidence: ternary TQ1_0" in out
    assert "not picked: Q4_0_4_4 — Q4_0_4_4 is a repacked Q4_0 layout" in out
    ordered = [r["tag"] for r in ranked]  # the picked one is the best pickable, IQ4 > IQ1
    assert ordered.index("IQ4_NL") < ordered.index("IQ2_XS") < ordered.index("IQ1_S")


def test_the_imatrix_curve_is_monotone_and_matches_measured_types():
    kl = [quants.curve_kld(b / 10) for b in range(15, 100)]
    assert all(a >= b for a, b in zip(kl, kl[1:]))
    assert quants.curve_kld(quants.lookup("q4_K_M").bpw_file) == pytest.approx(0.02815)
    assert quants.curve_kld(quants.lookup("iq2_xs").bpw_file) == pytest.approx(0.54629)


# ---- Ollama, config and sync --------------------------------------------------------------------

@pytest.fixture
def ollama_hf(httpserver):
    from werkzeug import Response

    from ollama_fake import FakeOllama

    fake = FakeOllama()

    def pull(request):
        name = json.loads(request.data).get("model")
        fake.pulls.append(name)

        def stream():
            yield json.dumps({"status": "pulling manifest"}) + "\n"
            yield json.dumps({"status": "pulling 1a2b", "digest": "sha256:1a2b", "total": 10,
                              "completed": 10}) + "\n"
            fake.installed[name] = "f" * 64
            yield json.dumps({"status": "success"}) + "\n"
        return Response(stream(), mimetype="application/x-ndjson")
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.12.6"})
    httpserver.expect_request("/api/tags").respond_with_handler(fake.tags)
    httpserver.expect_request("/api/pull", method="POST").respond_with_handler(pull)
    return fake, httpserver.url_for("/").rstrip("/")


def test_pull_goes_through_ollama_with_the_hf_name_then_skips_it(hub, run, ollama_hf):
    fake, host = ollama_hf
    first = run("pull", QWEN, "--task", "chat", *BUDGET, "--host", host, "-q", "--yes")
    assert first.exit_code == 0, first.output
    assert len(fake.pulls) == 1 and fake.pulls[0].startswith(QWEN + ":")
    again = run("pull", QWEN, "--task", "chat", *BUDGET, "--host", host, "-q", "--yes")
    assert "already installed" in again.stdout and len(fake.pulls) == 1


def test_installed_detection_ignores_case_as_ollama_does(hub, run, ollama_hf):
    fake, host = ollama_hf
    fake.installed["hf.co/unsloth/qwen3-32b-gguf:q4_k_m"] = "e" * 64
    result = run("pull", QWEN + ":Q4_K_M", *BUDGET, "--host", host, "-q")
    assert "already installed as hf.co/unsloth/qwen3-32b-gguf:q4_k_m" in result.stdout
    assert fake.pulls == []


def test_sync_takes_an_hf_repo_from_the_config(hub, run, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[budget]\nvram = "24GB"\nram = "64GB"\n\n[[models]]\nname = "{QWEN}"\n'
                   'task = "code"\n')
    monkeypatch.setenv("QUANTPICK_CONFIG", str(cfg))
    result = run("sync", "--dry-run", "--json")
    (row,) = json.loads(result.stdout)["rows"]
    assert row["action"] == "pull" and row["tag"].startswith(QWEN + ":") and row["error"] is None
    assert row["tag"] == run("pick", QWEN, "--task", "code", *BUDGET).stdout.strip()


# ---- errors: one line, the documented exit code, nothing cached wrong ---------------------------

def _one_line(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def test_a_repo_that_does_not_exist(hub, run, monkeypatch):
    _one_line(run("tags", "hf.co/nobody/Nothing-GGUF"), 2,
              "no model 'nobody/Nothing-GGUF' on the Hugging Face Hub, or it is private",
              "HF_TOKEN")
    monkeypatch.setenv("HF_TOKEN", hf_hub.TOKEN)
    _one_line(run("tags", "hf.co/nobody/Nothing-GGUF"), 2,
              "Error: no model 'nobody/Nothing-GGUF' on the Hugging Face Hub")


def test_a_gated_repo_without_a_token_or_without_access(hub, run, monkeypatch, tmp_path,
                                                        settle_threads):
    gated = "hf.co/meta-llama/Llama-Gated-8B-GGUF"
    _one_line(run("tags", gated, *BUDGET), 1, "is gated", "set HF_TOKEN",
              "https://huggingface.co/meta-llama/Llama-Gated-8B-GGUF")
    monkeypatch.setenv("HF_TOKEN", hf_hub.OTHER_TOKEN)
    _one_line(run("tags", gated, *BUDGET), 1, "HF_TOKEN has no access", "request access at")
    monkeypatch.setenv("HF_TOKEN", hf_hub.TOKEN)
    assert run("tags", gated, *BUDGET).exit_code == 0
    # the token went to the Hub only, never to the storage host, and is in no cache file
    sent = {u: a for u, a in hub.auth.items() if a}
    assert sent and all(u.startswith(hf_hub.HUB + "/") for u in sent)
    assert any(u.startswith(hf_hub.XET) for u in hub.auth)
    settle_threads()  # every write the three commands started is in the cache before the scan
    for f in (tmp_path / "cache").rglob("*"):
        assert hf_hub.TOKEN not in f.name
        if f.is_file():
            assert hf_hub.TOKEN not in f.read_text(errors="replace")


def test_a_redirect_to_a_foreign_host_is_refused(hub, run):
    _one_line(run("tags", "hf.co/evil/Redirect-GGUF", *BUDGET), 1,
              "redirected to another host (files.evil.example); refused")
    assert not any(u.startswith("https://files.evil.example") for u in hub.calls)


def test_a_file_that_is_not_gguf_fails_and_nothing_is_cached(hub, run):
    _one_line(run("fit", "hf.co/someone/Renamed-GGUF:Q4_K_M", *BUDGET), 1,
              "someone/Renamed-GGUF/model-Q4_K_M.gguf is not a GGUF model Ollama can run",
              "bad magic")
    f = next(f for f in hf_hub.REPOS["someone/Renamed-GGUF"].files if f.bad)
    assert http.read_cache(f"gguf-info|hf|{f.sha256}") is None


def test_a_repo_without_gguf_exits_2(hub, run):
    _one_line(run("pick", "hf.co/Qwen/Qwen3-32B", *BUDGET), 2,
              "hf.co/Qwen/Qwen3-32B has no GGUF model file (it holds gitattributes, json, md, "
              "safetensors files)")


def test_bad_hf_names_are_refused_before_any_request(hub, run):
    _one_line(run("pick", "hf.co/unsloth"), 2, "is not a valid Hugging Face model name")
    assert hub.calls == []


# ---- the header reader and a real local stand-in ------------------------------------------------

def test_header_gives_parameters_experts_and_imatrix():
    data = hf_hub.gguf_header("unsloth/Llama-4-Scout-17B-16E-Instruct-GGUF",
                              "Llama-4-Scout-17B-16E-Instruct-IQ2_XS.gguf")
    info = gguf.parse_header(data)
    shape = hf_hub.SCOUT
    expected = sum(math.prod(s) for _, s, _ in hf_hub.tensors(shape, "IQ2_XS"))
    assert info.param_count == expected and info.imatrix and info.file_type == "iq2_xs"
    assert info.expert_count == 16 and info.expert_used_count == 1
    assert info.mix.startswith("iq2_xs ")


def test_against_a_real_local_hub_via_quantpick_hf_url(httpserver, run, monkeypatch, real_headers):
    base, served = hf_hub.serve_http(httpserver)
    monkeypatch.setenv("QUANTPICK_HF_URL", base)
    result = run("pick", QWEN, "--task", "chat", *BUDGET)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(QWEN + ":")
    assert any("/resolve/main/" in u for u in served.calls)
    assert any("/xet-bridge-us/" in u for u in served.calls)  # the redirect was followed


def test_listing_is_cached_and_offline_answers_from_it(hub, run):
    run("tags", QWEN, *BUDGET)
    calls = len(hub.calls)
    result = run("tags", QWEN, *BUDGET, "--offline")
    assert result.exit_code == 0 and len(hub.calls) == calls


def test_hf_ref_keeps_case_and_shows_the_hub_name():
    ref = parse_model_ref("huggingface.co/unsloth/Qwen3-32B-GGUF:ud-q4_k_xl")
    assert (ref.namespace, ref.model, ref.tag, ref.is_hf) == (
        "unsloth", "Qwen3-32B-GGUF", "ud-q4_k_xl", True)
    assert ref.display == "hf.co/unsloth/Qwen3-32B-GGUF:ud-q4_k_xl"


@pytest.mark.parametrize("repo,family", [
    ("hf.co/unsloth/Qwen3-32B-GGUF", "qwen3"), ("hf.co/bartowski/Qwen_Qwen3-4B-GGUF", "qwen3"),
    ("hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "llama3.1"),
    ("hf.co/unsloth/gemma-3-27b-it-GGUF", "gemma3"), ("hf.co/unsloth/phi-4-GGUF", "phi4"),
    ("hf.co/unsloth/DeepSeek-R1-Distill-Qwen-32B-GGUF", None),  # a distill is not the family
    ("hf.co/unsloth/Qwen3.5-9B-GGUF", None), ("hf.co/someone/Mystery-7B-GGUF", None),
])
def test_a_hub_repo_speaks_for_the_library_family_its_name_holds(repo, family):
    from ollama_quantpick.capability import hub_family

    assert hub_family(repo)[0] == (family or repo)


def test_hub_rows_get_the_family_benchmark(hub, run):
    row = next(r for r in rows(run("tags", QWEN, "--task", "code", *BUDGET, "--json"))
               if r["tag"] == "Q4_K_M")
    assert row["capability_source"] == "benchmark"  # its 32.8B are qwen3:32b's (hub_size)
    assert "qwen3:32b" in row["capability"]["basis"]
    # the 2507 update is a later model: the original Qwen3 row must not speak for it
    from ollama_quantpick.capability import lookup

    cap = lookup("hf.co/unsloth/Qwen3-30B-A3B-Instruct-2507-GGUF", 30.5, 3.3, "code", "Q4_K_M")
    assert cap.source == "no data"


def test_tags_of_an_explicit_hub_tag_answers_as_pick_does(hub, run):
    """`tags hf.co/…:Q4_K_M` used to mark its row the pick and answer "no" beside it."""
    args = [f"{QWEN}:Q4_K_M", "--gpu", "RTX 4090", "--ram", "64GB", "--json"]
    out, answer = json.loads(run("tags", *args).stdout), json.loads(run("pick", *args).stdout)
    assert out["rows"][0]["picked"] and out["pick"]["answer"] == answer["answer"] == "yes"
    assert out["pick"]["name"] == answer["name"] == f"{QWEN}:Q4_K_M"
    assert out["pick"]["reason"] == answer["reason"]


def test_two_spellings_of_one_hub_quant_are_one_row(hub, run):
    out = json.loads(run("tags", f"{QWEN}:q4_k_m", f"{QWEN}:Q4_K_M", *BUDGET, "--json").stdout)
    assert [r["name"] for r in out["rows"]] == [f"{QWEN}:Q4_K_M"]
    assert out["pick"]["runner_up"] is None


@pytest.fixture
def hub_and_library():
    """The Hub and ollama.com with its registry, for a decision across both."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        world.install(rsps)
        yield hf_hub.install(rsps)


@pytest.mark.parametrize("task", ["code", "math"])
def test_a_hub_copy_of_a_measured_model_gets_its_measured_capability(hub_and_library, run, task):
    """hf.co/unsloth/Qwen3-32B-GGUF (32.8B by its header) got qwen3:32b's score scaled by the
    size law (code 64.3, "estimated"), tipping `pick qwen3 <repo>` on 64.2 vs 64.3."""
    hub_row = rows(run("tags", f"{QWEN}:Q4_K_M", "--task", task, *BUDGET, "--json"))[0]
    lib_row = rows(run("tags", "qwen3:32b", "--task", task, *BUDGET, "--json"))[0]
    assert hub_row["params_b"] == 32.8 and lib_row["params_b"] == 32
    assert hub_row["capability"] == lib_row["capability"]
    assert hub_row["capability_source"] == "benchmark"
    both = run("pick", "qwen3", QWEN, "--task", task, *BUDGET)
    assert both.exit_code == 0 and "(estimated)" not in both.stderr


@pytest.mark.parametrize("repo,count,size", [
    (QWEN, (32.8, None), (32, None)),
    ("hf.co/unsloth/Qwen3-30B-A3B-GGUF", (30.5, 3.3), (30, 3)),
    ("hf.co/unsloth/phi-4-GGUF", (14.7, None), (14, None)),  # no size in the name: the row's
    (SCOUT, (108.6, 17.2), (108.6, 17.2)),  # "17B" names the active weights: the count stays
    ("hf.co/someone/Mystery-GGUF", (7.6, None), (7.6, None)),
    ("qwen3", (32.8, None), (32.8, None)),  # a library model's size is its tag's already
])
def test_a_hub_repo_goes_by_the_size_its_name_gives(repo, count, size):
    from ollama_quantpick.capability import hub_size

    assert hub_size(repo, *count) == size


def test_size_picks_among_a_hub_repos_quants(hub_and_library, run):
    """--size 32b said "has no 32b size; it has" (nothing) for the repo, and left it out unseen
    beside library models: its size came from the header, read after the filter."""
    out = rows(run("tags", QWEN, "--size", "32b", *BUDGET, "--json"))
    assert len(out) == len(rows(run("tags", QWEN, *BUDGET, "--json"))) > 1
    beside = rows(run("tags", "phi4", QWEN, "--size", "32b", *BUDGET, "--json"))
    assert {r["model"] for r in beside} == {QWEN}
    other = run("tags", QWEN, "--size", "8b", *BUDGET)
    assert other.exit_code == 2
    assert other.stderr == f"Error: {QWEN} has no 8b size; it has 32b\n"
    tag = run("pick", f"{QWEN}:Q4_K_M", "--size", "8b", *BUDGET)
    assert tag.exit_code == 2 and f"{QWEN}:Q4_K_M is the 32b size, but --size asks" in tag.stderr


def test_a_ctx_past_a_hub_repos_context_names_the_repo_not_a_tag_it_lacks(hub_and_library, run):
    """The note said `hf.co/unsloth/Qwen3-32B-GGUF:32b has a 40K context`: there is no :32b."""
    result = run("pick", f"{QWEN}:Q4_K_M", "--ctx", "1000000", *BUDGET)
    notes = [line for line in world.said(result.stderr) if "context (" in line]
    assert notes and notes[0].startswith(f"note: {QWEN} (32b) has a ")
    assert f"{QWEN}:32b" not in result.stderr


def test_a_hub_thinking_model_gets_the_thinking_floor(hub_and_library, run):
    """The 32K floor for math with a thinking model applied to qwen3:32b but not to the same
    model from the Hub (8K)."""
    cpu = ["--vram", "0", "--ram", "64GB", "--task", "math", "--json"]
    lib = json.loads(run("tags", "qwen3:32b", *cpu).stdout)["request"]
    hub = json.loads(run("tags", QWEN, *cpu).stdout)["request"]
    assert hub["ctx"] == lib["ctx"] == 32768 and hub["ctx_default"] < 32768
    from ollama_quantpick.capability import family_in

    models = quants.data()["thinking"]["models"]
    assert family_in("hf.co/Qwen/QwQ-32B-GGUF", models) == "qwq"
    assert family_in("hf.co/unsloth/Phi-4-reasoning-GGUF", models) == "phi4-reasoning"
    assert family_in("hf.co/unsloth/DeepSeek-R1-Distill-Qwen-32B-GGUF", models) == "deepseek-r1"
    assert family_in("hf.co/unsloth/phi-4-GGUF", models) is None

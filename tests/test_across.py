"""Deciding across models: the capability data, the ranking across families, the fallback when a
model has no benchmark data, and the alternatives a "no" points to."""

import json
import math

import pytest

import world
from ollama_quantpick import across, score
from ollama_quantpick import capability as capmod
from ollama_quantpick.estimate import Estimate
from ollama_quantpick.quants import data, lookup, tasks

GB = 10**9
LIVEBENCH = "https://github.com/LiveBench/livebench.github.io/blob/"


# ---- the data file ---------------------------------------------------------------------------

def test_every_capability_number_has_its_source_beside_it():
    table = capmod.table()
    assert table["source_url"].startswith(LIVEBENCH) and table["date"]
    assert set(table["tasks"]) == set(tasks())
    for task in table["tasks"].values():
        assert task["benchmark"].startswith("LiveBench")
    for row in table["score"]:
        numbers = {k: v for k, v in row.items() if isinstance(v, (int, float))
                   and k != "total_params_b"}
        assert numbers, row["model"]
        assert set(numbers) <= set(tasks()), row["model"]
        assert all(0 <= v <= 100 for v in numbers.values()), row["model"]
        assert row["url"].startswith(LIVEBENCH) and row["url"].endswith(".csv")
        assert row["release"] in row["url"].replace("_", "-")
        assert row["source_row"] and row["size"]


def test_rows_from_the_older_table_carry_no_score_its_changed_questions_would_give():
    for row in capmod.table()["score"]:
        if row["release"] != "2025-04-25":
            assert not {"code", "general", "chat"} & set(row), row["model"]


def test_the_reference_model_has_every_task():
    ref = capmod.table()["reference"]
    row = next(r for r in capmod.rows() if (r.model, r.size) == (ref["model"], ref["size"]))
    assert set(row.scores) == set(tasks())


# ---- capability lookup -------------------------------------------------------------------------

def test_a_measured_size_is_its_benchmark_score():
    cap = capmod.lookup("qwen3", 32, None, "code")
    row = next(r for r in capmod.table()["score"] if (r["model"], r["size"]) == ("qwen3", "32b"))
    assert cap.source == "benchmark" and cap.value == row["code"] and cap.note is None
    moe = capmod.lookup("qwen3", 30, 3, "math")
    assert moe.source == "benchmark" and moe.value != capmod.lookup("qwen3", 32, None,
                                                                   "math").value


def test_an_unmeasured_size_scales_from_the_nearest_measured_size_of_its_family():
    gamma = data()["model"]["gamma"]
    small = capmod.lookup("qwen3", 8, None, "math")
    base = capmod.lookup("qwen3", 14, None, "math")
    assert small.source == "size law" and "qwen3:14b" in small.basis
    assert small.value == pytest.approx(base.value * (8 / 14) ** gamma)
    assert capmod.lookup("qwen3", 4, None, "math").value < small.value < base.value


def test_a_row_speaks_only_for_the_tags_it_names():
    # llama4 Scout and Maverick are both "17b" tags; the LiveBench row is Maverick's
    maverick = capmod.lookup("llama4", 17, None, "math", "17b-maverick-128e-instruct-q4_K_M")
    scout = capmod.lookup("llama4", 17, None, "math", "17b-scout-16e-instruct-q4_K_M")
    assert maverick.source == "benchmark" and scout.source == "no data"
    # qwen3's 2507 updates are later models: not the row of the original 30B-A3B
    assert capmod.lookup("qwen3", 30, 3, "math", "30b-a3b-q4_K_M").source == "benchmark"
    later = capmod.lookup("qwen3", 30, 3, "math", "30b-a3b-instruct-2507-q4_K_M")
    assert later.source == "no data"  # no qwen3 row speaks for any 2507 tag


def test_no_data_falls_back_to_the_size_law_and_says_so():
    cap = capmod.lookup("phi4", 14, None, "code")  # phi4 is only in the older table: no coding
    ref = capmod.lookup("qwen2.5", 7, None, "code")
    assert cap.source == "no data" and cap.note == "no benchmark data for phi4:14b (code)"
    assert cap.value == pytest.approx(ref.value * 2 ** data()["model"]["gamma"])
    assert "qwen2.5:7b" in cap.basis
    assert capmod.lookup("phi4", 14, None, "math").source == "benchmark"
    unknown = capmod.lookup("someone/custom", 8, None, "chat")
    assert unknown.source == "no data" and "someone/custom:8b" in unknown.note


# ---- ranking across families (synthetic candidates: pure) -----------------------------------

def cand(name, quant, params, placement="gpu", tps=30.0, active=None):
    e = Estimate(8192, "f16", 20 * GB, 0, 0, 0, 20 * GB, 65, 65 if placement == "gpu" else 30,
                 placement, 0, 0, tps, "header")
    return score.Candidate(name, lookup(quant), params, active, 20 * GB, e)


@pytest.mark.parametrize("task,winner", [
    ("code", "qwen3:32b-q4_K_M"),        # LiveBench Coding 64.2 vs 51.8
    ("instruct", "llama3.3:70b-q4_K_M"),  # IF 82.7 vs 74.9: the measured scores decide
    ("math", "gemma3:27b-it-q4_K_M"),     # Mathematics 52.3 vs 41.4, not the larger model
])
def test_measured_capability_decides_between_families(task, winner):
    pool = {"qwen3:32b-q4_K_M": ("q4_K_M", 32), "llama3.3:70b-q4_K_M": ("q4_K_M", 70),
            "gemma3:27b-it-q4_K_M": ("q4_K_M", 27)}
    if task != "code":
        del pool["qwen3:32b-q4_K_M"]
    ranked = score.rank([cand(n, q, p) for n, (q, p) in pool.items()], task)
    assert ranked[0].name == winner and ranked[0].picked
    assert all(c.cap.source == "benchmark" for c in ranked)


def test_the_quant_still_counts_across_families():
    # gemma3 27B measures higher at math (52.3 vs 43.0) but q2_K keeps ~70 % of it on math
    # (research §4: math is the most quantization-sensitive task), phi4 q8_0 ~100 %.
    ranked = score.rank([cand("gemma3:27b-it-q2_K", "q2_K", 27), cand("phi4:14b-q8_0", "q8_0", 14)],
                        "math")
    assert ranked[0].name == "phi4:14b-q8_0"
    assert ranked[1].cap.value > ranked[0].cap.value and ranked[1].quality < 0.75
    at_q4 = score.rank([cand("gemma3:27b-it-q4_K_M", "q4_K_M", 27),
                        cand("phi4:14b-q8_0", "q8_0", 14)], "math")
    assert at_q4[0].model == "gemma3"


def test_why_not_names_the_loser_with_numbers():
    pick, other = cand("qwen3:32b-q4_K_M", "q4_K_M", 32), cand("llama3.3:70b-q3_K_M", "q3_K_M", 70,
                                                              "split", tps=2.1)
    ranked = score.rank([pick, other], "code", min_speed=5.3)
    text = across.why_not(ranked, ranked[0], "code")
    assert text.startswith("over llama3.3: its fastest, llama3.3:70b-q3_K_M, runs below the "
                           "minimum speed (split 30/65 layers, 2.1 tokens/s)")
    assert "LiveBench Coding 51.8 vs 64.2" in text


def test_alternative_families_need_a_measured_size_at_least_as_good_that_could_fit():
    fams = across.alternative_sizes({"llama3.3"}, "math", 41.4, 24 * GB)
    assert "llama3.3" not in fams
    for rows in fams.values():
        for r in rows:
            assert r.scores["math"] >= 41.4 and r.params_b * 1e9 * across.min_bpw() / 8 <= 24 * GB
    assert {"qwen3", "phi4", "gemma3"} <= set(fams)
    assert "command-r" not in fams  # Mathematics 18.4
    assert not any(r.params_b >= 70 for rows in fams.values() for r in rows)


def test_choose_alternatives_keeps_usable_ones_best_first():
    a, b, c, d = (cand("qwen3:14b-q4_K_M", "q4_K_M", 14), cand("phi4:14b-q4_K_M", "q4_K_M", 14),
                  cand("gemma3:27b-it-q4_K_M", "q4_K_M", 27, "no"),
                  cand("gemma3:12b-it-q4_K_M", "q4_K_M", 12, tps=1.0))
    score.rank([a, b, c], "math")
    score.rank([d], "math", min_speed=5.3)
    chosen = across.choose_alternatives([b, c, d, a])
    assert [x.name for x in chosen] == ["qwen3:14b-q4_K_M", "phi4:14b-q4_K_M"]


# ---- through the CLI, against the fake ollama.com and registry -----------------------------

def test_qwen3_or_llama33_for_code_on_a_24gb_card(site, run):
    budget = ["--gpu", "RTX 4090", "--ram", "64GB"]
    result = run("pick", "qwen3", "llama3.3", "--task", "code", *budget)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "qwen3:32b-q4_K_M\n"
    why = result.stderr
    # why not the 70B, in numbers: where its best tag runs, how fast, and the capability gap
    assert "over llama3.3: its best, llama3.3:70b-instruct-q" in why and " split " in why
    assert " tokens/s, score " in why and "LiveBench Coding 51.8 vs 64.2" in why
    as_json = json.loads(run("pick", "qwen3", "llama3.3", "--task", "code", *budget,
                             "--json").stdout)
    assert as_json["pick"]["model"] == "qwen3" and as_json["pick"]["capability_source"] == \
        "benchmark"
    assert "over llama3.3" in as_json["reason"]


def test_tags_of_two_models_are_one_ranking(site, run):
    result = run("tags", "phi4", "qwen3", "--task", "code", "--vram", "16GB", "--ram", "32GB",
                 "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    rows = out["rows"]
    assert out["request"]["models"] == ["phi4", "qwen3"]
    assert out["pick"]["pick"]["model"] in {"phi4", "qwen3"}
    assert {r["model"] for r in rows} == {"phi4", "qwen3"}
    assert len(rows) == len(world.artifacts("phi4")) + len(world.artifacts("qwen3"))
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r["picked"] for r in rows) == 1
    assert all(r["name"].startswith(r["model"] + ":") for r in rows)
    phi = [r for r in rows if r["model"] == "phi4"]
    assert {r["capability_source"] for r in phi} == {"no data"}
    assert phi[0]["capability"]["note"] == "no benchmark data for phi4:14b (code)"
    by = {r["name"]: r for r in rows}
    assert by["qwen3:14b-q4_K_M"]["capability_source"] == "benchmark"
    assert by["qwen3:8b-q4_K_M"]["capability_source"] == "size law"
    table = run("tags", "phi4", "qwen3", "--task", "code", "--vram", "16GB", "--ram", "32GB")
    out = table.stdout
    assert "phi4, qwen3: task code" in out and "qwen3:14b-q4_K_M" in out and "phi4:14b-q8_0" in out
    assert "note: no benchmark data for phi4:14b (code)" in out


def test_a_no_names_fitting_alternatives_of_other_families(site, run):
    result = run("pick", "llama3.3", "--task", "math", "--vram", "8GB", "--ram", "16GB")
    assert result.exit_code == 3
    assert "nothing fits 8.0 GB VRAM + 16.0 GB RAM" in result.stderr
    assert " — instead: " in result.stderr and "LiveBench Mathematics" in result.stderr
    detail = json.loads(run("pick", "llama3.3", "--task", "math", "--vram", "8GB", "--ram",
                            "16GB", "--json").stdout)
    assert detail["answer"] == "no" and detail["name"] is None
    assert detail["target_capability"] == 41.4 and detail["closest"]["model"] == "llama3.3"
    alts = detail["alternatives"]
    assert 1 <= len(alts) <= 3
    for a in alts:
        assert a["model"] != "llama3.3" and a["estimate"]["placement"] != "no"
        assert a["capability"]["value"] >= 41.4 and a["capability_source"] == "benchmark"
        assert a["name"] in result.stderr
    assert [a["score"] for a in alts] == sorted((a["score"] for a in alts), reverse=True)


def test_a_no_without_any_alternative_says_so(site, run):
    # 4 GB of RAM: no measured model with llama3.3's math score (41.4) is small enough
    result = run("pick", "llama3.3", "--task", "math", "--gpu", "none", "--ram", "4GB")
    assert result.exit_code == 3
    assert "no other model with at least llama3.3's math score runs here" in result.stderr
    assert not any("/library/qwen3/" in url for url in site.calls)  # nothing fetched in vain


def test_an_unknown_model_among_several_is_a_bad_request_before_any_download(site, run):
    result = run("pick", "qwen3", "nosuchmodel", "--vram", "24GB", "--ram", "64GB")
    assert result.exit_code == 2
    assert "no model 'nosuchmodel'" in result.stderr and "qwen3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any("/manifests/" in url or "/blobs/" in url for url in site.calls)


def test_an_invalid_name_among_several_fetches_nothing(site, run):
    result = run("tags", "qwen3", "../x", "--vram", "24GB", "--ram", "64GB")
    assert result.exit_code == 2 and "is not a valid Ollama model name" in result.stderr
    assert site.calls == []


def test_the_same_model_twice_is_one(site, run):
    twice = run("tags", "qwen3", "qwen3", "--json", "--vram", "24GB", "--ram", "64GB")
    assert sum(url.endswith("/library/qwen3/tags") for url in site.calls) == 1
    once = run("tags", "qwen3", "--json", "--vram", "24GB", "--ram", "64GB")
    assert json.loads(twice.stdout)["rows"] == json.loads(once.stdout)["rows"]
    with_tag = run("tags", "qwen3", "qwen3:32b", "--json", "--vram", "24GB", "--ram", "64GB")
    assert json.loads(with_tag.stdout)["rows"] == json.loads(once.stdout)["rows"]


def test_size_with_several_models_keeps_those_that_have_it(site, run):
    out = json.loads(run("tags", "qwen3", "llama3.3", "--size", "70b", "--json", "--vram", "52GB",
                         "--ram", "64GB").stdout)
    assert {r["model"] for r in out["rows"]} == {"llama3.3"}
    none = run("pick", "qwen3", "phi4", "--size", "70b", "--vram", "52GB", "--ram", "64GB")
    assert none.exit_code == 2 and "none of qwen3, phi4 has a 70b size" in none.stderr


def test_pull_dry_run_across_models(site, run):
    result = run("pull", "qwen3", "llama3.3", "--task", "code", "--vram", "24GB", "--ram", "64GB",
                 "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "dry run: would pull qwen3:32b-q4_K_M"


def test_sync_pulls_the_winner_of_a_slot(site, run, tmp_path):
    (tmp_path / "config.toml").write_text(
        '[budget]\nvram = "24GB"\nram = "64GB"\n\n[[models]]\nname = ["llama3.3", "qwen3"]\n'
        'task = "code"\n')
    result = run("sync", "--dry-run", "--json")
    rows = json.loads(result.stdout)["rows"]
    assert [r["tag"] for r in rows] == ["qwen3:32b-q4_K_M"]
    assert rows[0]["model"] == "llama3.3, qwen3" and rows[0]["action"] == "pull"
    (tmp_path / "config.toml").write_text('[[models]]\nname = []\n')
    bad = run("sync", "--dry-run")
    assert bad.exit_code == 2 and "a model name or a non-empty list of names" in bad.stderr


def test_capability_scale_keeps_the_single_model_reference_near_one():
    # A model of the reference's size with no data scores like the reference: score ~ quality.
    c = cand("custom:7b-q8_0", "q8_0", 7)
    score.rank([c], "general")
    assert c.score == pytest.approx(c.quality * (1 - 0.1 + 0.1 * 1), rel=1e-6)
    assert math.isclose(capmod.relative(c.cap, "general"), 1.0)



def test_two_names_of_one_download_are_one_row(site, run):
    """`qwen3:8b qwen3:latest` showed qwen3:8b-q4_K_M twice, and pick's runner_up was the pick."""
    budget = ["--vram", "0", "--ram", "64GB"]
    # a bare name and one of its tags: each download once, the tags page read once
    both = json.loads(run("tags", "qwen3:32b", "qwen3", *budget, "--json").stdout)["rows"]
    assert sum(url.endswith("/library/qwen3/tags") for url in site.calls) == 1
    names = [r["name"] for r in both]
    assert len(names) == len(set(names)) == len(world.artifacts("qwen3"))
    out = json.loads(run("tags", "qwen3:8b", "qwen3:latest", *budget, "--json").stdout)
    assert [r["name"] for r in out["rows"]] == ["qwen3:8b-q4_K_M"]
    assert sorted(out["rows"][0]["aliases"]) == ["8b", "latest"]
    answer = json.loads(run("pick", "qwen3:8b", "qwen3:latest", *budget, "--json").stdout)
    assert answer["name"] == "qwen3:8b-q4_K_M" and answer["runner_up"] is None


def test_a_bad_tag_beside_its_bare_name_is_a_bad_request(site, run):
    """`pick qwen3 qwen3:nosuch` dropped the bad tag unseen and answered qwen3:4b-q4_K_M, exit 0."""
    result = run("pick", "qwen3", "qwen3:nosuch", "--vram", "0", "--ram", "64GB")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: qwen3:nosuch is not a tag of qwen3; tags include ")
    assert len(result.stderr.strip().splitlines()) == 1

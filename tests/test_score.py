"""The quality model and the decision: properties, then golden decisions with their reasoning."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_quantpick import score
from ollama_quantpick.budget import Budget
from ollama_quantpick.estimate import Estimate
from ollama_quantpick.planner import Request, plan
from ollama_quantpick.quants import data, lookup, tasks
from ollama_quantpick.release import Release, parse_version
from ollama_quantpick.tagname import parse_model_ref

GB = 10**9
LADDER = ["fp16", "q8_0", "q6_K", "q5_K_M", "q4_K_M", "q3_K_M", "q2_K", "iq2_xxs", "iq1_s"]


@pytest.mark.parametrize("task", tasks())
@pytest.mark.parametrize("params", [0.6, 8, 70])
def test_quality_falls_as_bits_fall(task, params):
    q = [score.quality(lookup(name), params, task) for name in LADDER]
    assert q == sorted(q, reverse=True) and q[0] == 1.0 and 0 < q[-1] < q[0]


@pytest.mark.parametrize("name", LADDER[1:])
def test_math_is_never_less_sensitive_than_chat(name):
    for params in (1, 8, 32, 70):
        assert score.quality(lookup(name), params, "math") <= \
            score.quality(lookup(name), params, "chat")


def test_larger_models_tolerate_quantization_better():
    q = [score.quality(lookup("q3_K_M"), p, "math") for p in (1, 8, 32, 70)]
    assert q == sorted(q)


def test_kv_cache_quantization_costs_quality():
    base = lookup("q4_K_M")
    f16, q8, q4 = (score.quality(base, 8, "math", kv) for kv in ("f16", "q8_0", "q4_0"))
    assert f16 > q8 > q4 and f16 - q8 < 0.005 < f16 - q4


def test_the_research_table_is_reproduced():
    # quant-quality.md §6.7, N = 70B: Q4_K_M math 98.3 %, Q2_K knowledge 92.4 %, IQ2_XXS math 64.8 %
    assert score.quality(lookup("q4_K_M"), 70, "math") == pytest.approx(0.983, abs=0.001)
    assert score.quality(lookup("q2_K"), 70, "general") == pytest.approx(0.924, abs=0.001)
    assert score.quality(lookup("iq2_xxs"), 70, "math") == pytest.approx(0.648, abs=0.001)


def test_unknown_quant_is_rated_from_bits_per_weight():
    """Each condition on its own line: the old single expression (`not rated and A or B`) let
    the second range pass without the `rated` check."""
    q = lookup("q9_Z", bpw=4.9)
    assert not q.rated
    assert q.name == "q9_Z" and "bits per weight" in q.note
    table = data()["quants"]
    points = sorted((v["bpw_file"], v["kld"]) for k, v in table.items()
                    if not k.startswith("iq") and k not in ("q4_0_qat", "mxfp4") and v["kld"] > 0)
    (b0, k0), (b1, k1) = max(p for p in points if p[0] <= 4.9), min(p for p in points if p[0] > 4.9)
    assert min(k0, k1) <= q.kld <= max(k0, k1)  # between its neighbours by bits per weight
    assert q.kld == pytest.approx(k0 + (k1 - k0) * (4.9 - b0) / (b1 - b0))
    assert lookup("q9_Z", bpw=3.5).kld > q.kld > lookup("q9_Z", bpw=6.0).kld  # more bits, less loss


def test_every_task_cites_its_evidence():
    for name, task in data()["tasks"].items():
        assert task["evidence"] and task["m"] > 0 and task["floor_ctx"] >= 2048, name


# ---- decisions on synthetic candidates --------------------------------------------------------

def cand(quant, params, total_gb, placement, tps=None, download=None):
    e = Estimate(8192, "f16", int(total_gb * GB), 0, 0, 0, int(total_gb * GB), 81,
                 81 if placement == "gpu" else 40, placement, 0, 0, tps, "header")
    return score.Candidate(f"m:{params}b-{quant}", lookup(quant), params, None,
                           int((download or total_gb) * GB), e)


def test_a_tag_that_does_not_fit_is_never_picked():
    ranked = score.rank([cand("q8_0", 8, 9, "no"), cand("q2_K", 8, 3, "gpu")], "general")
    assert ranked[0].name == "m:8b-q2_K" and ranked[0].picked and not ranked[1].picked
    assert not any(c.picked for c in score.rank([cand("q8_0", 8, 9, "no")], "general"))


def test_gpu_beats_split_unless_quality_is_preferred():
    c = [cand("q8_0", 8, 9, "split"), cand("q4_K_M", 8, 5, "gpu")]
    assert score.rank(c, "math")[0].quant.name == "q4_K_M"
    assert score.rank(c, "math", prefer="quality")[0].quant.name == "q8_0"


def test_prefer_speed_takes_the_fastest_close_enough():
    c = [cand("q8_0", 8, 9, "gpu", tps=60), cand("q4_K_M", 8, 5, "gpu", tps=100)]
    assert score.rank(c, "chat", prefer="balanced")[0].quant.name == "q8_0"
    assert score.rank(c, "chat", prefer="speed")[0].quant.name == "q4_K_M"


def bounded(quant, params, placement, bound):
    """A candidate whose GPU bandwidth is unknown: only an upper bound on its speed (the CPU part
    alone), or none at all when it runs wholly on that GPU."""
    c = cand(quant, params, 40, placement)
    c.estimate.tokens_per_s_max = bound
    return c


@pytest.mark.parametrize("prefer", ["balanced", "speed"])
def test_an_unknown_speed_scores_no_better_than_its_upper_bound(prefer):
    known, unknown = cand("q4_K_M", 70, 40, "split", tps=2.8), bounded("q4_K_M", 70, "split", 2.8)
    score.rank([known], "chat", prefer, min_speed=2.65)
    score.rank([unknown], "chat", prefer, min_speed=2.65)
    assert unknown.score == pytest.approx(known.score)
    # split, GPU bandwidth unknown: q8_0 at most 2.7 t/s loses to q3_K_M at most 6 t/s, as it
    # does when the two speeds are known
    slow, fast = bounded("q8_0", 70, "split", 2.7), bounded("q3_K_M", 70, "split", 6.0)
    assert score.rank([slow, fast], "chat", prefer, min_speed=2.65)[0] is fast
    slow, fast = cand("q8_0", 70, 75, "split", tps=2.7), cand("q3_K_M", 70, 34, "split", tps=6.0)
    assert score.rank([slow, fast], "chat", prefer, min_speed=2.65)[0] is fast


def test_a_tag_wholly_on_an_unknown_gpu_keeps_the_full_speed_term():
    whole = bounded("q4_K_M", 8, "gpu", None)
    score.rank([whole], "chat")
    assert whole.score == pytest.approx(whole.merit)


def test_too_slow_is_dropped_when_speed_is_known():
    c = [cand("q8_0", 70, 75, "cpu", tps=0.8), cand("q4_K_M", 8, 5, "cpu", tps=12)]
    assert score.rank(c, "general", min_speed=5)[0].quant.name == "q4_K_M"


def test_ties_go_to_the_smaller_download():
    a, b = cand("q4_K_M", 8, 5, "gpu", download=5.2), cand("q4_K_M", 8, 5, "gpu", download=4.9)
    a.name, b.name = "big", "small"
    assert score.rank([a, b], "general")[0].name == "small"


def _at_score(target, name, download):
    """A chat candidate (8B q4_K_M on the GPU) whose speed puts its score at `target`."""
    lo, hi = 2.65, 5.3
    for _ in range(80):
        c = cand("q4_K_M", 8, 5, "gpu", tps=(lo + hi) / 2, download=download)
        score.rank([c], "chat")
        lo, hi = ((lo + hi) / 2, hi) if c.score < target else (lo, (lo + hi) / 2)
    c = cand("q4_K_M", 8, 5, "gpu", tps=hi, download=download)
    c.name = name
    return c


@pytest.mark.parametrize("top", [0.8010, 0.80149, 0.80151, 0.8035, 0.8045, 0.8049])
@pytest.mark.parametrize("ahead", [0.000001, 0.0004, 0.00099])
def test_a_larger_download_less_than_a_tenth_of_a_percent_ahead_loses_to_the_smaller(top, ahead):
    """'ties (within 0.1 %) go to the smaller download' relative to the score, wherever the two
    scores fall (rounding buckets split 0.0001 % apart and joined 0.124 % apart), in any order."""
    big, small = _at_score(top, "big", 9), _at_score(top / (1 + ahead), "small", 7)
    assert [c.name for c in score.rank([big, small], "chat")] == ["small", "big"]
    assert 0 <= big.score / small.score - 1 <= ahead * 1.01 and big.score == pytest.approx(top)
    assert [c.name for c in score.rank([small, big], "chat")] == ["small", "big"]


@pytest.mark.parametrize("top", [0.8010, 0.8035, 0.8045, 0.8049])
def test_more_than_a_tenth_of_a_percent_ahead_wins_despite_the_larger_download(top):
    big, small = _at_score(top, "big", 9), _at_score(top / 1.0012, "small", 7)
    assert [c.name for c in score.rank([small, big], "chat")] == ["big", "small"]
    assert big.score / small.score == pytest.approx(1.0012)
    assert [c.name for c in score.rank([big, small], "chat")] == ["big", "small"]


def test_a_tie_moves_the_smaller_tag_ahead_only_of_the_one_above_it():
    """Three within 0.1 % of their neighbours, not of each other: each smaller one passes only
    the one it ties with; the order does not depend on the input order."""
    a, b, c = (_at_score(0.8040, "a", 9), _at_score(0.8040 / 1.0006, "b", 8),
               _at_score(0.8040 / 1.0012, "c", 7))
    first = [x.name for x in score.rank([a, b, c], "chat")]
    assert first == [x.name for x in score.rank([c, b, a], "chat")]
    assert first == [x.name for x in score.rank([b, c, a], "chat")]
    assert first[0] in "bc" and first.index("b") < first.index("a")


def test_a_larger_model_at_lower_quant_beats_a_smaller_one_except_for_math_at_low_bits():
    # research §4: 70B vs 8B@Q8_0 crosses over near IQ2_M for math, IQ2_XXS for knowledge
    small, big = cand("q8_0", 8, 9, "gpu"), cand("iq2_xs", 70, 20, "gpu")
    assert score.rank([small, big], "general")[0].params_b == 70
    assert score.rank([small, big], "math")[0].params_b == 8


# ---- properties of the whole decision on real tag lists ----------------------------------------

def pick(site_budget_vram, ram=64, task="math", model="llama3.3", ctx=8192):
    budget = Budget([site_budget_vram] if site_budget_vram else [], int(ram * GB),
                    "cuda" if site_budget_vram else "cpu", None, 51.2)
    req = Request(parse_model_ref(model), budget, task=task, ctx=ctx, min_speed=None)
    return plan(req)


SHARED_SITE = settings(max_examples=20, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])


def goodness(result):
    """How good a pick is: placement class first (gpu > split > cpu), then score."""
    c = result.choice.pick
    return (-score.PLACEMENT_ORDER[c.estimate.placement], round(c.score, 6))


@SHARED_SITE
@given(st.integers(min_value=20, max_value=160), st.integers(min_value=1, max_value=40))
def test_more_vram_never_yields_a_worse_pick(site, vram_gb, extra_gb):
    low, high = pick(vram_gb * GB), pick((vram_gb + extra_gb) * GB)
    if low.choice:
        assert high.choice is not None and goodness(high) >= goodness(low)


@SHARED_SITE
@given(st.integers(min_value=4_000, max_value=160_000))
def test_the_pick_is_stable_when_the_budget_changes_by_a_byte(site, vram_mb):
    a, b = pick(vram_mb * 10**6), pick(vram_mb * 10**6 + 1)
    assert (a.choice and a.choice.pick.name) == (b.choice and b.choice.pick.name)


# ---- golden decisions: real tag lists, the four standard budgets --------------------------------

@pytest.mark.parametrize("model,task,vram,ram,ctx,expected,why", [
    ("llama3.3@0.15.5", "math", 52, 64, 8192, "llama3.3:70b-instruct-q4_K_M",
     "legacy estimate: q4_K_M is the best quality that fits fully in 52 GB at 8K; q5_K_M (49.9 GB) "
     "needs a split"),
    ("llama3.3", "math", 52, 64, 8192, "llama3.3:70b-instruct-q5_K_S",
     "llama-server's fit: q5_K_S (48.7 GB, token_embd on the CPU) fits fully in 52 GB at 8K with "
     "its 1 GiB margin; q5_K_M (49.9 GB) needs a split"),
    ("qwen3", "code", 24, 64, None, "qwen3:32b-q4_K_M",
     "24 GB: 32B q4_K_M (19.8 GB) fits fully at 4K; the 32B's capability beats 14B q8_0"),
    ("qwen3", "math", 16, 32, None, "qwen3:14b-q4_K_M",
     "16 GB: 14B q4_K_M fits fully; 14B q8_0 (15.7 GB) needs a split; 32B needs RAM and is slow"),
    ("qwen3", "chat", 8, 16, None, "qwen3:8b-q4_K_M",
     "8 GB: 8B q4_K_M (5 GB) fits fully; 8B q8_0 (8.7 GB) does not"),
    ("qwen3", "general", 0, 32, None, "qwen3:30b-a3b-q4_K_M",
     "CPU only, 32 GB: the MoE reads only 3B active params per token, so it is fast on CPU, and "
     "30B of capability beats 8B; its q8_0 (32.5 GB) does not fit in RAM"),
    ("phi4", "code", 16, 8, None, "phi4:14b-q4_K_M",
     "16 GB: q4_K_M (8.9 GB) fits fully; q8_0 (15.7 GB) with graph and overhead does not"),
])
def test_golden_decisions(site, model, task, vram, ram, ctx, expected, why):
    budget = Budget([vram * GB] if vram else [], ram * GB, "cuda" if vram else "cpu", None, 51.2)
    model, _, version = model.partition("@")
    release = Release(parse_version(version), "flag") if version else Release()
    req = Request(parse_model_ref(model), budget, task=task, ctx=ctx,
                  min_speed=data()["speed"]["read_tok_s"], release=release)
    result = plan(req)
    assert result.choice is not None, why
    assert result.choice.pick.name == expected, why


def test_cli_task_list_matches_the_data_file():
    from ollama_quantpick.commands.common import TASKS

    assert set(TASKS) == set(tasks())


# ---- reasons, near misses and the context choice --------------------------------------------

def test_the_reason_names_what_decided():
    q4, q8 = cand("q4_K_M", 8, 5, "gpu", tps=90), cand("q8_0", 8, 9, "gpu", tps=60)
    ranked = score.rank([q4, q8], "code")
    reason, decided = score.explain(ranked, "code", "24 GB")
    assert decided == "quality" and reason.startswith("8B q8_0: best code quality; runs fully")
    big = cand("q8_0", 8, 30, "no")
    reason, decided = score.explain(score.rank([q4, big], "code"), "code", "24 GB")
    assert decided == "fit" and "q8_0 would need 30.0 GB" in reason and "best code" not in reason
    split = cand("q8_0", 8, 9, "split", tps=4.1)
    reason, decided = score.explain(score.rank([q4, split], "code"), "code", "24 GB")
    assert decided == "fit" and "q8_0 would be split 40/81 at 4.1 t/s" in reason
    slow = cand("q8_0", 8, 9, "gpu", tps=2.0)
    reason, decided = score.explain(score.rank([q4, slow], "code", min_speed=2.65), "code", "24 GB",
                                    2.65)
    assert decided == "speed" and "below the 2.65 t/s minimum" in reason


def test_the_reason_names_the_better_tag_that_fits_before_one_that_does_not():
    """A tag that cannot fit, with merit between the pick's and a slower one's that fits, does
    not turn 'chosen for speed' into 'best that fits': the pick beat the one that fits on speed."""
    pick, slower = cand("q4_K_M", 4, 3, "cpu", tps=12), cand("q8_0", 4, 5, "cpu", tps=8.9)
    big = cand("q4_0", 70, 43, "no")
    big.name = "llama3.3:70b-instruct-q4_0"
    ranked = score.rank([slower, big, pick], "code")
    pick.merit, big.merit, slower.merit = 1.0, 1.002, 1.02  # as LiveBench has it in the fixtures
    reason, decided = score.explain(ranked, "code", "CPU only")
    assert ranked[0] is pick and decided == "speed"
    assert "4B q4_K_M: chosen for speed" in reason and "q8_0 would run at 8.9 t/s" in reason
    assert "would need" not in reason
    # with no better tag that fits, the one that does not is named, with its model
    reason, decided = score.explain([pick, big], "code", "CPU only")
    assert decided == "fit" and "; llama3.3 70B q4_0 would need 43.0 GB" in reason


def test_a_tag_of_another_model_is_named_with_its_model():
    pick, other = cand("q4_K_M", 8, 5, "gpu", tps=60), cand("q8_0", 8, 9, "split", tps=4.1)
    other.name = "llama3.1:8b-instruct-q8_0"
    ranked = score.rank([pick, other], "code")
    other.merit = pick.merit * 1.1
    reason, _ = score.explain(ranked, "code", "24 GB")
    assert "; llama3.1 8B q8_0 would be split 40/81 at 4.1 t/s" in reason


def test_balanced_stops_trading_quality_for_speed_past_reading_speed():
    assert score.comfort(5.3, "chat") == 1.0 and score.comfort(30, "chat") == 1.0
    assert score.comfort(2.65, "chat") == 0.0 and 0 < score.comfort(4, "chat") < 1
    assert score.comfort(5.3, "code") < 1.0 == score.comfort(10.6, "code")
    # 8B q8_0 at 20 t/s beats 8B q4_K_M at 40 t/s for chat: both faster than one reads
    ranked = score.rank([cand("q4_K_M", 8, 5, "gpu", tps=40), cand("q8_0", 8, 9, "gpu", tps=20)],
                        "chat")
    assert ranked[0].quant.name == "q8_0"


def test_the_tag_to_consider_keeps_the_task_and_is_the_cheapest_that_does():
    ranked = score.rank([cand("q2_K", 70, 28, "no"), cand("q4_K_M", 70, 45, "no"),
                         cand("q3_K_M", 70, 36, "no"), cand("q8_0", 70, 78, "no")], "math")
    c = score.to_consider(ranked)
    assert c.quant.name == "q4_K_M" and c.quality >= score.KEEPS  # q3_K_M keeps < 97 % of math
    message = score.nothing_fits(ranked, "24 GB")
    assert "the one to consider, m:70b-q4_K_M, needs 45.0 GB at 8K context" in message
    assert score.to_consider(score.rank(ranked, "general")).quant.name == "q3_K_M"


def opt(ctx, *cands, kv="f16", base=False):
    settings = {} if base else {"OLLAMA_CONTEXT_LENGTH": str(ctx)}
    return score.Option(ctx, kv, score.rank(list(cands), "code"), settings,
                        None if base else f"set OLLAMA_CONTEXT_LENGTH={ctx}")


def test_a_smaller_context_is_suggested_only_for_a_better_tag_on_the_gpu():
    base = opt(32768, cand("q4_K_M", 14, 19, "gpu", tps=60), cand("q4_K_M", 32, 29, "split", tps=9),
               base=True)
    same = opt(8192, cand("q4_K_M", 14, 18, "gpu", tps=65))
    dense = opt(8192, cand("q4_K_M", 32, 22, "gpu", tps=36))
    kept = score.best_option(base, [same], "code", "balanced", 2.65, "24 GB", 32768)
    assert kept.ctx == 32768 and kept.decided != "context" and not kept.settings
    moved = score.best_option(base, [same, dense], "code", "balanced", 2.65, "24 GB", 32768)
    assert moved.pick.params_b == 32 and moved.ctx == 8192 and moved.decided == "context"
    assert moved.settings == {"OLLAMA_CONTEXT_LENGTH": "8192"}
    assert "at 32K with an f16 KV cache m:14b-q4_K_M would run fully on the GPU" in moved.reason
    # a tag only a little better is not worth leaving Ollama's context for
    tiny = opt(8192, cand("q4_K_M", 14, 18, "gpu", tps=65))
    assert score.best_option(opt(32768, cand("q4_K_S", 14, 19, "gpu", tps=60), base=True), [tiny], "code",
                        "balanced", 2.65, "24 GB", 32768).ctx == 32768
    # nothing at the default: the first alternative that picks anything, split or not
    none = opt(32768, cand("q4_K_M", 70, 60, "no"), base=True)
    rescue = score.best_option(none, [opt(8192, cand("q2_K", 70, 26, "split", tps=6))], "code",
                          "balanced", 2.65, "24 GB", 32768)
    assert rescue.pick.quant.name == "q2_K" and rescue.ctx == 8192

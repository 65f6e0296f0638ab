"""The estimator, pure: no I/O beyond parsing generated headers."""

import pytest

import world
from ollama_quantpick import estimate as est
from ollama_quantpick.budget import Budget, GiB
from ollama_quantpick.quants import lookup

GB = 10**9


def arch(model="llama3.3", size="70b", quant="q4_K_M"):
    return world.header_info(model, size, quant)


def budget(vram_gb=0.0, ram_gb=64.0, gpus=1, backend="cuda", bw=None):
    free = [int(vram_gb * GB / gpus)] * gpus if vram_gb else []
    return Budget(free, int(ram_gb * GB), backend if free else "cpu", bw, 51.2)


def run(b, ctx=8192, quant="q4_K_M", kv="f16", model="llama3.3", size="70b", parallel=1):
    a = world.Artifact(model, size, quant, [])
    return est.estimate(arch(model, size, quant), lookup(quant), b, model_bytes=a.model_bytes,
                        projector_bytes=sum(x["size"] for x in a.layers
                                            if "projector" in x["mediaType"]),
                        ctx=ctx, kv_cache=kv, parallel=parallel)


def test_llama_70b_kv_cache_is_exact():
    e = run(budget(64))
    assert e.kv_bytes == 2 * 80 * 8 * 128 * 8192 * 2  # the figure Ollama logs (ollama#9181)
    assert e.placement == "gpu" and e.gpu_layers == e.layers == 81


def test_llama_70b_q4_K_M_in_vram_matches_the_published_figure():
    # research seed table: Llama 3.3 70B Q4_K_M ≈ 46 GB in VRAM (context not stated); within 5 %
    e = run(budget(64), ctx=8192)
    assert e.vram_bytes == pytest.approx(46 * GB, rel=0.05)


def test_split_on_a_24_gb_card():
    e = run(budget(24))
    assert e.placement == "split" and 30 < e.gpu_layers < 45
    assert e.vram_bytes <= 24 * GB and e.ram_bytes > 15 * GB


def test_cpu_and_no():
    assert run(budget(0, 64)).placement == "cpu"
    e = run(budget(0, 16))
    assert e.placement == "no" and e.short_bytes == e.ram_bytes - 16 * GB > 0


def test_quantized_kv_cache_halves_and_quarters():
    f16, q8, q4 = (run(budget(64), kv=k).kv_bytes for k in ("f16", "q8_0", "q4_0"))
    assert q8 * 2 == f16 and q4 * 4 == f16


def test_parallel_multiplies_the_context():
    assert run(budget(64), parallel=2).kv_bytes == 2 * run(budget(64)).kv_bytes


def test_gemma3_sliding_window_layers_are_capped():
    a = arch("gemma3", "27b")
    kv = est.kv_per_layer(a, 32768, "f16")
    full = 32768 * 256 * 16 * 2
    window = (1024 + 512) * 256 * 16 * 2
    assert kv[5] == full and kv[0] == window and kv.count(full) == 62 // 6


def test_gpt_oss_even_layers_use_a_4096_window():
    a = arch("gpt-oss", "20b", "mxfp4")
    kv = est.kv_per_layer(a, 65536, "f16")
    assert kv[1] == 65536 * 128 * 8 * 2 and kv[0] == (4096 + 512) * 128 * 8 * 2


def test_vision_models_need_at_least_2048_context():
    assert run(budget(64), ctx=512, model="gemma3", size="4b").ctx == 2048


def test_several_gpus_share_the_layers_and_each_pays_its_overhead():
    one = run(budget(48, gpus=1), ctx=2048)
    two = run(budget(48, gpus=2), ctx=2048)
    assert one.placement == two.placement == "gpu"
    # the partial graph on each GPU, and the totals count what each GPU is charged
    assert two.graph_bytes == 2 * est.graph_size(arch(), 2048, two.kv_bytes)[0]
    assert two.total_bytes == two.vram_bytes + two.ram_bytes
    assert [d.layers for d in two.devices] == [41, 40] and sum(d.bytes for d in two.devices) \
        == two.vram_bytes
    assert two.vram_bytes > one.vram_bytes  # minimum memory, buffer layer and graph per GPU
    # at 8K the second GPU's overhead tips it into a split, where one 48 GB card holds it all
    assert run(budget(48, gpus=1)).placement == "gpu"
    assert run(budget(48, gpus=2)).placement == "split"


@pytest.mark.parametrize("vram,expected", [(8, 4096), (22.9, 4096), (23, 32768), (46.9, 32768),
                                           (47, 262144), (96, 262144)])
def test_default_context_follows_ollamas_vram_ladder(vram, expected):
    # v0.15.5+ (0334ffa62): total VRAM − overhead ≥ 47 GiB → 256K, ≥ 23 GiB → 32K
    assert est.default_ctx(int(vram * GiB), None) == expected
    assert est.default_ctx(int(vram * GiB), 16384) == min(expected, 16384)


def test_speed_is_bandwidth_over_bytes_per_token():
    from ollama_quantpick.speed import constants

    c = constants()
    e = run(budget(64, bw=1000))
    # the layers, the output layer and half the allocated KV window are read per token, plus
    # CUDA's fixed cost; token_embd is a one-row lookup, not read whole
    a = arch()
    assert a.token_embd_bytes > 0 and not a.output_tied
    read = sum(a.layer_bytes) + a.output_bytes + c["kv_read_fraction"] * e.kv_bytes
    cuda = c["backend"]["cuda"]
    expected = 1 / (cuda["t_fixed_ms"] / 1000 + read / (cuda["eta"] * 1000e9 * lookup("q4_K_M").k_speed))
    assert e.tokens_per_s == pytest.approx(expected)
    assert run(budget(64)).tokens_per_s is None  # unknown GPU bandwidth: no figure


def test_moe_speed_counts_active_experts_only():
    b = budget(64, bw=1000)
    dense = run(b, model="qwen3", size="32b")
    moe = run(b, model="qwen3", size="30b-a3b")
    assert moe.tokens_per_s > 4 * dense.tokens_per_s


def test_fallback_arch_is_llama_shaped():
    a = est.fallback_arch(70, 42 * GB)
    assert a.block_count == 80 and a.embedding_length == 8192
    assert sum(a.layer_bytes) + a.output_bytes == pytest.approx(42 * GB, rel=0.01)


def test_scaled_sibling_keeps_the_shape():
    a = arch()
    bigger = est.scale_arch(a, 2 * (a.tensor_bytes + a.header_bytes))
    assert bigger.block_count == a.block_count
    assert sum(bigger.layer_bytes) == pytest.approx(2 * sum(a.layer_bytes), rel=1e-6)


def test_a_scaled_sibling_scales_every_tensor_size():
    """Every tensor-size field of the header grows with the blob (gate_exps_bytes, which the
    legacy Mixtral graph reads, was left at the reference quant's size); the header's own size
    and the per-type mix are not tensor sizes of this blob."""
    from dataclasses import fields, replace

    a = replace(arch(), gate_exps_bytes=3 * 2**20, expert_bytes=9 * 2**20)
    k = 2
    bigger = est.scale_arch(a, k * (a.tensor_bytes + a.header_bytes))
    for f in fields(a):
        if not f.name.endswith("_bytes") or f.name in ("header_bytes", "type_bytes"):
            continue
        old, new = getattr(a, f.name), getattr(bigger, f.name)
        if isinstance(old, list):
            assert new == [int(x * k) for x in old], f.name
        else:
            assert new == int(old * k), f.name

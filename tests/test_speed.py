"""The speed model against published llama.cpp runs, and its parts."""

from pathlib import Path

import pytest

import world
from ollama_quantpick.budget import Budget
from ollama_quantpick.quants import lookup
from ollama_quantpick.speed import bytes_per_token, constants, cpu_factor, tokens_per_s

GB = 10**9


def bench():
    return world.load_module(Path(__file__).parent.parent / "bench" / "speed.py", "bench_speed")


def test_median_error_against_published_runs_is_within_15_percent():
    b = bench()
    rows, summary = b.table()
    assert len(rows) >= 10 and all(r.source.startswith("https://") for r, _, _ in rows)
    assert summary["all"] <= 0.15 and summary["held_out"] <= 0.15
    # the anchor: a 4090 reaches ~0.9 of peak on F16 (54.8 t/s on Llama-3 8B)
    f16 = next(p for r, p, _ in rows if r.hardware == "RTX 4090" and r.quant == "fp16")
    assert 49 < f16 < 60


def test_only_half_the_allocated_kv_is_read_per_token():
    assert bytes_per_token(10 * GB, 4 * GB) == pytest.approx(10 * GB + 4 * GB * 0.5)
    assert constants()["kv_read_fraction"] == 0.5


def test_cpu_factors_come_from_cpu_measurements():
    assert cpu_factor(lookup("q8_0")) == 1.0 and cpu_factor(lookup("fp16")) == 1.0
    assert cpu_factor(lookup("q4_0")) == pytest.approx(0.8)
    assert cpu_factor(lookup("iq4_xs")) < cpu_factor(lookup("q4_K_M"))
    # the CPU does not use the GPU kernel table: q8_0 reads as fast as F16 there
    cpu = Budget([], 64 * GB, "cpu", None, 51.2)
    q8, _ = tokens_per_s(0, 8 * GB, lookup("q8_0"), cpu)
    f16, _ = tokens_per_s(0, 8 * GB, lookup("fp16"), cpu)
    assert q8 == pytest.approx(f16)


def test_a_split_is_slower_than_either_device_would_suggest_and_apple_cpu_is_slower():
    b = Budget([24 * GB], 64 * GB, "cuda", 1008, 51.2)
    q = lookup("q4_K_M")
    gpu, _ = tokens_per_s(40 * GB, 0, q, b)
    split, _ = tokens_per_s(30 * GB, 10 * GB, q, b)
    assert split < gpu / 3  # the CPU part dominates
    mac = Budget([96 * GB], 32 * GB, "metal", 400, 400)
    pc = Budget([96 * GB], 32 * GB, "cuda", 400, 400)
    assert tokens_per_s(0, 10 * GB, q, mac)[0] < tokens_per_s(0, 10 * GB, q, pc)[0]


def test_unknown_gpu_bandwidth_gives_only_a_bound():
    b = Budget([24 * GB], 64 * GB, "cuda", None, 51.2)
    tps, bound = tokens_per_s(20 * GB, 5 * GB, lookup("q4_K_M"), b)
    assert tps is None and bound == pytest.approx(tokens_per_s(0, 5 * GB, lookup("q4_K_M"), b)[0])


@pytest.mark.parametrize("gpu,vram", [("none", None), ("auto", 0)])
def test_an_apple_cpu_is_as_slow_with_the_gpu_left_out(gpu, vram):
    """--gpu none and --vram 0 leave the CPU alone, but it is still Apple's: its cores draw ~0.55
    of the chip's bandwidth (data/speed.toml eta_apple), not a PC's 0.85. M3 Max (400 GB/s),
    4 GB of q4_0 read per token on the CPU: ~44 t/s whether or not the GPU is planned for."""
    from ollama_quantpick.budget import GiB
    from ollama_quantpick.hardware import GPU, Hardware, make_budget

    hw = Hardware([GPU("apple", "Apple M3 Max", int(28 * GiB), int(28 * GiB), 400.0, "metal")],
                  36 * GiB, 30 * GiB)
    q = lookup("q4_0")
    with_gpu = make_budget(hw, gpu="auto", env={})
    without = make_budget(hw, gpu=gpu, vram=vram, env={})
    assert without.backend == "cpu" and without.cpu_bandwidth_gbps == 400.0
    alone, _ = tokens_per_s(0, 4e9, q, without)
    assert alone == pytest.approx(tokens_per_s(0, 4e9, q, with_gpu)[0])
    assert alone == pytest.approx(1 / (4e9 / (0.55 * 400e9 * 0.8)))
    pc = make_budget(Hardware([], 36 * GiB, 30 * GiB), gpu="none", env={})
    assert pc.cpu_apple is False and make_budget(hw, gpu="auto", env={}).cpu_apple is True

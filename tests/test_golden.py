"""Golden decisions: budget x model x task -> the tag an expert would pull, with why.

Each case runs `quantpick pick` (or `pull --dry-run`) through the CLI against the fake ollama.com
and registry (real tag lists and GGUF shapes), predicting the newest Ollama release quantpick
knows. The rationale is the one-line argument an expert would sign; the figures in it are the
model's (memory from the estimator, speed from docs/speed.md).
`python bench/golden.py` prints this table for bench/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    expected: str | None  # the tag printed; None: the answer is "no" (exit 3)
    why: str
    says: tuple[str, ...] = ()  # phrases the reason or note must contain

    @property
    def id(self) -> str:
        return " ".join(self.args)


CASES = [
    # -- the seed cases and Done-when checks --
    Case(("pick", "qwen3", "--task", "code", "--gpu", "RTX 4090", "--ram", "64GB"),
         "qwen3:32b-q4_K_M",
         "24 GB at Ollama's 32K: 32B q4_K_M does not fit with an f16 cache, but a q8_0 cache halves "
         "the KV (4.3 GB) and the 32B's coding beats 14B q8_0 and the 3B-active MoE",
         ("OLLAMA_KV_CACHE_TYPE=q8_0", "32K context")),
    Case(("pick", "phi4", "--task", "code", "--vram", "16GB", "--ram", "32GB"), "phi4:14b-q4_K_M",
         "16 GB: q4_K_M (8.9 GB) fits with 8K of KV; q8_0 (15.6 GB) plus KV and CUDA overhead "
         "would be split", ("q8_0 would be split", "OLLAMA_CONTEXT_LENGTH=8192")),
    Case(("pick", "qwen3", "--task", "chat", "--gpu", "none", "--ram", "32GB"),
         "qwen3:30b-a3b-q4_K_M",
         "CPU only, 32 GB: the MoE reads ~3B active weights per token (~17 t/s) with 30B of "
         "knowledge; dense 32B would crawl at <2 t/s", ("runs on the CPU",)),
    Case(("pick", "llama3.3", "--task", "chat", "--gpu", "M3 Max", "--ram", "128GB"),
         "llama3.3:70b-instruct-q4_K_S",
         "M3 Max 128 GB: Metal gets 84 % (107.5 GiB), 70B q4 at the 128K default runs ~5 t/s "
         "(measured 7.5 t/s at short context); q4_K_S and q4_K_M are within 0.3 % quality, the "
         "faster wins", ("runs fully on the GPU", "128K context")),
    Case(("pick", "qwen3", "--task", "chat", "--gpu", "none", "--ram", "16GB"), "qwen3:8b-q8_0",
         "CPU only, 16 GB: 8B q8_0 (8.7 GB) reads at ~5 t/s, reading speed; 14B q4_K_M would be "
         "3.7 t/s, slower than one reads; 30B-A3B needs 18 GB", ("runs on the CPU",)),
    Case(("pull", "phi4", "--dry-run", "--gpu", "none", "--ram", "24GB"), "phi4:14b-q4_K_M",
         "CPU only, 24 GB: 14B q4_K_M at ~3.9 t/s is above half reading speed (2.65), the README's "
         "first command must not answer no", ()),
    # -- NVIDIA cards by name --
    Case(("pick", "qwen3", "--task", "chat", "--gpu", "RTX 4060", "--ram", "16GB"),
         "qwen3:8b-q4_K_M",
         "8 GB card: 8B q4_K_M (5.2 GB) fully on the GPU at ~40 t/s; q8_0 (8.7 GB) would spill "
         "to the CPU", ("q8_0 would be split",)),
    Case(("pick", "qwen3", "--task", "math", "--gpu", "RTX 4060 Laptop", "--ram", "16GB"),
         "qwen3:8b-q4_K_M",
         "qwen3 thinks at length: math needs a 32K window (Qwen3 card), so the note raises the "
         "context and a q8_0 KV cache keeps the 8B fully on the 8 GB GPU instead of the 4B",
         ("OLLAMA_CONTEXT_LENGTH=32768", "OLLAMA_KV_CACHE_TYPE=q8_0")),
    Case(("pick", "phi4", "--task", "code", "--gpu", "RTX 3060", "--ram", "32GB"),
         "phi4:14b-q4_K_M",
         "12 GB: q4_K_M plus 8K of KV fits; q8_0 would be split at ~7 t/s", ("8K context",)),
    Case(("pick", "phi4", "--task", "math", "--gpu", "RTX 4070", "--ram", "32GB"),
         "phi4:14b-q4_K_M",
         "12 GB: math needs 8K, above Ollama's 4K default below 23 GiB: q4_K_M fits with the "
         "setting said", ("OLLAMA_CONTEXT_LENGTH=8192",)),
    Case(("pick", "gemma3", "--task", "chat", "--gpu", "RTX 4090", "--ram", "64GB"),
         "gemma3:27b-it-q4_K_M",
         "24 GB at 32K: gemma3's sliding-window layers keep the KV small, so 27B q4 fits fully; "
         "q8_0 (28 GB) cannot", ("32K context",)),
    Case(("pick", "gemma3", "--task", "math", "--gpu", "RTX 3090", "--ram", "64GB"),
         "gemma3:27b-it-q4_K_M", "24 GB: as on the 4090, the 27B at q4 is the most math that fits",
         ()),
    Case(("pick", "qwen3", "--task", "code", "--gpu", "RTX 5090", "--ram", "64GB"),
         "qwen3:32b-q4_K_M",
         "32 GB at 32K: 32B q4_K_M fits with the full f16 cache, no setting needed; q8_0 (35 GB) "
         "cannot", ("32K context",)),
    Case(("pick", "qwen3", "--task", "code", "--gpu", "2x RTX 3090", "--ram", "64GB"),
         "qwen3:32b-q8_0",
         "48 GB over two cards: 32B q8_0 (35 GB) fits at the model's 40K context, ~21 t/s; "
         "quality decided", ("best code quality",)),
    Case(("pick", "qwen3", "--task", "reasoning", "--gpu", "RTX 4090", "--ram", "64GB"),
         "qwen3:32b-q4_K_M",
         "thinking model: reasoning at 32K, which a q8_0 cache makes room for on 24 GB",
         ("OLLAMA_KV_CACHE_TYPE=q8_0",)),
    Case(("pick", "llama3.3", "--task", "chat", "--gpu", "2x RTX 3090", "--ram", "64GB"),
         "llama3.3:70b-instruct-q4_K_M",
         "48 GB: nothing 70B fits at the 128K default; at 16K q4_K_M runs fully on the GPUs at "
         "~16 t/s (measured 16.3)", ("OLLAMA_CONTEXT_LENGTH=16384",)),
    Case(("pick", "llama3.3", "--task", "reasoning", "--gpu", "A100 80GB", "--ram", "128GB"),
         "llama3.3:70b-instruct-q6_K",
         "80 GB: at 128K only q4_K_S fits; 64K (ample for reasoning) lets q6_K, 1 % better, run "
         "fully on the GPU — not shrunk to 8K", ("OLLAMA_CONTEXT_LENGTH=65536",)),
    Case(("pick", "llama3.3", "--task", "math", "--gpu", "H100", "--ram", "128GB"),
         "llama3.3:70b-instruct-q6_K",
         "80 GB at 128K: a q8_0 KV cache (21 GB instead of 43) lets q6_K keep the whole window",
         ("OLLAMA_KV_CACHE_TYPE=q8_0",)),
    Case(("pick", "gpt-oss", "--task", "chat", "--gpu", "RTX 4060 Ti", "--vram", "16GiB",
          "--ram", "32GB"), "gpt-oss:20b",
         "16 GB variant of the card: the one local tag, native MXFP4, fits", ()),
    # -- AMD and Apple --
    Case(("pick", "llama3.3", "--task", "chat", "--gpu", "RX 7900 XTX", "--ram", "64GB"),
         "llama3.3:70b-instruct-q2_K",
         "24 GB: only q2_K keeps a split 70B above 2.65 t/s (~3 t/s); the reason says q3_K_S "
         "would be slower than the minimum", ("below the 2.65 t/s minimum",)),
    Case(("pick", "llama3.3", "--task", "chat", "--gpu", "M2 Max", "--ram", "64GB"),
         "llama3.3:70b-instruct-q4_K_M",
         "64 GB Mac (81 % = 51.8 GiB to Metal): at the 128K default nothing fits; at 32K q4_K_M "
         "runs fully on the GPU at ~6.5 t/s", ("OLLAMA_CONTEXT_LENGTH=32768",)),
    Case(("pick", "gemma3", "--task", "chat", "--gpu", "M4", "--ram", "16GB"),
         "gemma3:4b-it-q8_0",
         "16 GB Mac (74 % = 11.8 GiB to Metal): 27B needs 19 GB; the 4B at q8_0 fits with room",
         ("27B q4_0_qat would need",)),
    Case(("pick", "qwen3", "--task", "chat", "--gpu", "M1", "--ram", "8GB"), "qwen3:8b-q4_K_M",
         "8 GB Mac: 5.9 GiB to Metal; a q8_0 KV cache makes room for 8B q4_K_M (5.2 GB) instead "
         "of 4B q8_0", ("OLLAMA_KV_CACHE_TYPE=q8_0",)),
    Case(("pick", "qwen3", "--task", "chat", "--gpu", "none", "--ram", "8GB"), "qwen3:8b-q4_K_M",
         "CPU only, 8 GB: 8B q4_K_M (5.2 GB) at ~7 t/s; q8_0 needs 9.3 GB", ()),
    # -- honest no's --
    Case(("pick", "llama3.3", "--task", "math", "--vram", "8GB", "--ram", "16GB"), None,
         "24 GB in all: no 70B tag fits; the one to name is q4_K_S (keeps 97 % of math), not q2_K "
         "(79 %), with how much it lacks", ("the one to consider, llama3.3:70b-instruct-q4_K_S",
                                            "more than the budget")),
    Case(("pick", "llama3.3", "--task", "math", "--gpu", "none", "--ram", "64GB"), None,
         "CPU only: a 70B runs at ~1 t/s; the answer names the q4_K_S at 0.9 t/s and the "
         "--min-speed that would accept it", ("nothing runs fast enough", "--min-speed 0.8")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden_decision(site, run, case):
    result = run(*case.args)
    said = result.stderr.replace("\n  ", " ")  # notes wrap to the terminal width
    if case.expected is None:
        assert result.exit_code == 3, (case.why, result.stdout, said)
    else:
        assert result.exit_code == 0, (case.why, said)
        assert result.stdout.split()[0] == case.expected, (case.why, said)
    for phrase in case.says:
        assert phrase in said, (case.why, phrase, said)


def test_there_are_at_least_twenty_cases_each_with_a_rationale():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)
    assert all(len(c.why) > 30 for c in CASES)

"""Which Ollama release the user runs, and the rules that change with it. Pure.

Every rule below names the commit or file of github.com/ollama/ollama it follows; the history
(who decides placement per release, default context and parallelism, flash attention, engines)
is written up with its sources in docs/memory.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ollama_quantpick.budget import GiB
from ollama_quantpick.errors import InputError

Version = tuple[int, int, int]

# The newest stable release the code knows (v0.32.15, 2026-08-19; v0.33.0 was still rc2).
NEWEST_STABLE: Version = (0, 32, 15)

_VERSION = re.compile(r"^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(?:[-+][0-9A-Za-z.\-]+)?$")


def parse_version(text: str, what: str = "--ollama-version") -> Version:
    """'0.32.15', 'v0.12.6', '0.33.0-rc2' → (0, 32, 15). InputError (exit 2) otherwise."""
    m = _VERSION.match(str(text).strip())
    if not m:
        raise InputError(f"{what} takes an Ollama release such as 0.32.15, not '{text}'")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def show(v: Version) -> str:
    return "{}.{}.{}".format(*v)


@dataclass(frozen=True)
class Release:
    """An Ollama release and where quantpick learned it (flag | config | daemon | assumed)."""

    version: Version = NEWEST_STABLE
    source: str = "assumed"
    note: str | None = None  # why the daemon could not say, when it could not

    @property
    def label(self) -> str:
        return f"v{show(self.version)}"

    def to_json(self) -> dict:
        return {"version": show(self.version), "source": self.source}


# ---- engines ---------------------------------------------------------------------------------

# Architectures the Go "Ollama engine" runs (`OllamaEngineRequired`, fs/ggml/ggml.go), with the
# first release that routed them there. Everything else ran on the llama.cpp (CGO) engine
# until v0.30.0, when every GGUF moved to upstream llama-server (9db4bdbad).
OLLAMA_ENGINE: dict[str, Version] = {
    "gemma3": (0, 9, 0), "mistral3": (0, 9, 0), "llama4": (0, 9, 0), "mllama": (0, 9, 0),
    "qwen25vl": (0, 9, 0), "gemma3n": (0, 9, 3), "gptoss": (0, 11, 0), "gpt-oss": (0, 11, 5),
    "qwen3": (0, 12, 0), "qwen3moe": (0, 12, 2), "qwen3vl": (0, 12, 7), "qwen3vlmoe": (0, 12, 7),
    "deepseek2": (0, 13, 0), "deepseekocr": (0, 13, 0), "nomic-bert": (0, 13, 1),
    "olmo3": (0, 13, 4), "bert": (0, 13, 5), "glm4moelite": (0, 14, 3), "lfm2": (0, 14, 3),
    "qwen3next": (0, 15, 5), "glmocr": (0, 15, 5), "qwen35": (0, 17, 1), "qwen35moe": (0, 17, 1),
    "nemotron_h": (0, 17, 1), "nemotron_h_moe": (0, 17, 1), "lfm2moe": (0, 17, 1),
    "gemma4": (0, 20, 0), "laguna": (0, 22, 0), "nemotron_h_omni": (0, 22, 0),
}
LLAMA_SERVER_FROM: Version = (0, 30, 0)  # 9db4bdbad "Remove CGO engines, use llama-server"
LAYOUT_DEFAULT_FROM: Version = (0, 11, 11)  # eb10390de: measured layout is the default
NEW_ESTIMATES_FROM: Version = (0, 11, 5)  # d5a0d8d90: OLLAMA_NEW_ESTIMATES=1 opts in


def engine(version: Version, arch: str) -> str:
    """'llama-server' (v0.30+), 'ollama' (the Go engine) or 'llama' (CGO llama.cpp)."""
    if version >= LLAMA_SERVER_FROM:
        return "llama-server"
    first = OLLAMA_ENGINE.get(arch)
    return "ollama" if first is not None and version >= first else "llama"


def estimator(version: Version, arch: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(legacy | layout | fit, why) — which of quantpick's estimators predicts this release."""
    env = env or {}
    v = f"v{show(version)}"
    if version >= LLAMA_SERVER_FROM:
        return "fit", f"Ollama {v} runs every GGUF on llama-server, whose --fit places the layers"
    eng = engine(version, arch)
    if eng == "llama":
        return "legacy", (f"Ollama {v} runs {arch} on its llama.cpp engine, sized by the "
                          "GraphSize estimate")
    opted = env.get("OLLAMA_NEW_ESTIMATES", "").strip().lower() in ("1", "true", "yes", "on")
    if version >= LAYOUT_DEFAULT_FROM or (version >= NEW_ESTIMATES_FROM and opted):
        return "layout", f"Ollama {v} runs {arch} on its own engine and places measured sizes"
    return "legacy", f"Ollama {v} sizes every model with llm/memory.go's estimate"


# ---- context and parallelism -----------------------------------------------------------------

VRAM_TIERS_FROM: Version = (0, 15, 5)  # 0334ffa62 "vram-based default context"
# gpt-oss (and later qwen3vl) get at least 8192 (f2e9c9aff), except in "low VRAM mode".
LONG_DEFAULT = {"gptoss": (0, 11, 0), "gpt-oss": (0, 11, 0), "qwen3vl": (0, 12, 7),
                "qwen3vlmoe": (0, 12, 7)}


def default_ctx(version: Version, total_vram: int, arch: str = "",
                model_ctx: int | None = None) -> int:
    """The num_ctx Ollama `version` uses when nothing sets one. `total_vram` is Σ over GPUs of
    total memory − OLLAMA_GPU_OVERHEAD (the tiers use total, not free, VRAM)."""
    if version >= VRAM_TIERS_FROM:
        ctx = 262144 if total_vram >= 47 * GiB else 32768 if total_vram >= 23 * GiB else 4096
    elif version >= (0, 6, 7):
        ctx = 4096  # 44b466eeb: OLLAMA_CONTEXT_LENGTH defaults to 4096
        first = LONG_DEFAULT.get(arch)
        low_vram = version >= (0, 11, 4) and total_vram < 20 * GiB
        if first is not None and version >= first and not low_vram:
            ctx = 8192
    else:
        ctx = 2048  # api/types.go DefaultOptions
    return min(ctx, model_ctx) if model_ctx else ctx


# Architectures Ollama runs with one sequence whatever OLLAMA_NUM_PARALLEL says (server/sched.go).
SINGLE_SEQUENCE = {"mllama", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe", "qwen3next", "lfm2",
                   "lfm2moe", "nemotron_h", "nemotron_h_moe", "nemotron_h_omni"}


def parallel_choices(version: Version, arch: str = "", env_parallel: int | None = None,
                     embedding: bool = False) -> list[int]:
    """Sequences Ollama tries, most first: the default is 1 from v0.10.0 (20c3266e9); before,
    'auto' tried 4 (2 from v0.6.7, fe5b9bb21) and fell back to 1 when that did not fit."""
    if embedding or arch in SINGLE_SEQUENCE:
        return [1]
    if env_parallel:
        return [env_parallel]
    if version >= (0, 10, 0):
        return [1]
    return [2, 1] if version >= (0, 6, 7) else [4, 1]


# ---- flash attention -------------------------------------------------------------------------

# Per-architecture flash-attention default (GGML.FlashAttention, fs/ggml/ggml.go), first release.
FLASH_LIST: dict[str, Version] = {
    "gptoss": (0, 11, 8), "gpt-oss": (0, 11, 8), "qwen3": (0, 12, 4), "qwen3moe": (0, 12, 4),
    "gemma3": (0, 12, 6), "qwen3vl": (0, 12, 8), "qwen3vlmoe": (0, 12, 8), "mistral3": (0, 13, 2),
    "olmo3": (0, 13, 4), "bert": (0, 13, 5), "glm4moelite": (0, 14, 3), "lfm2": (0, 14, 3),
    "glmocr": (0, 15, 5), "qwen3next": (0, 15, 5), "qwen35": (0, 17, 1), "qwen35moe": (0, 17, 1),
    "lfm2moe": (0, 17, 1), "nemotron_h": (0, 17, 1), "nemotron_h_moe": (0, 17, 1),
    "gemma4": (0, 20, 4), "nemotron_h_omni": (0, 22, 0),
}


def env_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A boolean environment variable as Ollama's envconfig reads it; None when unset/unclear."""
    value = env.get(name, "").strip().lower()
    if value in ("1", "true", "yes", "on", "t"):
        return True
    if value in ("0", "false", "no", "off", "f"):
        return False
    return None


def flash_attention(version: Version, arch: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether attention runs fused (flash) for this release, architecture and environment.
    v0.30+ passes `--flash-attn auto`, which llama.cpp resolves to on wherever the attention
    runs on the device of its layer (CPU, Metal, CUDA ≥ CC 6/7, ROCm, Vulkan): modelled as on."""
    env = env or {}
    forced = env_flag(env, "OLLAMA_FLASH_ATTENTION")
    if forced is not None:
        return forced
    if version >= LLAMA_SERVER_FROM:
        return arch != "grok"
    if version >= (0, 13, 4) and engine(version, arch) == "llama":
        return True  # bd6c1d6b4: the llama engine runs FA "auto"
    first = FLASH_LIST.get(arch)
    return first is not None and version >= first and version >= (0, 11, 8)


def kv_type(version: Version, arch: str, requested: str, flash: bool,
            env: Mapping[str, str] | None = None) -> str:
    """The KV cache type that really runs. Before v0.30 a quantized cache needs flash attention
    (else Ollama warns and uses f16); up to v0.24 the llama engine wants it set explicitly."""
    if requested == "f16":
        return requested
    if version >= LLAMA_SERVER_FROM:
        return requested  # passed verbatim; llama.cpp promotes FA for a quantized V
    if not flash:
        return "f16"
    if engine(version, arch) == "llama" and version >= (0, 13, 4):
        return requested if env_flag(env or {}, "OLLAMA_FLASH_ATTENTION") else "f16"
    return requested

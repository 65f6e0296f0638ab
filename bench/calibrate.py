"""Calibrate quantpick's fit-era memory model against a real llama.cpp ``llama-server`` (run by hand).

    python bench/calibrate.py build      # get llama-server (PATH, cached build, or build from the sdist)
    python bench/calibrate.py measure    # write shaped GGUFs, start llama-server on a grid, save the lines
    python bench/calibrate.py compare    # table: llama.cpp's figure vs quantpick's, with the error

Not run in CI. Needs python ``gguf`` (test extra), and for ``build`` a C/C++ compiler and cmake.
It never downloads model weights: the GGUFs it loads are written here with real shapes and zero weights.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The llama.cpp that llama-cpp-python vendors in this sdist is the one we build (pinned so a rerun builds
# the same engine; its build number is recorded with every measurement).
LLAMA_CPP_PYTHON = "0.3.36"
CACHE = Path(os.environ.get("QUANTPICK_CALIBRATE_CACHE", Path.home() / ".cache" / "quantpick-calibrate"))
CALIBRATION_JSON = HERE / "calibration.json"


class Missing(SystemExit):
    """A one-line failure: what is missing and what to do (no traceback)."""

    def __init__(self, line: str) -> None:
        super().__init__(f"calibrate: {line}")


# --------------------------------------------------------------------------------------------- build


def _run(cmd: list[str], cwd: Path | None = None, log: Path | None = None) -> None:
    out = open(log, "a") if log else None  # noqa: SIM115 - closed below
    try:
        rc = subprocess.call(cmd, cwd=cwd, stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    finally:
        if out:
            out.close()
    if rc != 0:
        where = f" (log: {log})" if log else ""
        raise Missing(f"`{' '.join(cmd[:3])} …` failed with exit code {rc}{where}")


def source_dir() -> Path:
    """Download and unpack the pinned llama-cpp-python sdist (once); return the vendored llama.cpp."""
    root = CACHE / f"llama_cpp_python-{LLAMA_CPP_PYTHON}"
    vendor = root / "vendor" / "llama.cpp"
    if (vendor / "CMakeLists.txt").exists():
        return vendor
    CACHE.mkdir(parents=True, exist_ok=True)
    sdists = list(CACHE.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if not sdists:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
              f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", str(CACHE)], log=CACHE / "download.log")
        sdists = list(CACHE.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if not sdists:
        raise Missing(f"pip did not leave llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz in {CACHE}")
    with tarfile.open(sdists[0]) as tar:
        tar.extractall(CACHE, filter="data")
    if not (vendor / "CMakeLists.txt").exists():
        raise Missing(f"the sdist has no vendor/llama.cpp/CMakeLists.txt under {root}")
    return vendor


def llama_cpp_version(vendor: Path) -> dict[str, str]:
    """Which llama.cpp the sdist vendors: the build number/commit cmake would stamp, if recorded."""
    info: dict[str, str] = {"llama_cpp_python": LLAMA_CPP_PYTHON}
    # llama-cpp-python's sdist carries no .git; its CMake falls back to the numbers in the build info.
    for p in (vendor / "build-info.cmake", vendor / "cmake" / "build-info.cmake"):
        if p.exists():
            m = re.search(r'set\(BUILD_NUMBER\s+(\d+)\)', p.read_text())
            if m:
                info.setdefault("build_number_default", m.group(1))
    return info


def find_server() -> Path | None:
    """A finished build in the cache, else a llama-server on PATH."""
    built = CACHE / f"llama_cpp_python-{LLAMA_CPP_PYTHON}" / "vendor" / "llama.cpp" / "build" / "bin"
    built = built / "llama-server"
    if built.exists():
        return built
    onpath = shutil.which("llama-server")
    return Path(onpath) if onpath else None


def build(jobs: int = 2) -> Path:
    """Return a llama-server binary: reuse one, or build it from the pinned sdist's llama.cpp."""
    found = find_server()
    if found:
        return found
    for tool in ("cmake", "c++", "cc"):
        if not shutil.which(tool):
            raise Missing(f"`{tool}` is missing; install it (e.g. apt-get install cmake g++) or put "
                          "llama-server on PATH")
    vendor = source_dir()
    log = CACHE / "build.log"
    _run(["cmake", "-B", "build", "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DLLAMA_CURL=OFF",
          "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON",
          "-DBUILD_SHARED_LIBS=OFF"], cwd=vendor, log=log)
    _run(["cmake", "--build", "build", "--target", "llama-server", f"-j{jobs}"], cwd=vendor, log=log)
    server = vendor / "build" / "bin" / "llama-server"
    if not server.exists():
        raise Missing(f"the build finished but {server} is not there (log: {log})")
    return server


def server_version(server: Path) -> str:
    """First line of `llama-server --version`, e.g. 'version: 0.5.0-dev (build 1, commit 0c1e570)'."""
    out = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=60)
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def vendored_commit() -> str | None:
    """The llama.cpp commit llama-cpp-python vendors: its CHANGELOG names it for each release."""
    log = CACHE / f"llama_cpp_python-{LLAMA_CPP_PYTHON}" / "CHANGELOG.md"
    if not log.exists():
        return None
    m = re.search(rf"## \[{re.escape(LLAMA_CPP_PYTHON)}\](.*?)(?=\n## \[)", log.read_text(), re.S)
    hit = re.search(r"llama\.cpp@([0-9a-f]{7,40})", m.group(1)) if m else None
    return hit.group(1) if hit else None


# --------------------------------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shape:
    """Real hyperparameters of a released model (from its config.json); weights are never needed."""

    name: str
    arch: str  # GGUF general.architecture
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_vocab: int
    n_layer_real: int
    ctx_train: int
    swa: int = 0  # sliding window (tokens)
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    depths: tuple[int, int] = (2, 4)  # measured depths; the first runs the full grid
    tied: bool = True  # output shares token_embd (keeps files small; the graph is the same)


# Sources: each model's config.json on the Hugging Face Hub (hidden_size, num_attention_heads,
# num_key_value_heads, head_dim, intermediate_size, vocab_size, num_hidden_layers, sliding_window,
# num_experts / num_experts_per_tok / moe_intermediate_size).
SHAPES = [
    Shape("llama3-8b", "llama", 4096, 32, 8, 128, 14336, 128256, 32, 131072),  # meta-llama/Llama-3.1-8B
    # Depth 1 is not used: a 1-layer file reserved 88.01 MiB where 2 and 3 layers reserve 240.01 (ctx 8K,
    # ub 512, FA on; run of 2026-11-29), so the "does not grow with depth" rule starts at 2 layers.
    Shape("llama3-70b", "llama", 8192, 64, 8, 128, 28672, 128256, 80, 131072, depths=(2, 3)),
    Shape("qwen3-8b", "qwen3", 4096, 32, 8, 128, 12288, 151936, 36, 40960),  # Qwen/Qwen3-8B
    Shape("qwen3-32b", "qwen3", 5120, 64, 8, 128, 25600, 151936, 64, 40960),  # Qwen/Qwen3-32B
    Shape("qwen3-30b-a3b", "qwen3moe", 2048, 32, 4, 128, 6144, 151936, 48, 40960,  # Qwen/Qwen3-30B-A3B
          n_expert=128, n_expert_used=8, n_ff_exp=768),
    # google/gemma-3-12b-it: 5 local (1024-token window) layers to 1 global; depth 6 holds one of each.
    Shape("gemma3-12b", "gemma3", 3840, 16, 8, 256, 15360, 262144, 48, 131072, swa=1024, depths=(6, 12)),
    Shape("phi4", "phi3", 5120, 40, 10, 128, 17920, 100352, 40, 16384),  # microsoft/phi-4
    # openai/gpt-oss-20b: even layers use a 128-token window; untied output (the loader requires it).
    Shape("gpt-oss-20b", "gpt-oss", 2880, 64, 8, 64, 2880, 201088, 24, 131072, swa=128,
          n_expert=32, n_expert_used=4, n_ff_exp=2880, tied=False),
]


def _tensors(s: Shape, depth: int) -> list[tuple[str, tuple[int, ...]]]:
    """Tensor names and ggml shapes (ne0 first) that llama.cpp's loader asks for this architecture."""
    e, q, kv = s.n_embd, s.n_head * s.head_dim, s.n_head_kv * s.head_dim
    out: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (e, s.n_vocab)),
                                              ("output_norm.weight", (e,))]
    if not s.tied:
        out.append(("output.weight", (e, s.n_vocab)))
    for i in range(depth):
        b = f"blk.{i}."
        t = [("attn_norm.weight", (e,)), ("attn_output.weight", (q, e))]
        if s.arch == "phi3":
            t += [("attn_qkv.weight", (e, q + 2 * kv)), ("ffn_norm.weight", (e,)),
                  ("ffn_up.weight", (e, 2 * s.n_ff)), ("ffn_down.weight", (s.n_ff, e))]
        else:
            t += [("attn_q.weight", (e, q)), ("attn_k.weight", (e, kv)), ("attn_v.weight", (e, kv))]
        if s.arch in ("qwen3", "qwen3moe", "gemma3"):
            t += [("attn_q_norm.weight", (s.head_dim,)), ("attn_k_norm.weight", (s.head_dim,))]
        if s.arch == "gemma3":
            t += [("post_attention_norm.weight", (e,)), ("post_ffw_norm.weight", (e,))]
        if s.arch == "gpt-oss":
            t += [("post_attention_norm.weight", (e,)), ("attn_sinks.weight", (s.n_head,)),
                  ("attn_q.bias", (q,)), ("attn_k.bias", (kv,)), ("attn_v.bias", (kv,)),
                  ("attn_output.bias", (e,)), ("ffn_gate_inp.bias", (s.n_expert,)),
                  ("ffn_gate_exps.bias", (s.n_ff_exp, s.n_expert)),
                  ("ffn_up_exps.bias", (s.n_ff_exp, s.n_expert)),
                  ("ffn_down_exps.bias", (e, s.n_expert))]
        elif s.arch != "phi3":
            t.append(("ffn_norm.weight", (e,)))
        if s.n_expert:
            t += [("ffn_gate_inp.weight", (e, s.n_expert)),
                  ("ffn_gate_exps.weight", (e, s.n_ff_exp, s.n_expert)),
                  ("ffn_up_exps.weight", (e, s.n_ff_exp, s.n_expert)),
                  ("ffn_down_exps.weight", (s.n_ff_exp, e, s.n_expert))]
        elif s.arch != "phi3":
            t += [("ffn_gate.weight", (e, s.n_ff)), ("ffn_up.weight", (e, s.n_ff)),
                  ("ffn_down.weight", (s.n_ff, e))]
        out += [(b + n, shp) for n, shp in t]
    return out


def write_gguf(s: Shape, depth: int, path: Path) -> Path:
    """A GGUF with the shape's real hyperparameters, `depth` layers and all-zero weights.

    Weights are Q4_0 (zero bytes are a valid zero block) and are never written: the file is truncated to
    its full length, so the tensor data is a sparse hole that costs no disk and reads as zeros.
    """
    import gguf  # the test extra; imported here so `build` runs without it
    import numpy as np

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    w = gguf.GGUFWriter(tmp, s.arch)
    a = s.arch
    w.add_name(f"quantpick-calibrate {s.name} ({depth} of {s.n_layer_real} layers, zero weights)")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_context_length(s.ctx_train)
    w.add_embedding_length(s.n_embd)
    w.add_block_count(depth)
    w.add_feed_forward_length(s.n_ff)
    w.add_head_count(s.n_head)
    w.add_head_count_kv(s.n_head_kv)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_rope_dimension_count(s.head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    if s.swa:
        w.add_sliding_window(s.swa)
    if s.n_expert:
        w.add_expert_count(s.n_expert)
        w.add_expert_used_count(s.n_expert_used)
        w.add_expert_feed_forward_length(s.n_ff_exp)
    w.add_uint32(f"{a}.vocab_size", s.n_vocab)
    # A minimal SentencePiece vocabulary of the real size: unk/bos/eos, the 256 byte tokens, then fillers.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [2, 3, 3] + [6] * 256
    tokens += [f"t{i}" for i in range(s.n_vocab - len(tokens))]
    types += [1] * (s.n_vocab - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * s.n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    q4 = gguf.GGMLQuantizationType.Q4_0
    f32 = gguf.GGMLQuantizationType.F32
    data = 0
    for name, ne in _tensors(s, depth):
        n = 1
        for d in ne:
            n *= d
        small = len(ne) == 1 or name.endswith(("ffn_gate_inp.weight", ".bias"))
        nbytes = n * 4 if small else n // 32 * 18
        w.add_tensor_info(name, tuple(reversed(ne)), np.float32, nbytes, raw_dtype=f32 if small else q4)
        data += gguf.GGUFWriter.ggml_pad(nbytes, w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    f = w.fout[0]
    w.write_padding(f, f.tell())
    f.truncate(f.tell() + data)  # the data section: a hole of zeros
    w.close()
    tmp.rename(path)
    return path


# --------------------------------------------------------------------------------------------- measure

_NUM = r"([0-9.]+) MiB"
LINES = {
    "model": re.compile(r"(\S+) model buffer size = +" + _NUM),
    "kv": re.compile(r"(\S+) KV buffer size = +" + _NUM),
    "compute": re.compile(r"(\S+) compute buffer size = +" + _NUM),
    "output": re.compile(r"(\S+) +output buffer size = +" + _NUM),
}
PROJECTED = re.compile(r"projected to use (\d+) MiB of (host|device) memory")
CELLS = re.compile(r"llama_kv_cache: size = +[0-9.]+ MiB \( *(\d+) cells, +(\d+) layers, +(\d+)/(\d+) seqs\)")
FA_RESOLVED = re.compile(r"flash_attn += (\w+)")


@dataclass(frozen=True)
class Setting:
    ctx: int  # Ollama's num_ctx (per sequence); llama-server gets -c ctx·np
    ubatch: int  # -b = -ub = num_batch
    fa: str  # on | off
    kv: str  # f16 | q8_0
    np: int

    def args(self) -> list[str]:
        """llama-server flags as Ollama v0.30+ passes them (llm/llama_server.go startLlamaServer)."""
        return ["-c", str(self.ctx * self.np), "-np", str(self.np),
                "-b", str(self.ubatch), "-ub", str(self.ubatch),
                "--flash-attn", self.fa, "--cache-type-k", self.kv, "--cache-type-v", self.kv, "-lv", "4"]


def grid(quick: bool = False) -> list[Setting]:
    """ctx 2K/8K/32K × ubatch 512/1024/2048 × (FA on f16, FA on q8_0, FA off f16) × np 1/2.

    FA off with q8_0 is left out: llama.cpp refuses a quantized V cache without flash attention.
    """
    if quick:
        ctxs, ubs, nps = (2048, 32768), (512, 2048), (1,)
    else:
        ctxs, ubs, nps = (2048, 8192, 32768), (512, 1024, 2048), (1, 2)
    out = []
    for ctx in ctxs:
        for ub in ubs:
            for fa, kv in (("on", "f16"), ("on", "q8_0"), ("off", "f16")):
                out += [Setting(ctx, ub, fa, kv, n) for n in nps]
    return out


def depth_grid() -> list[Setting]:
    """The settings run again at a second depth, to check that the compute buffer does not grow with it."""
    return [Setting(8192, ub, fa, "f16", 1) for ub in (512, 2048) for fa in ("on", "off")]


def parse_log(text: str) -> dict:
    """The engine's own figures from a llama-server log (the last context's lines win: the fit's dry runs
    come first and log nothing at INFO with no_alloc, but be safe)."""
    out: dict = {"model": {}, "kv": {}, "compute": {}, "output": {}}
    for key, rx in LINES.items():
        found: dict[str, float] = {}
        for buf, mib in rx.findall(text):
            found[buf] = found.get(buf, 0.0) + float(mib) if key == "kv" else float(mib)
        out[key] = found
    # An iSWA cache logs two KV lines (non-SWA, SWA) on one buffer type: summed above; keep them apart too.
    out["kv_lines"] = [float(m) for _, m in LINES["kv"].findall(text)]
    out["kv_cells"] = [{"cells": int(c), "layers": int(n)} for c, n, _, _ in CELLS.findall(text)]
    m = PROJECTED.findall(text)
    out["projected_mib"] = int(m[-1][0]) if m else None
    fa = FA_RESOLVED.findall(text)
    out["flash_attn"] = fa[-1] if fa else None
    return out


def run_server(server: Path, gguf_path: Path, st: Setting, timeout: float, threads: int) -> dict:
    """Start llama-server, wait for 'model loaded' (or an exit), kill it; return the parsed lines."""
    cmd = [str(server), "-m", str(gguf_path), *st.args(), "--host", "127.0.0.1", "--port", str(_free_port()),
           "--no-warmup", "--no-repack", "-t", str(threads)]
    # --no-warmup/--no-repack only skip work the figures do not depend on (a first decode; CPU weight
    # repacking, which would copy the zero weights into RAM); Ollama passes neither.
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    lines: list[str] = []
    done = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "model loaded" in line or "exiting due to model loading error" in line:
                done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    finished = done.wait(timeout)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    text = "".join(lines)
    rec = parse_log(text)
    rec["seconds"] = round(time.monotonic() - t0, 1)
    rec["status"] = "ok" if "model loaded" in text else ("timeout" if not finished else "failed")
    if rec["status"] != "ok":
        errs = [ln.strip() for ln in lines if re.search(r"error|failed|exception", ln, re.I)]
        rec["error"] = errs[-1][:300] if errs else text.strip().splitlines()[-1][:300] if text.strip() else ""
    return rec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key(r: dict) -> tuple:
    return (r["shape"], r["depth"], json.dumps(r["setting"], sort_keys=True))


def measure(server: Path, only: list[str] | None, quick: bool, timeout: float, threads: int,
            out_path: Path = CALIBRATION_JSON) -> dict:
    """Run the grid on every shape; save after every run so an interrupted sweep keeps what it got."""
    doc = json.loads(out_path.read_text()) if out_path.exists() else {}
    doc.update({"llama_cpp": {"llama_cpp_python": LLAMA_CPP_PYTHON, "commit": vendored_commit(),
                              "server_version": server_version(server), "backend": "CPU"},
                "machine": {"cpus": os.cpu_count()}})
    runs: list[dict] = doc.setdefault("runs", [])
    have = {_key(r) for r in runs if r.get("status") == "ok"}
    todo = []
    for s in SHAPES:
        if only and s.name not in only:
            continue
        todo += [(s, s.depths[0], st) for st in grid(quick)]
        todo += [(s, s.depths[1], st) for st in depth_grid()]
    for i, (s, depth, st) in enumerate(todo, 1):
        key = (s.name, depth, json.dumps(asdict(st), sort_keys=True))
        if key in have:
            continue
        path = write_gguf(s, depth, CACHE / "gguf" / f"{s.name}-d{depth}.gguf")
        rec = {"shape": s.name, "depth": depth, "setting": asdict(st),
               **run_server(server, path, st, timeout, threads)}
        runs[:] = [r for r in runs if _key(r) != key]
        runs.append(rec)
        print(f"[{i}/{len(todo)}] {s.name} d{depth} {st}: {rec['status']} kv={rec['kv']} "
              f"compute={rec['compute']} "
              f"projected={rec['projected_mib']} ({rec['seconds']}s)", flush=True)
        out_path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


# --------------------------------------------------------------------------------------------- compare

MIB = 2**20
# The bar: KV exact (the engine logs each buffer in MiB with two decimals), compute within 10 %
# or 64 MiB, whichever is larger.
KV_TOL_MIB = 0.005
COMPUTE_TOL = (0.10, 64.0)


def quantpick_figures(info, st: Setting) -> tuple[float, float]:
    """(KV MiB, compute MiB) from quantpick's fit estimator for this shape and these settings.

    Run through `fit.estimate` on a GPU budget large enough for everything, so the figures are the
    ones the placement uses. Metal is named because, like the CPU backend measured here, it has no
    CUDA-only F16 copy of a quantized K/V in its compute buffer.
    """
    from ollama_quantpick.budget import Budget
    from ollama_quantpick.estimators import fit
    from ollama_quantpick.estimators.base import Model, Run
    from ollama_quantpick.quants import lookup

    budget = Budget(gpu_free=[2**40], ram_bytes=2**40, library="metal")
    run = Run(st.ctx, st.np, st.kv, st.fa == "on", batch=st.ubatch)
    est = fit.estimate(Model(info, info.tensor_bytes), lookup("q4_0"), budget, run)
    return est.kv_bytes / MIB, est.graph_bytes / MIB


def _header(path: Path):
    from ollama_quantpick.gguf import NeedMore, parse_header

    size = 1 << 20
    while True:
        with open(path, "rb") as f:
            data = f.read(size)
        try:
            return parse_header(data)
        except NeedMore as more:
            size = max(more.needed, size * 2)


def compare(doc: dict) -> list[dict]:
    """One row per measured run: llama.cpp's KV and compute, quantpick's, the error, and a verdict."""
    headers: dict[tuple[str, int], object] = {}
    shapes = {s.name: s for s in SHAPES}
    rows = []
    for r in doc.get("runs", []):
        if r.get("status") != "ok" or r["shape"] not in shapes:
            continue
        s, depth, st = shapes[r["shape"]], r["depth"], Setting(**r["setting"])
        key = (s.name, depth)
        if key not in headers:
            headers[key] = _header(write_gguf(s, depth, CACHE / "gguf" / f"{s.name}-d{depth}.gguf"))
        kv_q, comp_q = quantpick_figures(headers[key], st)
        kv_l, comp_l = sum(r["kv_lines"]), sum(r["compute"].values())
        tol = max(COMPUTE_TOL[0] * comp_l, COMPUTE_TOL[1])
        rows.append({"shape": s.name, "depth": depth, **asdict(st),
                     "kv_llama": kv_l, "kv_quantpick": round(kv_q, 2),
                     # each logged line is rounded to 0.01 MiB (an iSWA cache logs two)
                     "kv_ok": abs(kv_q - kv_l) <= KV_TOL_MIB * max(1, len(r["kv_lines"])) + 1e-9,
                     "compute_llama": comp_l, "compute_quantpick": round(comp_q, 2),
                     "compute_err_pct": round(100 * (comp_q - comp_l) / comp_l, 1) if comp_l else None,
                     "compute_ok": abs(comp_q - comp_l) <= tol})
    return rows


def table(rows: list[dict], np_only: int | None = None) -> str:
    """Markdown: shape × settings → llama.cpp's figure, quantpick's, error."""
    out = ["| shape (layers) | ctx | ub | FA | KV type | np | KV llama.cpp | KV quantpick | "
           "compute llama.cpp | compute quantpick | error |",
           "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if np_only and r["np"] != np_only:
            continue
        miss = "" if r["kv_ok"] and r["compute_ok"] else " **miss**"
        out.append(f"| {r['shape']} ({r['depth']}) | {r['ctx']} | {r['ubatch']} | {r['fa']} | {r['kv']} | "
                   f"{r['np']} | {r['kv_llama']:.2f} | {r['kv_quantpick']:.2f} | {r['compute_llama']:.2f} | "
                   f"{r['compute_quantpick']:.2f} | {r['compute_err_pct']:+.1f} %{miss} |")
    return "\n".join(out)


def depth_table(doc: dict) -> str:
    """The compute buffer of the same settings at a shape's two depths (it should not change)."""
    by: dict[tuple, dict[int, float]] = {}
    for r in doc.get("runs", []):
        if r.get("status") == "ok":
            key = (r["shape"], json.dumps(r["setting"], sort_keys=True))
            by.setdefault(key, {})[r["depth"]] = sum(r["compute"].values())
    out = ["| shape | ctx | ub | FA | compute at depth a | at depth b |", "|---|---:|---:|---|---:|---:|"]
    for (name, st), d in by.items():
        if len(d) == 2:
            s = json.loads(st)
            (da, ca), (db, cb) = sorted(d.items())
            out.append(f"| {name} | {s['ctx']} | {s['ubatch']} | {s['fa']} | {ca:.2f} ({da} layers) | "
                       f"{cb:.2f} ({db} layers) |")
    return "\n".join(out)


def summary(rows: list[dict]) -> str:
    out = ["| shape | rows | KV exact | compute within bar | compute error range |",
           "|---|---:|---:|---:|---|"]
    for name in dict.fromkeys(r["shape"] for r in rows):
        mine = [r for r in rows if r["shape"] == name]
        errs = [r["compute_err_pct"] for r in mine]
        out.append(f"| {name} | {len(mine)} | {sum(r['kv_ok'] for r in mine)} | "
                   f"{sum(r['compute_ok'] for r in mine)} | {min(errs):+.1f} … {max(errs):+.1f} % |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="get llama-server (PATH, cached build, or build from the sdist)")
    b.add_argument("-j", "--jobs", type=int, default=2)
    m = sub.add_parser("measure", help="write shaped GGUFs and run llama-server over the grid")
    m.add_argument("--only", nargs="*", help="shape names (default: all)")
    m.add_argument("--quick", action="store_true", help="a smaller grid (ctx 2K/32K, ub 512/2048, np 1)")
    m.add_argument("--timeout", type=float, default=180, help="seconds one server start may take")
    m.add_argument("-t", "--threads", type=int, default=1)
    c = sub.add_parser("compare", help="llama.cpp's figures vs quantpick's fit estimator")
    c.add_argument("--markdown", type=Path, help="also write the full table to this file")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        server = build(args.jobs)
        print(f"{server}  {server_version(server)}  llama.cpp@{vendored_commit()}")
    elif args.cmd == "measure":
        server = find_server()
        if server is None:
            raise Missing("no llama-server: run `python bench/calibrate.py build` first")
        measure(server, args.only, args.quick, args.timeout, args.threads)
    elif args.cmd == "compare":
        if not CALIBRATION_JSON.exists():
            raise Missing(f"no {CALIBRATION_JSON.name}: run `python bench/calibrate.py measure` first")
        doc = json.loads(CALIBRATION_JSON.read_text())
        rows = compare(doc)
        print(summary(rows))
        misses = [r for r in rows if not (r["kv_ok"] and r["compute_ok"])]
        print(f"\n{len(rows) - len(misses)} of {len(rows)} rows within the bar; llama.cpp "
              f"{doc['llama_cpp'].get('commit')} ({doc['llama_cpp'].get('server_version')})")
        if args.markdown:
            args.markdown.write_text(
                f"# llama-server vs quantpick's fit estimator, every measured row\n\n"
                f"Written by `python bench/calibrate.py compare --markdown {args.markdown.name}` from "
                f"calibration.json (llama.cpp {doc['llama_cpp'].get('commit')}, "
                f"{doc['llama_cpp'].get('backend')} backend). MiB as llama-server logs them.\n\n"
                f"{summary(rows)}\n\n## Compute buffer at two depths\n\n{depth_table(doc)}\n\n"
                f"## Every row\n\n{table(rows)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

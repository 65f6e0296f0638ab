"""A stand-in for the Hugging Face Hub, for `hf.co/OWNER/REPO` models.

Shapes follow the real Hub: `GET /api/models/OWNER/REPO?blobs=true` answers the model info JSON
(huggingface_hub hf_api.py `ModelInfo`/`RepoSibling`: `siblings` with `rfilename`, `size`,
`blobId` and `lfs: {sha256, size, pointerSize}`; sub-folders appear as paths); a missing repo is
401 without a token and 404 with one, with `X-Error-Code: RepoNotFound` (huggingface_hub
utils/_http.py); `GET /OWNER/REPO/resolve/main/FILE` answers 302 to the Xet bridge
(`cas-bridge.xethub.hf.co`), which serves Range requests; a gated repo answers the resolve with
401 (no token) or 403 (a token without access) and `X-Error-Code: GatedRepo`. File names are the
ones Unsloth and bartowski use; GGUF headers are written with the `gguf` package from the
models' real shapes (Qwen3-32B, Llama-4-Scout-17B-16E: 109B, 16 experts, 1 used + a shared one).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from world import ARCH, Arch, add_shape, gguf_writer, serve_routes, vocab

HUB = "https://huggingface.co"
XET = "https://cas-bridge.xethub.hf.co"
ALLOWANCE = 4_000_000  # bytes before the tensor data (vocabulary and tensor table)
TOKEN = "hf_testtokenwithaccess"  # a token the gated repo accepts
OTHER_TOKEN = "hf_testtokenwithoutaccess"


QWEN3_32B = ARCH[("qwen3", "32b")]  # the same shapes the library fixtures serve
QWEN3_4B = ARCH[("qwen3", "4b")]
# meta-llama/Llama-4-Scout-17B-16E-Instruct config.json (text_config): 48 layers, hidden 5120,
# intermediate 8192 per expert, 16 experts, top-1 routing plus a shared expert, 40/8 heads of 128.
SCOUT = Arch("llama4", 48, 5120, 16384, 40, 8, 128, 10485760, 202048, 16, 1, 8192, shared=True)

# quant tag → (routed/ffn type, attn_v and every-third ffn_down, output, token_embd, attention):
# the shape of llama.cpp's mixes (src/llama-quant.cpp llama_tensor_get_type_impl; research 1.2).
MIX = {
    "BF16": ("bf16", "bf16", "bf16", "bf16", "bf16"),
    "Q8_0": ("q8_0", "q8_0", "q8_0", "q8_0", "q8_0"),
    "Q6_K": ("q6_K", "q6_K", "q6_K", "q6_K", "q6_K"),
    "Q5_K_M": ("q5_K", "q6_K", "q6_K", "q5_K", "q5_K"),
    "Q4_K_M": ("q4_K", "q6_K", "q6_K", "q4_K", "q4_K"),
    "Q4_0": ("q4_0", "q4_0", "q6_K", "q4_0", "q4_0"),
    "Q3_K_M": ("q3_K", "q4_K", "q6_K", "q3_K", "q3_K"),
    "Q2_K": ("q2_K", "q3_K", "q6_K", "q2_K", "q3_K"),
    "IQ4_XS": ("iq4_xs", "iq4_xs", "q6_K", "iq4_xs", "iq4_xs"),
    "IQ4_NL": ("iq4_nl", "iq4_nl", "q6_K", "iq4_nl", "iq4_nl"),
    "IQ3_M": ("iq3_s", "q4_K", "q6_K", "iq3_s", "iq3_s"),
    "IQ3_S": ("iq3_s", "iq3_s", "q6_K", "iq3_s", "iq3_s"),
    "IQ3_XS": ("iq3_xxs", "iq3_s", "q6_K", "iq3_xxs", "iq3_s"),
    "IQ3_XXS": ("iq3_xxs", "iq3_s", "q5_K", "iq3_xxs", "iq3_xxs"),
    "IQ2_M": ("iq2_s", "iq3_s", "q5_K", "iq2_s", "iq2_s"),
    "IQ2_S": ("iq2_xs", "iq3_s", "q5_K", "iq2_xs", "iq2_xs"),
    "IQ2_XS": ("iq2_xs", "q4_K", "q5_K", "q2_K", "iq2_xs"),
    "IQ2_XXS": ("iq2_xxs", "q4_K", "q5_K", "q2_K", "iq2_xxs"),
    "IQ1_M": ("iq1_m", "q4_K", "q5_K", "q2_K", "iq2_xxs"),
    "IQ1_S": ("iq1_s", "q4_K", "q5_K", "q2_K", "iq2_xxs"),
    "TQ1_0": ("tq1_0", "q4_K", "q6_K", "q4_K", "tq1_0"),
    "TQ2_0": ("tq2_0", "q4_K", "q6_K", "q4_K", "tq2_0"),
    "Q4_0_4_4": ("q4_0", "q4_0", "q6_K", "q4_0", "q4_0"),  # the header shows q4_0's blocks
    # Unsloth dynamic: attention and shared parts kept high, routed/ffn weights low.
    "UD-Q4_K_XL": ("q4_K", "q6_K", "q6_K", "q4_K", "q5_K"),
    "UD-Q2_K_XL": ("q2_K", "q3_K", "q6_K", "q3_K", "q3_K"),
    "UD-IQ2_XXS": ("iq2_xxs", "iq3_xxs", "q6_K", "q2_K", "iq2_xxs"),
}
# general.file_type (llama.h llama_ftype); dynamic files carry their base type's number.
FTYPE = {"BF16": 32, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q4_K_M": 15, "Q4_0": 2, "Q3_K_M": 12,
         "Q2_K": 10, "IQ4_XS": 30, "IQ4_NL": 25, "IQ3_M": 27, "IQ3_S": 26, "IQ3_XS": 22,
         "IQ3_XXS": 23, "IQ2_M": 29, "IQ2_S": 28, "IQ2_XS": 20, "IQ2_XXS": 19, "IQ1_M": 31,
         "IQ1_S": 24, "TQ1_0": 36, "TQ2_0": 37, "Q4_0_4_4": 33, "UD-Q4_K_XL": 15,
         "UD-Q2_K_XL": 10, "UD-IQ2_XXS": 19}


def _gtype(name: str):
    import gguf

    return gguf.GGMLQuantizationType[name.upper()]


def nbytes(ttype: str, shape: list[int]) -> int:
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[_gtype(ttype)]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def tensors(s: Arch, quant: str) -> list[tuple[str, list[int], str]]:
    base, more, out, embd, attn = MIX[quant]
    q, kv = s.heads * s.head_dim, s.kv * s.head_dim
    ts = [("token_embd.weight", [s.emb, s.vocab], embd)]
    for i in range(s.layers):
        extra = i < s.layers // 8 or i >= 7 * s.layers // 8 or (i - s.layers // 8) % 3 == 2
        p = f"blk.{i}."
        ts += [(p + "attn_norm.weight", [s.emb], "f32"), (p + "attn_q.weight", [s.emb, q], attn),
               (p + "attn_k.weight", [s.emb, kv], attn), (p + "attn_v.weight", [s.emb, kv], more),
               (p + "attn_output.weight", [q, s.emb], attn),
               (p + "ffn_norm.weight", [s.emb], "f32")]
        if s.experts:
            ts += [(p + "ffn_gate_inp.weight", [s.emb, s.experts], "f32"),
                   (p + "ffn_gate_exps.weight", [s.emb, s.expert_ff, s.experts], base),
                   (p + "ffn_up_exps.weight", [s.emb, s.expert_ff, s.experts], base),
                   (p + "ffn_down_exps.weight", [s.expert_ff, s.emb, s.experts],
                    more if extra else base)]
            if s.shared:
                ts += [(p + "ffn_gate_shexp.weight", [s.emb, s.expert_ff], attn),
                       (p + "ffn_up_shexp.weight", [s.emb, s.expert_ff], attn),
                       (p + "ffn_down_shexp.weight", [s.expert_ff, s.emb], attn)]
        else:
            ts += [(p + "ffn_gate.weight", [s.emb, s.ff], base),
                   (p + "ffn_up.weight", [s.emb, s.ff], base),
                   (p + "ffn_down.weight", [s.ff, s.emb], more if extra else base)]
    ts.append(("output_norm.weight", [s.emb], "f32"))
    if not s.tied:
        ts.append(("output.weight", [s.emb, s.vocab], out))
    return ts


@dataclass
class File:
    """One file of a repo. `quant` set: a GGUF model file (`part`/`parts` for a split one)."""

    path: str
    quant: str | None = None
    part: int = 0
    parts: int = 1
    size_override: int | None = None  # non-model files (README, mmproj)
    bad: bool = False  # not a GGUF at all, named .gguf

    def tensor_list(self, shape: Arch) -> list[tuple[str, list[int], str]]:
        ts = tensors(shape, self.quant or "Q8_0")
        if self.parts == 1:
            return ts
        per = -(-len(ts) // self.parts)
        return ts[self.part * per:(self.part + 1) * per]  # each part lists its own tensors

    def size(self, shape: Arch) -> int:
        if self.size_override is not None:
            return self.size_override
        return ALLOWANCE + sum(nbytes(t, sh) for _, sh, t in self.tensor_list(shape))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.encode()).hexdigest()


@dataclass
class Repo:
    shape: Arch | None
    files: list[File]
    gated: str | bool = False
    imatrix: bool = True
    redirect_host: str = XET  # where resolve/main sends the client


def _split(stem: str, quant: str, n: int, folder: str) -> list[File]:
    return [File(f"{folder}/{stem}-{i + 1:05d}-of-{n:05d}.gguf", quant, i, n) for i in range(n)]


def _common() -> list[File]:
    return [File(".gitattributes", size_override=3186), File("README.md", size_override=21904),
            File("config.json", size_override=1062)]


REPOS: dict[str, Repo] = {
    "unsloth/Qwen3-32B-GGUF": Repo(QWEN3_32B, _common() + [
        File(f"Qwen3-32B-{q}.gguf", q) for q in (
            "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS", "IQ4_NL",
            "UD-Q4_K_XL", "UD-Q2_K_XL", "UD-IQ2_XXS")
    ] + _split("Qwen3-32B-BF16", "BF16", 2, "BF16")),
    "unsloth/Llama-4-Scout-17B-16E-Instruct-GGUF": Repo(SCOUT, _common() + [
        File(f"Llama-4-Scout-17B-16E-Instruct-{q}.gguf", q) for q in (
            "IQ1_S", "IQ2_XXS", "IQ2_XS", "UD-Q2_K_XL", "Q3_K_M", "Q4_K_M")
    ] + _split("Llama-4-Scout-17B-16E-Instruct-Q8_0", "Q8_0", 3, "Q8_0") + [
        File("mmproj-BF16.gguf", size_override=1_746_000_000),
        File("mmproj-F16.gguf", size_override=1_745_925_472),
        File("mmproj-F32.gguf", size_override=3_485_542_752)]),
    "bartowski/Qwen_Qwen3-4B-GGUF": Repo(QWEN3_4B, _common() + [
        File(f"Qwen_Qwen3-4B-{q}.gguf", q) for q in (
            "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS",
            "IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL", "TQ1_0", "TQ2_0", "Q4_0", "Q4_0_4_4",
            "Q4_K_M")]),
    "meta-llama/Llama-Gated-8B-GGUF": Repo(QWEN3_4B, _common() + [
        File("llama-gated-8b-q4_k_m.gguf", "Q4_K_M")], gated="manual"),
    "evil/Redirect-GGUF": Repo(QWEN3_4B, _common() + [File("model-Q4_K_M.gguf", "Q4_K_M")],
                               redirect_host="https://files.evil.example"),
    "someone/Renamed-GGUF": Repo(QWEN3_4B, _common() + [
        File("model-Q4_K_M.gguf", "Q4_K_M", bad=True, size_override=8_044_981_202)]),
    "Qwen/Qwen3-32B": Repo(None, _common() + [
        File(f"model-{i:05d}-of-00017.safetensors", size_override=3_900_000_000)
        for i in range(1, 18)]),
}


def repo_file(repo: str, path: str) -> tuple[Repo, File] | None:
    r = REPOS.get(repo)
    f = next((f for f in r.files if f.path == path), None) if r else None
    return (r, f) if r and f else None


@cache
def gguf_header(repo: str, path: str) -> bytes:
    """The GGUF header (metadata and tensor table) of a model file, written by the gguf package."""
    import numpy as np

    r, f = repo_file(repo, path)
    s = r.shape
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.gguf"
        w = gguf_writer()(out, s.arch)
        add_shape(w, s, repo.split("/")[1], FTYPE[f.quant])
        if s.experts:
            w.add_uint32(f"{s.arch}.expert_count", s.experts)
            w.add_uint32(f"{s.arch}.expert_used_count", s.used)
            w.add_uint32(f"{s.arch}.expert_feed_forward_length", s.expert_ff)
        w.add_string("tokenizer.ggml.model", "gpt2")
        w.add_array("tokenizer.ggml.tokens", vocab(s.vocab))
        if r.imatrix and f.quant not in ("BF16", "Q8_0"):
            w.add_string("quantize.imatrix.file", f"{repo.split('/')[1]}/imatrix.dat")
            w.add_string("quantize.imatrix.dataset", "calibration_datav3.txt")
            w.add_int32("quantize.imatrix.entries_count", s.layers * 7)
            w.add_int32("quantize.imatrix.chunks_count", 128)
        if f.parts > 1:  # llama-gguf-split: split.no, split.count, split.tensors.count
            w.add_uint16("split.no", f.part)
            w.add_uint16("split.count", f.parts)
            w.add_int32("split.tensors.count", len(tensors(s, f.quant)))
        for name, shape, ttype in f.tensor_list(s):
            w.add_tensor_info(name, list(reversed(shape)), np.dtype(np.float32),
                              nbytes(ttype, shape), raw_dtype=_gtype(ttype))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        return out.read_bytes()


def model_info(repo: str) -> dict:
    r = REPOS[repo]
    siblings = []
    for f in r.files:
        size = f.size(r.shape) if r.shape else f.size_override
        sib = {"rfilename": f.path, "blobId": hashlib.sha1(f.path.encode()).hexdigest(),
               "size": size}
        if f.path.endswith((".gguf", ".safetensors")):
            sib["lfs"] = {"sha256": f.sha256, "size": size, "pointerSize": 135}
        siblings.append(sib)
    owner = repo.split("/")[0]
    return {"_id": hashlib.md5(repo.encode()).hexdigest()[:24], "id": repo, "modelId": repo,
            "author": owner, "sha": hashlib.sha1(repo.encode()).hexdigest(),
            "lastModified": "2025-05-28T12:00:00.000Z", "private": False, "disabled": False,
            "gated": r.gated, "downloads": 41234, "likes": 120, "library_name": "transformers",
            "tags": ["gguf", "text-generation"] if r.shape else ["safetensors"],
            "pipeline_tag": "text-generation", "siblings": siblings, "spaces": [],
            "createdAt": "2025-04-28T12:00:00.000Z",
            "usedStorage": sum(s["size"] for s in siblings)}


@dataclass
class Served:
    calls: list[str] = field(default_factory=list)
    auth: dict[str, str | None] = field(default_factory=dict)  # url → Authorization seen


def _error(status: int, code: str, message: str):
    return status, {"X-Error-Code": code, "X-Error-Message": message,
                    "Content-Type": "application/json"}, json.dumps({"error": message})


def respond(url: str, headers: dict, served: Served, hub: str = HUB, xet: str = XET):
    served.calls.append(url)
    served.auth[url] = headers.get("Authorization")
    token = (headers.get("Authorization") or "").removeprefix("Bearer ") or None
    if url.startswith(hub + "/api/models/"):
        repo = url[len(hub + "/api/models/"):].split("?")[0]
        if repo not in REPOS:
            if token is None:
                return _error(401, "RepoNotFound", "Invalid username or password.")
            return _error(404, "RepoNotFound", "Repository not found")
        return 200, {"Content-Type": "application/json; charset=utf-8"}, \
            json.dumps(model_info(repo))
    if m := re.match(re.escape(hub) + r"/([^/]+/[^/]+)/resolve/main/(.+)$", url):
        from urllib.parse import unquote

        repo, path = m.group(1), unquote(m.group(2))
        found = repo_file(repo, path)
        if found is None:
            return _error(404, "EntryNotFound", "Entry not found")
        r, f = found
        if r.gated and token != TOKEN:
            if token is None:
                return _error(401, "GatedRepo", f"Access to model {repo} is restricted. You must "
                              "have access to it and be authenticated to access it. Please log in.")
            return _error(403, "GatedRepo", f"Access to model {repo} is restricted and you are "
                          f"not in the authorized list. Visit {HUB}/{repo} to ask for access.")
        target = (xet if r.redirect_host == XET else r.redirect_host)
        return 302, {"Location": f"{target}/xet-bridge-us/{f.sha256}?X-Xet-Signed-Range=bytes"
                     f"&Expires=1767225600&Signature=abc&repo={repo}"}, ""
    if url.startswith(xet + "/xet-bridge-us/"):
        sha = url[len(xet + "/xet-bridge-us/"):].split("?")[0]
        repo = re.search(r"repo=([^&]+)", url).group(1)
        r = REPOS[repo]
        f = next(f for f in r.files if f.sha256 == sha)
        size = f.size(r.shape)
        data = (b'{"__metadata__":{"format":"pt"}}' + b" " * 4096) if f.bad \
            else gguf_header(repo, f.path)
        rng = re.match(r"bytes=(\d+)-(\d+)", headers.get("Range", ""))
        if rng:
            start, end = int(rng.group(1)), min(int(rng.group(2)), size - 1)
            body = data[start:end + 1]
            body += b"\0" * (end + 1 - start - len(body))
            return 206, {"Content-Range": f"bytes {start}-{end}/{size}"}, body
        return 200, {}, data
    return 404, {}, "not found"


def install(rsps, served: Served | None = None) -> Served:
    """Route the Hub, its Xet bridge and a foreign host to `respond` on `responses`."""
    served = served or Served()

    def callback(request):
        return respond(request.url, dict(request.headers), served)

    for base in (HUB, XET, "https://files.evil.example"):
        rsps.add_callback("GET", re.compile(re.escape(base) + ".*"), callback=callback)
    return served


def serve_http(httpserver, served: Served | None = None) -> tuple[str, Served]:
    """The same routes on a real local HTTP server: the base URL is QUANTPICK_HF_URL, and the
    resolve redirect stays on that server (the configured Hub is trusted)."""
    served = served or Served()
    return serve_routes(httpserver, respond, served), served

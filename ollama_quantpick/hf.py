"""Hugging Face GGUF repos, `hf.co/OWNER/REPO[:QUANT]`: the quants Ollama can pull from the Hub.

The listing is one request to the Hub's model API, `GET /api/models/OWNER/REPO?blobs=true`
(huggingface_hub `HfApi.model_info(files_metadata=True)`): `siblings` holds every file of the
repo, sub-folders included, as `{"rfilename", "size", "blobId", "lfs": {"sha256", "size",
"pointerSize"}}`; `lfs.size` is the exact byte count of a GGUF. Files are grouped into the quants
Ollama accepts after the colon: the quant name at the end of the file name (`Q4_K_M`, `IQ2_XS`,
`UD-Q4_K_XL`), matched without regard to case, or else the file name itself (huggingface/hub-docs
docs/hub/ollama.md). `Q4_K_M` is the default (`:latest`) when the repo has it.

Split GGUFs (`…-00001-of-00003.gguf`) are one quant whose size is the sum of its parts; the
header is in part 1. The Hub's Ollama endpoint refuses them ("The specified tag is a sharded
GGUF", ollama/ollama#5245, huggingface/hub-docs#2702), so they are listed and fitted, never
picked. `mmproj*.gguf` files are vision projectors, not quants: the Hub adds one to the pull of a
vision repo as Ollama's projector layer; which one it takes when a repo has several (F16, BF16,
F32) is not documented, so quantpick counts one, preferring F16 (UNCERTAIN; docs/huggingface.md).

The GGUF header is read by HTTP Range from `/{OWNER}/{REPO}/resolve/main/{file}` through
registry.read_header, the same bounded, resumable reader as for registry blobs. The Hub answers
with a 302 to its file storage (cas-bridge.xethub.hf.co, cdn-lfs*.hf.co, *.cdn.hf.co); redirects
are followed only over https and only to the Hub's own hosts. `HF_TOKEN` is sent to the Hub alone
(never to the storage host a redirect names), never logged, never part of a cache key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from ollama_quantpick import artifacts as art
from ollama_quantpick import http, library, paths, quants, registry
from ollama_quantpick.errors import InputError, QuantpickError
from ollama_quantpick.estimate import fallback_arch, scale_arch
from ollama_quantpick.gguf import GGUFError, GGUFInfo
from ollama_quantpick.tagname import ModelRef, normalise_quant

DEFAULT_TAG = "Q4_K_M"  # what `hf.co/OWNER/REPO` (`:latest`) pulls when present (hub-docs ollama.md)
SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
# The quant at the end of a GGUF file name, as Ollama matches it after the colon: llama.cpp's type
# names (tools/quantize/quantize.cpp QUANT_OPTIONS), the ARM repacks, ternary types, and the
# mixed names of dynamic builds (Unsloth `UD-…`, `…_XL`).
QUANT_RE = re.compile(
    r"(?:^|[-._])((?:UD-)?(?:IQ[1-4]_(?:XXS|XS|S|M|NL)|Q[2-8]_K(?:_(?:XXS|XS|S|M|L|XL))?"
    r"|Q[4-8]_[01](?:_[48]_[48])?|TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|FP16|F32|FP32))$",
    re.IGNORECASE)
# A projector's precision in its file name, most preferred first (see the module docstring).
PROJECTOR_PREFERENCE = ("f16", "bf16", "f32")
HUB_HOSTS = ("huggingface.co", "hf.co")
# Where a redirect from the Hub may go (open_stream: a name, or `.suffix` for sub-domains); https
# only, as open_stream refuses a step down to http.
HUB_ALLOW = ("huggingface.co", ".huggingface.co", "hf.co", ".hf.co")


def _auth() -> dict[str, str]:
    token = os.environ.get("HF_TOKEN", "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def is_hub_host(url: str) -> bool:
    """May a redirect from the Hub go to `url`? Over https, one of the Hub's own hosts:
    huggingface.co, hf.co and their sub-domains (cas-bridge.xethub.hf.co, cdn-lfs.hf.co,
    cdn-lfs-us-1.hf.co, us.aws.cdn.hf.co, cdn-lfs.huggingface.co): HUB_ALLOW, as open_stream
    applies it."""
    u = urlsplit(url)
    host = (u.hostname or "").lower()
    return u.scheme == "https" and any(host == h or host.endswith("." + h) for h in HUB_HOSTS)


@dataclass
class HubFile:
    """One file of a Hugging Face repository, as the Hub's tree API lists it."""

    path: str
    size: int
    sha256: str | None = None  # the LFS object id: content-addressed, so header caches key on it


@dataclass
class HFQuant:
    """One quant of a repo: its tag (as Ollama accepts it) and its file(s)."""

    tag: str
    parts: list[HubFile]
    projector: HubFile | None = None

    @property
    def model_bytes(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def split(self) -> bool:
        return len(self.parts) > 1


def quant_tag(path: str) -> str | None:
    """`BF16/Qwen3-32B-BF16-00001-of-00002.gguf` → `BF16`; `x.q4_k_m.gguf` → `Q4_K_M`; None when
    the name carries no quant (the file name itself is then the tag)."""
    stem = SPLIT_RE.sub("", path.rsplit("/", 1)[-1])
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    m = QUANT_RE.search(stem)
    return m.group(1).upper().replace("UD_", "UD-") if m else None


def is_projector(path: str) -> bool:
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def group(files: list[HubFile]) -> list[HFQuant]:
    """GGUF files grouped into quants; split parts summed in order; one projector for all."""
    ggufs = [f for f in files if f.path.lower().endswith(".gguf")]
    projectors = sorted((f for f in ggufs if is_projector(f.path)), key=lambda f: f.path)
    projector = None
    for want in PROJECTOR_PREFERENCE:
        projector = next((p for p in projectors if re.search(rf"(?:^|[-._]){want}(?:[-._]|$)",
                                                             p.path.rsplit("/", 1)[-1].lower())),
                         None)
        if projector:
            break
    projector = projector or (projectors[0] if projectors else None)
    groups: dict[str, list[HubFile]] = {}
    tags: dict[str, str] = {}
    for f in sorted((f for f in ggufs if not is_projector(f.path)), key=lambda f: f.path):
        tag = quant_tag(f.path) or f.path.rsplit("/", 1)[-1]
        split = SPLIT_RE.search(f.path)
        key = tag.upper() + ("|split:" + SPLIT_RE.sub("", f.path) if split else "|" + f.path)
        groups.setdefault(key, []).append(f)
        tags[key] = tag
    out: dict[str, HFQuant] = {}
    for key, parts in groups.items():
        q = HFQuant(tags[key], parts, projector)
        have = out.get(tags[key].upper())
        # One row per name: a single file beats a split set of the same quant (it can be pulled).
        if have is None or (have.split and not q.split):
            out[tags[key].upper()] = q
    return list(out.values())


@dataclass
class HFArtifact(art.Artifact):
    """A quant of a Hub repo. No registry manifest: sizes come from the Hub's file list, and
    Ollama is asked by name whether it has it."""

    hf: HFQuant = field(default_factory=lambda: HFQuant("", []))
    imatrix: bool = False

    @property
    def model_bytes(self) -> int:
        return self.hf.model_bytes

    @property
    def projector_bytes(self) -> int:
        return self.hf.projector.size if self.hf.projector else 0

    @property
    def download_bytes(self) -> int:
        return self.model_bytes + self.projector_bytes

    @property
    def blocked(self) -> str:
        if not self.hf.split:
            return ""
        repo = self.name.rsplit(":", 1)[0]
        return (f"{self.hf.tag} is split into {len(self.hf.parts)} files, and the Hub's Ollama "
                "endpoint refuses split GGUFs (ollama/ollama#5245): take a single-file quant "
                f"('quantpick pick {repo}'), or download the parts, join them with "
                "'llama-gguf-split --merge' and import the file with 'ollama create'")

    def matches(self, tag: str) -> bool:
        """Ollama's rule: the quant name in any case, or a file name of the quant."""
        low = tag.lower()
        return low in (t.lower() for t in self.tags) or any(
            low == p.path.lower() or low == p.path.rsplit("/", 1)[-1].lower()
            for p in self.hf.parts)

    def rating(self, bpw: float | None) -> quants.Quant:
        """The catalogue entry of a standard type (its imatrix KLD when the header shows an
        imatrix); a dynamic mix (`UD-*`, `*_XL`, anything the catalogue lacks) from its actual
        bits per weight."""
        tag = self.hf.tag.upper()
        table = quants.data()["quants"]
        key = self.quant
        if (tag.startswith("UD-") or key is None or key not in table) and bpw:
            base = normalise_quant(re.sub(r"_(XL|L)$", "_M", tag.removeprefix("UD-")))
            return quants.dynamic(self.hf.tag, bpw, base)
        q = quants.lookup(key, bpw=bpw)
        if self.imatrix and q.kld_imatrix is not None:
            q = replace(q, kld=q.kld_imatrix, note="imatrix build (quantize.imatrix.* in its "
                        "header): the imatrix KLD")
        return q


def _fail_listing(ref: ModelRef, status: int, text: str) -> QuantpickError:
    repo = f"{ref.namespace}/{ref.model}"
    page = f"{paths.hub_url()}/{repo}"
    token = bool(_auth())
    if status == 404 or (status == 401 and not token):
        # The Hub hides private and gated repos from anonymous callers behind the same 401 it
        # gives a missing repo (huggingface_hub utils/_http.py hf_raise_for_status).
        why = "" if token else ", or it is private (set HF_TOKEN to a token that can read it)"
        return InputError(f"no model '{repo}' on the Hugging Face Hub{why}")
    if status == 401:
        return QuantpickError(f"the Hugging Face Hub refused HF_TOKEN (401) for {repo}; check "
                              "the token")
    if status == 403:
        return QuantpickError(f"{ref.display.split(':')[0]} is gated or private and HF_TOKEN has "
                              f"no access to it; request access at {page}")
    return QuantpickError(f"{http.host_of(page)} answered HTTP {status} for {repo}")


def list_files(ref: ModelRef) -> tuple[list[HubFile], http.Page]:
    """The repo's files with exact sizes, from the model API."""
    url = f"{paths.hub_url()}/api/models/{quote(ref.namespace or '')}/{quote(ref.model)}?blobs=true"
    page = http.get_text(url, auth=_auth())
    if page.status != 200:
        raise _fail_listing(ref, page.status, page.text)
    try:
        data = json.loads(page.text)
        files = []
        for s in data.get("siblings") or []:
            lfs = s.get("lfs") or {}
            size = lfs.get("size", s.get("size"))
            # A size below 0 or past 16 TiB (or a bool) is no file size: the file is skipped
            # rather than letting an absurd figure through the float arithmetic of the estimate.
            if isinstance(s.get("rfilename"), str) and isinstance(size, int) and \
                    not isinstance(size, bool) and 0 <= size <= registry.MAX_LAYER:
                files.append(HubFile(s["rfilename"], size, lfs.get("sha256") or s.get("blobId")))
    except (ValueError, AttributeError, TypeError, RecursionError):
        raise QuantpickError(f"the Hugging Face Hub sent a file list quantpick cannot read "
                             f"for {ref.namespace}/{ref.model}") from None
    return files, page


def load(ref: ModelRef) -> art.Listing:
    files, page = list_files(ref)
    found = group(files)
    base = ref.display.split(":")[0]
    if not found:
        kinds = sorted({f.path.rsplit(".", 1)[-1].lower() for f in files if "." in f.path})
        has = f" (it holds {', '.join(kinds)} files)" if kinds else ""
        raise InputError(f"{base} has no GGUF model file{has}; Ollama pulls only GGUF repos — "
                         "look for a -GGUF repo of this model")
    artifacts: list[art.Artifact] = []
    for q in found:
        first = q.parts[0]
        tag = library.Tag(
            name=f"{base}:{q.tag}", tag=q.tag, digest=(first.sha256 or "")[:12] or None,
            size_bytes=q.model_bytes + (q.projector.size if q.projector else 0), context=None,
            inputs=["text", "image"] if q.projector else ["text"], updated=None, cloud=False,
            quant=normalise_quant(q.tag) or _extra_quant(q.tag))
        aliases = ["latest"] if q.tag.upper() == DEFAULT_TAG else []
        artifacts.append(HFArtifact(tag, aliases, hf=q))
    artifacts.sort(key=lambda a: (a.download_bytes, a.name))
    return art.Listing(ref, artifacts, [], page)


def _extra_quant(tag: str) -> str | None:
    """Catalogue keys the library grammar does not spell: ternary types, MXFP4_MOE."""
    low = tag.lower()
    if low in ("tq1_0", "tq2_0"):
        return low
    return "mxfp4" if low.startswith("mxfp4") else None


def header(ref: ModelRef, q: HFQuant) -> GGUFInfo:
    """The GGUF header of a quant (its first part), by Range from the Hub, cached by LFS id."""
    first = q.parts[0]
    repo = f"{ref.namespace}/{ref.model}"
    url = f"{paths.hub_url()}/{quote(repo)}/resolve/main/{quote(first.path)}"
    key = f"gguf-info|hf|{first.sha256}" if first.sha256 else f"gguf-info|hf|{repo}|{first.path}"
    try:
        return registry.cached_header(url, key, f"{repo}/{first.path}", label=first.path,
                                      headers=_auth(), allow_hosts=HUB_ALLOW)
    except registry.RangeStatusError as exc:
        page = f"{paths.hub_url()}/{repo}"
        if exc.status == 401 and not _auth():
            raise QuantpickError(f"{ref.display.split(':')[0]} is gated: accept its terms at "
                                 f"{page}, then set HF_TOKEN to a token of that account") from None
        if exc.status in (401, 403):
            raise QuantpickError(f"HF_TOKEN has no access to the gated "
                                 f"{ref.display.split(':')[0]}; request access at {page}") from None
        raise
    except GGUFError as exc:
        raise QuantpickError(f"{repo}/{first.path} is not a GGUF model Ollama can run: "
                             f"{exc}") from None


def attach_arch(ref: ModelRef, artifacts: list[art.Artifact], exact: art.Artifact | None = None
                ) -> list[str]:
    """One header for the repo (the exact target's, else the smallest single file's); the
    parameter count, context and imatrix flag it gives apply to every quant of the repo.
    Returns the warnings for the user (a header that could not be read)."""
    hfa = [a for a in artifacts if isinstance(a, HFArtifact)]
    warnings: list[str] = []
    if not hfa:
        return warnings
    ordered = sorted(hfa, key=lambda a: (a is not exact, a.hf.split, a.model_bytes))
    ref_art = ordered[0]
    info = None
    try:
        info = header(ref, ref_art.hf)
    except registry.RangeStatusError as exc:
        warnings.append(f"warning: {exc}; using a size-based estimate")
    except QuantpickError as exc:
        if "cannot reach" not in str(exc) and "took over" not in str(exc):
            raise
        warnings.append(f"warning: {exc}; using a size-based estimate")
    params_b = active_b = None
    if info is not None and info.param_count:
        params_b = round(info.param_count / 1e9, 1)
        if info.expert_count and info.expert_used_count and info.expert_params:
            idle = info.expert_params * (1 - info.expert_used_count / info.expert_count)
            active_b = round((info.param_count - idle) / 1e9, 1)
    for a in hfa:
        a.params_b, a.active_params_b = params_b, active_b
        if info is None:
            a.arch = fallback_arch(None, a.model_bytes, None)
            a.arch_source = "fallback"
            continue
        a.context = info.context_length
        a.imatrix = info.imatrix
        if a is ref_art:
            a.arch = info
            if a.quant is None and info.file_type:
                a.quant = info.file_type  # a file name without a quant: the header says it
        else:  # a sibling: the shape scaled to its size; its own mix is unknown until read
            a.arch = replace(scale_arch(info, a.model_bytes), type_bytes={}, file_type=None)
        a.arch_source = "header" if a is ref_art else "scaled"
    return warnings

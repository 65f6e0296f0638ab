"""The Ollama registry: manifests (exact layer bytes), config blobs, and GGUF headers by Range.

`GET {registry}/v2/<namespace>/<model>/manifests/<tag>` lists the layers of a tag; the digest
`ollama list` shows is the sha256 of that manifest. The model layer is a GGUF file whose first
megabytes (read with `Range: bytes=0-N`, never the whole blob) give the architecture.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field

from ollama_quantpick import gguf, http
from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.tagname import ModelRef

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MODEL = "application/vnd.ollama.image.model"
PROJECTOR = "application/vnd.ollama.image.projector"
PARAMS = "application/vnd.ollama.image.params"  # the Modelfile's PARAMETER lines, as JSON
FOREVER = float("inf")  # blobs are addressed by digest: they never change
# The version of what a cached header entry holds: bump it when the header reader's output
# changes meaning (a new GGUFInfo field needs no bump: an entry without it is read again).
HEADER_SCHEMA = 3  # 3: one-tensor-per-expert MoE files (old Mixtral) now carry their expert bytes
# The first Range asks for 16 MiB: the reader stops as soon as the tensor table ends, so a large
# first range costs no extra bytes, and it covers the whole header of almost every model in one
# round trip (128k-262k-token vocabularies make 2.5-6 MB headers; bench/RESULTS.md).
FIRST_RANGE = 16 * 2**20
RANGE_DEADLINE_S = 120
# The largest blob any library model has is ~1.3 TB (deepseek-r1:671b-fp16); a layer claimed
# beyond 16 TiB is a broken or hostile manifest, and its size would overflow float arithmetic.
MAX_LAYER = 2**44


class ManifestError(QuantpickError):
    """A manifest that parses but cannot be true (no model layer, a negative or absurd size)."""


@dataclass
class Layer:
    """One blob of a registry manifest."""

    media_type: str
    digest: str
    size: int


@dataclass
class Manifest:
    """A tag's registry manifest: its digest, config blob and layers."""

    digest: str  # sha256 hex of the manifest: what `ollama list` shows
    config_digest: str | None
    layers: list[Layer] = field(default_factory=list)

    def _bytes(self, media_type: str) -> int:
        return sum(layer.size for layer in self.layers if layer.media_type == media_type)

    @property
    def model_layer(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == MODEL), None)

    @property
    def params_layer(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == PARAMS), None)

    @property
    def model_bytes(self) -> int:
        return self._bytes(MODEL)

    @property
    def projector_bytes(self) -> int:
        return self._bytes(PROJECTOR)

    @property
    def download_bytes(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


def _base(ref: ModelRef) -> str:
    from ollama_quantpick.paths import registry_url

    return f"{registry_url()}/v2/{ref.path}"


def parse_manifest(text: str) -> Manifest:
    try:
        data = json.loads(text)
        layers = [Layer(str(x["mediaType"]), str(x["digest"]), int(x["size"]))
                  for x in data.get("layers", [])]
        config = (data.get("config") or {}).get("digest")
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        raise ManifestError(f"the registry sent a manifest quantpick cannot read ({exc})") from None
    # A manifest that reads but cannot be true would make a 29 GB tag "fit" a 16 GB card (no
    # layers: zero bytes) or worse; refused, the caller falls back to the page's size.
    if not layers:
        raise ManifestError("the registry sent a manifest with no layers")
    if bad := next((x for x in layers if not 0 <= x.size <= MAX_LAYER), None):
        from ollama_quantpick.sizes import shown

        raise ManifestError(f"the registry sent a manifest with a layer of {shown(bad.size, 20)} "
                            "bytes")
    if not any(x.media_type == MODEL for x in layers):
        raise ManifestError("the registry sent a manifest with no model layer")
    return Manifest(http.sha256_hex(text.encode("utf-8")), config, layers)


def manifest(ref: ModelRef, tag: str, *, cache_only: bool = False) -> Manifest | None:
    """The manifest of `ref:tag`, or None when the registry has no such tag (404).
    `cache_only`: http.NotCached instead of a request."""
    url = f"{_base(ref)}/manifests/{tag}"
    page = http.get_text(url, headers={"Accept": MANIFEST_ACCEPT}, cache_only=cache_only)
    if page.status == 404:
        return None
    if page.status != 200:
        raise QuantpickError(f"{http.host_of(url)} answered HTTP {page.status} for "
                             f"{http.redact(url)}")
    try:
        return parse_manifest(page.text)
    except ManifestError:
        http.forget(page)  # not kept for a day: the next command asks again
        raise


def config_blob(ref: ModelRef, digest: str, *, cache_only: bool = False) -> dict:
    """The JSON config blob (`model_family`, `model_type` like "70.6B", `file_type`).
    `cache_only`: http.NotCached instead of a request."""
    url = f"{_base(ref)}/blobs/{digest}"
    page = http.get_text(url, ttl=FOREVER, cache_only=cache_only)
    try:
        data = json.loads(page.text) if page.status == 200 else None
    except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested past Python's limit
        data = None
    if not isinstance(data, dict):
        http.forget(page)  # a blob is cached forever: only one that reads as one is kept
        return {}
    return data


def params_blob(ref: ModelRef, digest: str, *, cache_only: bool = False) -> dict:
    """The params blob (`{"num_ctx": 8192, "stop": [...]}`): the model's own defaults."""
    return config_blob(ref, digest, cache_only=cache_only)


class RangeStatusError(QuantpickError):
    """The file host answered a header read with an HTTP error; `status` and the Hub's
    `X-Error-Code` (RepoNotFound, GatedRepo, EntryNotFound) let the caller say what to do."""

    def __init__(self, message: str, status: int, error_code: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code


def _iter_range(url: str, start: int, end: int, headers: dict[str, str] | None = None,
                allow_hosts: Collection[str] | None = None,
                deadline: float | None = None) -> Iterator[bytes]:
    """Bytes [start, end) of `url`, as they arrive. A server that ignores Range (200, whole body)
    is read from the beginning, the first `start` bytes skipped, and cut off at `end`: never a
    multi-gigabyte download. `headers` go with the request (open_stream drops Authorization on a
    redirect to another host); `allow_hosts` limits where a redirect may go; `deadline` (a
    time.monotonic() instant, default RANGE_DEADLINE_S from now) cuts off a server that trickles."""
    import requests

    deadline = time.monotonic() + RANGE_DEADLINE_S if deadline is None else deadline
    try:
        with http.open_stream(url, {**(headers or {}), "Range": f"bytes={start}-{end - 1}"},
                              same_host=False, allow_hosts=allow_hosts) as r:
            if r.status_code not in (200, 206):
                raise RangeStatusError(f"{http.host_of(url)} answered HTTP {r.status_code} for "
                                       f"{http.redact(url)}", r.status_code,
                                       r.headers.get("X-Error-Code"))
            skip = start if r.status_code == 200 else 0
            want = end - start
            for chunk in http.iter_body(r, 256 * 1024):
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                chunk = chunk[:want]
                want -= len(chunk)
                if chunk:
                    yield chunk
                if want <= 0:
                    return
                if time.monotonic() > deadline:
                    raise QuantpickError(f"reading the model header from {http.host_of(url)} "
                                         f"took over {RANGE_DEADLINE_S} s")
    except requests.RequestException:
        raise QuantpickError(f"cannot reach {http.host_of(url)} to read the model header") from None


def _fetch_range(url: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of `url` (see _iter_range)."""
    return b"".join(_iter_range(url, start, end))


def read_header(url: str, what: str = "the model blob", *, headers: dict[str, str] | None = None,
                allow_hosts: Collection[str] | None = None) -> gguf.GGUFInfo:
    """The GGUF header at the start of `url`, read by Range steps that grow by doubling. Each
    piece goes to the parser as it arrives and is parsed once (the parser resumes where it
    stopped); the download stops as soon as the tensor table ends."""
    parser = gguf.HeaderParser()
    have, n = 0, FIRST_RANGE
    deadline = time.monotonic() + RANGE_DEADLINE_S  # one for all steps: a trickle cannot renew it
    while True:
        for chunk in _iter_range(url, have, n, headers, allow_hosts, deadline):
            have += len(chunk)
            if parser.feed(chunk) is not None:
                return parser.info  # type: ignore[return-value]
        if have < n:
            raise gguf.GGUFError(f"{what} ends inside its header")
        n = min(max(parser.needed + 64 * 1024, n * 2), gguf.MAX_HEADER)
        if n <= have:  # the parser wants more than MAX_HEADER: it has raised already
            raise gguf.GGUFError(f"{what} has a header beyond {gguf.MAX_HEADER // 2**20} MiB")


def _cached_info(data: object) -> gguf.GGUFInfo | None:
    """A cached GGUFInfo, or None when a field is missing or of the wrong type (valid JSON from
    another version or a bug): then the header is read again. Every field is written, so a
    missing one means an entry from before the field existed; its default would be a guess
    (a header cached before `layer_expert_bytes` read as a dense model)."""
    from ollama_quantpick import facts

    try:
        return facts.record(gguf.GGUFInfo, data)
    except (TypeError, ValueError):
        return None


def gguf_info(ref: ModelRef, digest: str, *, cache_only: bool = False) -> gguf.GGUFInfo:
    """Architecture of the model blob `digest`, read from its header and cached by digest.
    `cache_only`: http.NotCached instead of a request."""
    return cached_header(f"{_base(ref)}/blobs/{digest}", f"gguf-info|{digest}",
                         f"the model blob {digest[:19]}", label=digest[:19], cache_only=cache_only)


def cached_header(url: str, key: str, what: str, *, label: str,
                  headers: dict[str, str] | None = None,
                  allow_hosts: Collection[str] | None = None,
                  cache_only: bool = False) -> gguf.GGUFInfo:
    """read_header through the cache under `key` (content-addressed: blobs never change). Only a
    header that parsed is cached. `cache_only`: http.NotCached instead of a request."""
    cached = None if http.settings.refresh else http.read_cache(key)
    if cached is not None and cached.get("schema") == HEADER_SCHEMA and \
            (info := _cached_info(cached.get("info"))) is not None:
        return info  # an old, garbled or mistyped entry falls through: the header is read again
    if cache_only and not http.settings.offline:
        raise http.NotCached(url)
    if http.settings.offline:
        raise QuantpickError(f"the header of {label} is not in the cache (--offline)")
    info = read_header(url, what, headers=headers, allow_hosts=allow_hosts)
    http.write_cache(key, {"fetched_at": time.time(), "schema": HEADER_SCHEMA, "info": asdict(info)})
    return info

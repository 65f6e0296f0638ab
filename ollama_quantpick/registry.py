"""The Ollama registry: manifests (exact layer bytes), config blobs, and GGUF headers by Range.

`GET {registry}/v2/<namespace>/<model>/manifests/<tag>` lists the layers of a tag; the digest
`ollama list` shows is the sha256 of that manifest. The model layer is a GGUF file whose first
megabytes (read with `Range: bytes=0-N`, never the whole blob) give the architecture.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

from ollama_quantpick import gguf, http
from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.tagname import ModelRef

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MODEL = "application/vnd.ollama.image.model"
PROJECTOR = "application/vnd.ollama.image.projector"
FOREVER = float("inf")  # blobs are addressed by digest: they never change
FIRST_RANGE = 512 * 1024
RANGE_DEADLINE_S = 120


@dataclass
class Layer:
    media_type: str
    digest: str
    size: int


@dataclass
class Manifest:
    digest: str  # sha256 hex of the manifest: what `ollama list` shows
    config_digest: str | None
    layers: list[Layer] = field(default_factory=list)

    def _bytes(self, media_type: str) -> int:
        return sum(layer.size for layer in self.layers if layer.media_type == media_type)

    @property
    def model_layer(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == MODEL), None)

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
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QuantpickError(f"the registry sent a manifest quantpick cannot read ({exc})") from None
    return Manifest(hashlib.sha256(text.encode("utf-8")).hexdigest(), config, layers)


def manifest(ref: ModelRef, tag: str) -> Manifest | None:
    """The manifest of `ref:tag`, or None when the registry has no such tag (404)."""
    url = f"{_base(ref)}/manifests/{tag}"
    page = http.get_text(url, headers={"Accept": MANIFEST_ACCEPT})
    if page.status == 404:
        return None
    if page.status != 200:
        raise QuantpickError(f"{http.host_of(url)} answered HTTP {page.status} for {url}")
    return parse_manifest(page.text)


def config_blob(ref: ModelRef, digest: str) -> dict:
    """The JSON config blob (`model_family`, `model_type` like "70.6B", `file_type`)."""
    url = f"{_base(ref)}/blobs/{digest}"
    page = http.get_text(url, ttl=FOREVER)
    if page.status != 200:
        return {}
    try:
        data = json.loads(page.text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _fetch_range(url: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of `url`. A server that ignores Range (200, whole body) is read from
    the beginning, the first `start` bytes skipped, and cut off at `end`: never a multi-gigabyte
    download."""
    import requests

    deadline = time.monotonic() + RANGE_DEADLINE_S
    try:
        with http.open_stream(url, {"Range": f"bytes={start}-{end - 1}"}, same_host=False) as r:
            if r.status_code not in (200, 206):
                raise QuantpickError(f"{http.host_of(url)} answered HTTP {r.status_code} for {url}")
            skip = start if r.status_code == 200 else 0
            want = end - start
            buf = bytearray()
            for chunk in http.iter_body(r, 256 * 1024):
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                buf += chunk
                if len(buf) >= want:
                    break
                if time.monotonic() > deadline:
                    raise QuantpickError(f"reading the model header from {http.host_of(url)} "
                                         f"took over {RANGE_DEADLINE_S} s")
            return bytes(buf[:want])
    except requests.RequestException:
        raise QuantpickError(f"cannot reach {http.host_of(url)} to read the model header") from None


def gguf_info(ref: ModelRef, digest: str) -> gguf.GGUFInfo:
    """Architecture of the model blob `digest`, read from its header and cached by digest."""
    key = f"gguf-info|{digest}"
    cached = None if http.settings.refresh else http.read_cache(key)
    if cached is not None:
        try:
            return gguf.GGUFInfo(**cached["info"])
        except (KeyError, TypeError):
            pass  # garbled: read the header again
    if http.settings.offline:
        raise QuantpickError(f"the header of {digest[:19]} is not in the cache (--offline)")
    url = f"{_base(ref)}/blobs/{digest}"
    # Grow the prefix by doubling, fetching only the bytes not yet read: a 2.6 MB header costs
    # 512 KiB + 512 KiB + 1 MiB + 2 MiB, not a fresh download per try.
    data = bytearray()
    n = FIRST_RANGE
    while True:
        more_bytes = _fetch_range(url, len(data), n)
        data += more_bytes
        try:
            info = gguf.parse_header(data)
            break
        except gguf.NeedMore as more:
            if len(data) < n:
                raise gguf.GGUFError(f"the model blob {digest[:19]} ends inside its header") from None
            n = min(max(more.needed + 64 * 1024, n * 2), gguf.MAX_HEADER)
    http.write_cache(key, {"fetched_at": time.time(), "info": asdict(info)})
    return info

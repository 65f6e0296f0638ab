"""A model's downloadable artifacts: library tags grouped by digest, with exact registry sizes and
the architecture read from a GGUF header. This is where library, registry and gguf meet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ollama_quantpick import gguf, http, library, registry
from ollama_quantpick.errors import InputError, QuantpickError
from ollama_quantpick.estimate import fallback_arch, scale_arch
from ollama_quantpick.gguf import GGUFInfo
from ollama_quantpick.quants import Quant, lookup
from ollama_quantpick.tagname import ModelRef, normalise_quant

# Parallel requests on a first, uncached listing: a model's manifests (qwen3 lists 24 tags,
# each a manifest when the page shows no digest) and its headers (one per parameter size) each
# go out in one round instead of several. http.POOL_SIZE keeps a connection for each.
WORKERS = 24


@dataclass
class Artifact:
    """One blob set in the registry, reachable under one or more tags.

    `tag` is the page's row of the most specific name, as the page gave it; what the names, the
    registry's config blob and the GGUF header tell together (quant, sizes, context, digest) is
    kept here, beside it, and never written back into the row."""

    tag: library.Tag  # the most specific tag name (e.g. 70b-instruct-q4_K_M)
    aliases: list[str] = field(default_factory=list)  # the other tags (latest, 70b)
    manifest: registry.Manifest | None = None
    arch: GGUFInfo | None = None
    # header (its own) | scaled (a sibling quant's header scaled to its size) | fallback (sizes
    # from the page: estimated)
    arch_source: str = "fallback"
    num_ctx: int | None = None  # the model's params layer sets num_ctx (beats Ollama's default)
    # Merged facts: None at construction means "what the tag's own row says".
    quant: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    context: int | None = None  # trained context: the page's, else the header's

    def __post_init__(self) -> None:
        self.quant = self.quant or self.tag.quant
        self.params_b = self.params_b or self.tag.params_b
        self.active_params_b = self.active_params_b or self.tag.active_params_b
        self.context = self.context or self.tag.context

    @property
    def name(self) -> str:
        return self.tag.name

    @property
    def tags(self) -> list[str]:
        return [self.tag.tag, *self.aliases]

    @property
    def qat(self) -> bool:
        return "qat" in self.tag.variant

    @property
    def download_bytes(self) -> int:
        return self.manifest.download_bytes if self.manifest else (self.tag.size_bytes or 0)

    @property
    def model_bytes(self) -> int:
        return self.manifest.model_bytes if self.manifest else (self.tag.size_bytes or 0)

    @property
    def projector_bytes(self) -> int:
        return self.manifest.projector_bytes if self.manifest else 0

    @property
    def blocked(self) -> str:
        """Why this artifact may be listed and fitted but never pulled ('' when it may)."""
        return ""

    def matches(self, tag: str) -> bool:
        """Does the user's `MODEL:TAG` name this artifact?"""
        return tag in self.tags

    def rating(self, bpw: float | None) -> Quant:
        """The quant's catalogue entry (quality and speed constants)."""
        return lookup(self.quant, qat=self.qat, bpw=bpw)

    @property
    def native_precision(self) -> bool:
        """gpt-oss was released in MXFP4: its MXFP4 weights lose nothing."""
        arch = self.arch.architecture if self.arch else ""
        return self.quant == "mxfp4" and (arch in ("gptoss", "gpt-oss")
                                          or self.tag.name.startswith("gpt-oss"))

    def to_json(self) -> dict:
        out = self.tag.to_json()
        out.update(quant=self.quant, params_b=self.params_b, active_params_b=self.active_params_b,
                   context=self.context, aliases=self.aliases)
        out["digest"] = self.manifest.short_digest if self.manifest else self.tag.digest
        out["download_bytes"] = self.download_bytes
        return out


@dataclass
class Listing:
    """One model's pullable artifacts, its cloud-only tags, and the notes for the user."""

    ref: ModelRef
    artifacts: list[Artifact]
    cloud: list[library.Tag]
    page: http.Page  # the tags listing as fetched (age, cache state)
    # What the command should tell the user (a registry that gave no manifest, an unreadable
    # header): collected here, rendered by the command, never printed from this module.
    warnings: list[str] = field(default_factory=list)


def _specificity(tag: library.Tag) -> tuple:
    return (tag.quant is not None, tag.params_b is not None, len(tag.tag))


def _manifests(ref: ModelRef, tags: list[str],
               warnings: list[str]) -> dict[str, registry.Manifest | None]:
    refused: list[str] = []
    failed: list[str] = []  # why the registry gave nothing (unreachable, HTTP 500, …)

    def one(tag: str, cache_only: bool = False):
        try:
            return tag, registry.manifest(ref, tag, cache_only=cache_only)
        except registry.ManifestError as exc:
            refused.append(f"{ref.display.split(':')[0]}:{tag}: {exc}")
            return tag, None
        except InputError:
            raise  # the request is wrong (a bad URL): no fallback hides that
        except QuantpickError as exc:
            failed.append(str(exc))
            return tag, None
    found = dict(http.map_cache_first(one, tags, WORKERS))  # Ctrl-C never waits for the pool
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        warnings.append(f"warning: {sorted(refused)[0]}{more}; its size is the page's "
                        "(estimated)")
    if tags and not any(found.values()):
        why = f" ({sorted(failed)[0]})" if failed else ""
        warnings.append(f"warning: the registry gave no manifest for {ref.display}{why}; sizes "
                        "and fit are estimated from the page")
    return found


def load(ref: ModelRef, *, fetched: tuple | None = None) -> Listing:
    """Scrape the tags page, group tags that share a digest, read exact sizes from the registry.
    `fetched`: the (tags, page) of library.fetch_tags when the caller already has them. A Hugging
    Face repo (`hf.co/OWNER/REPO`) is listed from the Hub instead (hf.py)."""
    if ref.is_hf:
        from ollama_quantpick import hf

        return hf.load(ref)
    tags, page = fetched or library.fetch_tags(ref)
    local = [t for t in tags if not t.cloud]
    cloud = [t for t in tags if t.cloud]
    manifests: dict[str, registry.Manifest | None] = {}
    warnings: list[str] = []
    if local:
        # One manifest per digest the page shows; every tag where it shows none.
        wanted, seen = [], set()
        for t in sorted(local, key=_specificity, reverse=True):
            if t.digest is None or t.digest not in seen:
                wanted.append(t.tag)
                seen.add(t.digest)
        manifests = _manifests(ref, wanted, warnings)
    groups: dict[str, list[library.Tag]] = {}
    for t in local:
        m = manifests.get(t.tag)
        key = t.digest or (m.short_digest if m else None) or f"tag:{t.tag}"
        groups.setdefault(key, []).append(t)
    _group_page_aliases(groups)
    artifacts = []
    for members in groups.values():
        members.sort(key=_specificity, reverse=True)
        head = members[0]
        manifest = next((manifests[m.tag] for m in members if manifests.get(m.tag)), None)
        # What the names say together: the most specific first (`latest` says nothing).
        artifacts.append(Artifact(
            head, [alias.tag for alias in members[1:]], manifest,
            quant=next((t.quant for t in members if t.quant), None),
            params_b=next((t.params_b for t in members if t.params_b), None),
            active_params_b=next((t.active_params_b for t in members if t.active_params_b), None)))
    _fill_from_config(ref, artifacts)
    artifacts.sort(key=lambda a: (a.download_bytes, a.name))
    return Listing(ref, artifacts, cloud, page, warnings)


def _group_page_aliases(groups: dict[str, list[library.Tag]]) -> None:
    """With neither a digest on the page nor a manifest, `14b` and `latest` stood as rows of
    their own beside `14b-q4_K_M`, the same download rated three ways. A tag whose name gives no
    quant joins the one tag with a quant whose page size and parameter count agree; when
    several could be it, it stays alone (a guess must not merge two downloads)."""
    alone = {k: v[0] for k, v in groups.items() if k.startswith("tag:") and len(v) == 1}
    for key, tag in alone.items():
        if tag.quant is not None or tag.size_bytes is None:
            continue
        matches = [k for k, t in alone.items()
                   if t.quant is not None and t.size_bytes == tag.size_bytes
                   and tag.params_b in (None, t.params_b)]
        if len(matches) == 1:
            groups[matches[0]] += groups.pop(key)


def _fill_from_config(ref: ModelRef, artifacts: list[Artifact]) -> None:
    """Quant and parameter count from the config blob when no tag name gives them."""
    for a in artifacts:
        if (a.quant and a.params_b) or not a.manifest or not a.manifest.config_digest:
            continue
        try:
            config = registry.config_blob(ref, a.manifest.config_digest)
        except QuantpickError:
            continue
        if not a.quant and isinstance(config.get("file_type"), str):
            a.quant = normalise_quant(config["file_type"]) or config["file_type"].lower()
        model_type = str(config.get("model_type", ""))
        if not a.params_b and model_type[:-1].replace(".", "", 1).isdigit():
            scale = {"B": 1.0, "M": 0.001}.get(model_type[-1:].upper())
            if scale:
                a.params_b = float(model_type[:-1]) * scale


def attach_params_later(ref: ModelRef, artifacts: list[Artifact]) -> Callable[[], None]:
    """num_ctx from each params layer (one request per distinct blob, cached for good; an
    unreadable blob leaves Ollama's default in force), begun now: from the cache at once, else
    in the background, beside the headers' round rather than after it. Call the result to wait."""
    def num_ctx(digest: str, cache_only: bool = False) -> int | None:
        try:
            value = registry.params_blob(ref, digest, cache_only=cache_only).get("num_ctx")
        except QuantpickError:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else None

    layers = {a.name: a.manifest.params_layer for a in artifacts if a.manifest}
    digests = list(dict.fromkeys(layer.digest for layer in layers.values() if layer))

    def attach(found: dict[str, int | None]) -> None:
        for a in artifacts:
            if (layer := layers.get(a.name)) is not None:
                a.num_ctx = found[layer.digest]
    try:
        attach({digest: num_ctx(digest, cache_only=True) for digest in digests})
    except http.NotCached:
        return http.in_background(
            lambda: attach(dict(zip(digests, http.map_cache_first(num_ctx, digests, WORKERS)))))
    return lambda: None


def attach_arch(ref: ModelRef, artifacts: list[Artifact], exact: Artifact | None = None) -> list[str]:
    """Read one GGUF header per parameter size (the smallest blob's), all sizes at once, and scale
    it to the sibling quants; `exact` gets its own header. Without a header: a marked fallback.
    Returns the warnings for the user (the first unreadable header)."""
    if ref.is_hf:
        from ollama_quantpick import hf

        return hf.attach_arch(ref, artifacts, exact)
    groups: dict[tuple, list[Artifact]] = {}
    for a in artifacts:
        groups.setdefault((a.params_b, a.active_params_b), []).append(a)
    refs = []
    for members in groups.values():
        ordered = sorted(members, key=lambda a: (a is not exact, a.model_bytes))
        refs.append(next((a for a in ordered if a.manifest and a.manifest.model_layer), None))

    def header_of(ref_art: Artifact | None,
                  cache_only: bool = False) -> tuple[GGUFInfo | None, str | None]:
        if ref_art is None or ref_art.manifest is None or ref_art.manifest.model_layer is None:
            return None, None
        try:
            header = registry.gguf_info(ref, ref_art.manifest.model_layer.digest,
                                        cache_only=cache_only)
            if header.tensor_bytes > ref_art.model_bytes:
                # The blob cannot hold the tensors its header lists: the header lies.
                raise gguf.GGUFError(
                    f"the header of {ref_art.name} lists {header.tensor_bytes} bytes of "
                    f"tensors in a {ref_art.model_bytes}-byte blob; not trusted")
            return header, None
        except InputError:
            raise
        except QuantpickError as exc:
            return None, f"warning: {exc}; using a size-based estimate"

    wanted = [r for r in refs if r is not None]
    found = dict(zip(map(id, wanted), http.map_cache_first(header_of, wanted, WORKERS)))
    warnings = [w for _, w in found.values() if w][:1]
    for members, ref_art in zip(groups.values(), refs):
        header = found[id(ref_art)][0] if ref_art is not None else None
        for a in members:
            if a.context is None and header is not None:
                a.context = header.context_length  # the older page layout shows none
            if header is not None:
                a.arch = header if a is ref_art else scale_arch(header, a.model_bytes)
                # Without its own manifest the size is the page's rounded figure: estimated.
                a.arch_source = "fallback" if a.manifest is None else \
                    "header" if a is ref_art else "scaled"
            else:
                a.arch = fallback_arch(a.params_b, a.model_bytes, a.context)
                a.arch_source = "fallback"
    return warnings

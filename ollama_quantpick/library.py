"""Read the ollama.com library: a model's tag listing and its model page, fetched through the
cache; what is parsed from them (pages.py) is kept as facts, so a cached answer parses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import quote

from ollama_quantpick import http
from ollama_quantpick.errors import QuantpickError, UnknownModel
from ollama_quantpick.tagname import ModelRef

LAYOUT_ERROR = (
    "the Ollama library page layout was not understood ({url}); if a network login page "
    "(hotel WiFi, a proxy) is in the way, sign in and run it again; else quantpick may need an "
    "update — please report it"
)


@dataclass
class Tag:
    """One row of a model's tag listing, plus what its name says."""

    name: str  # model:tag
    tag: str
    digest: str | None  # the 12-hex id ollama.com shows (or the registry's, when the page has none)
    size_bytes: int | None
    context: int | None
    inputs: list[str]
    updated: str | None
    cloud: bool
    params_b: float | None = None
    active_params_b: float | None = None
    variant: list[str] = field(default_factory=list)
    quant: str | None = None
    latest: bool = False

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class ModelInfo:
    """The model page: its description and capability badges."""

    name: str
    description: str | None
    capabilities: list[str]
    sizes: list[str]


def tags_url(ref: ModelRef) -> str:
    return f"{http_base()}{quote(ref.page_path)}/tags"


def http_base() -> str:
    from ollama_quantpick.paths import library_url

    return library_url()


def fetch_tags(ref: ModelRef) -> tuple[list[Tag], http.Page]:
    """Fetch and parse the tags page (the parse memoized in facts.py, so a cached page is not
    parsed again); unknown model → InputError (exit 2) with close matches."""
    url = tags_url(ref)
    page = http.get_text(url)
    if page.status == 404:
        hint = suggest(ref)
        # a name the library does not have is a bad request (exit 2), as the README says
        raise UnknownModel(f"no model '{ref.display.split(':')[0]}' in the Ollama library{hint}")
    if page.status != 200:
        raise QuantpickError(f"{http.host_of(url)} answered HTTP {page.status} for "
                             f"{http.redact(url)}")
    from ollama_quantpick import facts

    def parse(text: str) -> list[Tag]:
        from ollama_quantpick.pages import parse_tags_page

        return parse_tags_page(text, ref, url)

    try:
        tags = facts.parsed("tags", page.text, parse,
                            lambda tags: [asdict(t) for t in tags],
                            lambda rows: [facts.record(Tag, row) for row in _listed(rows)],
                            context=ref.page_path)
    except QuantpickError:
        # Not kept: a page quantpick cannot read (a captive portal's login page where ollama.com
        # should be) would fail every command for a day after the network is fixed.
        http.forget(page)
        raise
    return tags, page


def _listed(rows: object) -> list:
    if not isinstance(rows, list):
        raise TypeError("cached tags are not a list")  # facts.parsed: parse the page again
    return rows


def suggest(ref: ModelRef) -> str:
    """`; did you mean 'llama3.3'?` from the site's search, or '' when nothing close is found."""
    try:
        page = http.get_text(f"{http_base()}/search?q={quote(ref.model[:3])}")
        from ollama_quantpick.pages import parse_search_page

        names = parse_search_page(page.text) if page.status == 200 else []
    except QuantpickError:
        return ""
    import difflib

    close = difflib.get_close_matches(ref.model, names, n=3, cutoff=0.6)
    return "; did you mean " + " or ".join(f"'{n}'" for n in close) + "?" if close else ""


def model_info_later(ref: ModelRef) -> Callable[[], ModelInfo | None]:
    """Start reading the model page now, in a daemon thread (so it never holds up Ctrl-C), while
    the caller does other work; call the result to get it (fetch_model_info's answer). A page
    the cache holds is read at once, with no thread."""
    try:
        info = fetch_model_info(ref, cache_only=True)
        return lambda: info
    except http.NotCached:
        return http.in_background(lambda: fetch_model_info(ref))


def fetch_model_info(ref: ModelRef, *, cache_only: bool = False) -> ModelInfo | None:
    """The model page (parsed, cached as facts), or None when it cannot be had (it only
    decorates the output). `cache_only`: http.NotCached instead of a request."""
    from ollama_quantpick import facts

    try:
        page = http.get_text(f"{http_base()}{quote(ref.page_path)}", cache_only=cache_only)
        if page.status != 200:
            return None

        def parse(text: str) -> ModelInfo:
            from ollama_quantpick.pages import parse_model_page

            return parse_model_page(text, ref)

        try:
            return facts.parsed("model-page", page.text, parse,
                                asdict, lambda d: facts.record(ModelInfo, d),
                                context=ref.page_path)
        except QuantpickError:
            http.forget(page)  # not kept: the next command reads the page again
            raise
    except QuantpickError:
        return None

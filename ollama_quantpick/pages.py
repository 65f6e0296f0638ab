"""ollama.com's pages → facts: a model's tag rows, its model page, search results. Pure: text
in, dataclasses out; library.py fetches the pages and keeps the answers.

Rows are found by meaning, not by CSS classes (which change): a tag row is a link to
`/library/<model>:<tag>` (or `/<user>/<model>:<tag>`), and its facts are in the info line
`43GB · 128K context window · Text · 1 year ago` (or, in the wide layout, the cells beside the
link). What the pages look like: docs/library-pages.md. Imported only when a page is parsed, not
for a cached answer.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.library import LAYOUT_ERROR, ModelInfo, Tag
from ollama_quantpick.paths import redact
from ollama_quantpick.tagname import ModelRef, TagInfo, parse_tag

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(TB|GB|MB|KB|B)$", re.IGNORECASE | re.ASCII)
_CTX_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KM]?)(?:\s+context(?:\s+window)?)?$",
                     re.IGNORECASE | re.ASCII)
_DIGEST_RE = re.compile(r"^[0-9a-f]{12}$")
_INPUT_WORDS = {"text", "image", "audio", "video"}
_DECIMAL = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SEP_RE = re.compile(r"\s*[·•]\s*")


# A page figure beyond these is not a model (and past ~1e308 not even a float): ignored.
MAX_PAGE_SIZE = 2**44  # 16 TiB; the largest library download is ~1.3 TB
MAX_PAGE_CTX = 2**26


def parse_page_size(text: str) -> int | None:
    """`43GB` → 43e9 bytes (the site's decimal units); None when no sane size."""
    m = _SIZE_RE.match(text.strip())
    if not m or len(m.group(1)) > 20:
        return None
    value = float(m.group(1)) * _DECIMAL[m.group(2).upper()]
    return int(value) if value <= MAX_PAGE_SIZE else None


def parse_context(text: str) -> int | None:
    """`128K` → 131072, `1M` → 1048576, `40K context window` → 40960."""
    m = _CTX_RE.match(text.strip())
    if not m or not m.group(2) and "context" not in text.lower() or len(m.group(1)) > 20:
        return None
    value = float(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2}[m.group(2).upper()]
    return int(value) if value <= MAX_PAGE_CTX else None


def _inputs(low: str) -> list[str]:
    """`text, image input` (compact row) or `text, image` (wide row) → ["text", "image"]."""
    return [w.strip() for w in re.sub(r"\s+inputs?$", "", low).split(",")]


def _classify(pieces: list[str], row: dict) -> None:
    """Sort the info line's pieces into size, context, inputs, digest and age."""
    for piece in pieces:
        low = piece.lower()
        if not piece or low == "latest" or low == row["tag"].lower():
            continue
        if row["digest"] is None and _DIGEST_RE.match(piece):
            row["digest"] = piece
        elif row["size"] is None and (size := parse_page_size(piece)) is not None:
            row["size"] = size
        elif row["context"] is None and (ctx := parse_context(piece)) is not None:
            row["context"] = ctx
        elif not row["inputs"] and {w.strip() for w in _inputs(low)} <= _INPUT_WORDS:
            row["inputs"] = _inputs(low)
        elif row["updated"] is None and ("ago" in low or low.startswith("updated")):
            row["updated"] = re.sub(r"^updated\s+", "", piece, flags=re.IGNORECASE)
        elif "usage" in low or low == "cloud":
            row["cloud_words"] = True


def _path(href: str) -> str:
    try:
        return urlsplit(href).path
    except ValueError:  # a mangled href (e.g. unbalanced '[') is no link to a tag
        return ""


def _tag_of(href: str, prefix: str) -> str | None:
    path = _path(href)
    return path[len(prefix):] if path.startswith(prefix) and len(path) > len(prefix) else None


def _soup(html: str, url: str = ""):
    """The parsed page; markup Python's HTML parser rejects (e.g. a broken `<![` section) is a
    page layout quantpick does not understand, not a traceback."""
    from bs4 import BeautifulSoup
    from bs4.exceptions import ParserRejectedMarkup

    try:
        return BeautifulSoup(html, "html.parser")
    except ParserRejectedMarkup:
        raise QuantpickError(LAYOUT_ERROR.format(url=url)) from None


# Elements that never hold content (the HTML spec's void elements) and whose text is no page text.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
_RAW = frozenset({"script", "style", "template", "noscript"})
# One token of markup. A tag's attributes may hold quoted values with '>' but never '<', so no
# attempt to match reads past the next '<': the scan stays linear even on hostile markup, and a tag
# the pattern refuses is left as text. Comments are found by hand (their end may be far away).
_TOKEN_RE = re.compile(r"""<(?:
      (!--)
    | (/)?([A-Za-z][^\s/<>]*)((?:[^<>"']|"[^"<]*"|'[^'<]*')*)>
    | [!?][^<>]*>
    )""", re.VERBOSE)
_HREF_RE = re.compile(r"(?:^|\s)href\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+))", re.IGNORECASE)
_MAX_CLOSE_SEARCH = 256  # an end tag closes an element at most this deep (bounds hostile nesting)


class _El:
    """One element of the page: its name, parent, the span of page strings inside it, and the
    tag links inside it (the first tag named, and whether a second one is)."""

    __slots__ = ("name", "parent", "start", "end", "first", "multi")

    def __init__(self, name: str, parent: _El | None, start: int):
        self.name, self.parent, self.start, self.end = name, parent, start, -1
        self.first: str | None = None
        self.multi = False


def _scan(html: str, prefix: str) -> tuple[list[str], list[tuple[_El, str]]]:
    """One pass over the page: its strings (stripped, in order; script/style text and comments
    left out, as BeautifulSoup's get_text does) and every link to a tag with its element.

    Hand-written rather than BeautifulSoup: building bs4's tree costs ~0.7 ms per row (3.6 s for
    5,000 rows), this scanner a fraction of it. Every step moves forward through the text, and an
    end tag searches at most _MAX_CLOSE_SEARCH open elements, so hostile markup stays linear.
    """
    from html import unescape

    texts: list[str] = []
    links: list[tuple[_El, str]] = []
    stack = [_El("[document]", None, 0)]
    search, find, n = _TOKEN_RE.search, html.find, len(html)
    raw_end: dict[str, re.Pattern] = {}

    def add_text(chunk: str) -> None:
        if "&" in chunk:
            chunk = unescape(chunk)
        chunk = chunk.strip()
        if chunk:
            texts.append(chunk)

    def close(el: _El) -> None:
        el.end = len(texts)
        parent = el.parent
        if el.first is not None and parent is not None:
            if parent.first is None:
                parent.first = el.first
            elif parent.first != el.first:
                parent.multi = True
            if el.multi:
                parent.multi = True

    pos = 0
    while pos < n:
        m = search(html, pos)
        if m is None:
            add_text(html[pos:])
            break
        if m.start() > pos:
            add_text(html[pos:m.start()])
        comment, closing, name, attrs = m.groups()
        pos = m.end()
        if comment:
            end = find("-->", pos)
            pos = n if end < 0 else end + 3
            continue
        if name is None:  # doctype, CDATA, processing instruction
            continue
        name = name.lower()
        if closing:
            for depth in range(len(stack) - 1, max(0, len(stack) - 1 - _MAX_CLOSE_SEARCH), -1):
                if stack[depth].name == name:
                    while len(stack) > depth:
                        close(stack.pop())
                    break
            continue
        el = _El(name, stack[-1], len(texts))
        if name == "a" and (h := _HREF_RE.search(attrs)):
            href = unescape(h.group(1) or h.group(2) or h.group(3) or "")
            if (tag := _tag_of(href, prefix)) is not None:
                el.first = tag
                links.append((el, tag))
        if name in _VOID or attrs.endswith("/"):
            close(el)
        elif name in _RAW:
            if name not in raw_end:
                raw_end[name] = re.compile(rf"</{name}\s*>", re.IGNORECASE)
            end_m = raw_end[name].search(html, pos)
            pos = n if end_m is None else end_m.end()
            close(el)
        else:
            stack.append(el)
    while stack:
        close(stack.pop())
    return texts, links


def _pieces_of(texts: list[str], el: _El) -> list[str]:
    return [p for text in texts[el.start:el.end] for line in text.split("\n")
            for p in _SEP_RE.split(line)]


def parse_tags_page(html: str, ref: ModelRef, url: str = "") -> list[Tag]:
    """Every tag row of a tags page, in page order, each tag once. Linear in the page's size.

    Raises QuantpickError when the page is a 200 but holds no tag row (layout changed).
    """
    prefix = f"{ref.page_path}:"
    texts, links = _scan(html, prefix)
    rows: dict[str, dict] = {}
    for a, tag in links:
        row = rows.setdefault(tag, {"tag": tag, "digest": None, "size": None, "context": None,
                                    "inputs": [], "updated": None, "latest": False})
        # The compact link holds the info line itself; in the wide layout the facts sit in cells
        # beside the link, so widen to the largest ancestor that links to no other tag (each
        # element knows that from the scan: no search of the page per link).
        node = a
        for _ in range(5):
            parent = node.parent
            if parent is None or parent.name in ("body", "html", "[document]") or parent.multi:
                break
            node = parent
        pieces = _pieces_of(texts, node)
        row["latest"] = row["latest"] or any(p.lower() == "latest" for p in pieces if tag != "latest")
        _classify(pieces, row)
    tags = []
    for row in rows.values():
        info: TagInfo = parse_tag(row["tag"])
        tag = row["tag"]
        cloud = tag == "cloud" or tag.endswith("-cloud") or (
            row["size"] is None and row.get("cloud_words", False))
        tags.append(Tag(
            name=f"{ref.display.split(':')[0]}:{tag}", tag=tag, digest=row["digest"],
            size_bytes=row["size"], context=row["context"], inputs=row["inputs"] or ["text"],
            updated=row["updated"], cloud=cloud, params_b=info.params_b,
            active_params_b=info.active_params_b, variant=list(info.variant), quant=info.quant,
            latest=row["latest"],
        ))
    if not tags or not any(t.size_bytes or t.cloud for t in tags):
        raise QuantpickError(LAYOUT_ERROR.format(url=redact(url)))
    return tags


def parse_search_page(html: str) -> list[str]:
    """Model names listed on /library or /search (links to `/library/<model>`)."""
    names = []
    for a in _soup(html).find_all("a", href=True):
        path = _path(a["href"])
        if path.startswith("/library/") and ":" not in path:
            name = path.removeprefix("/library/").strip("/")
            if name and "/" not in name and name not in names:
                names.append(name)
    return names


def parse_model_page(html: str, ref: ModelRef) -> ModelInfo:
    """Description (meta tag, else first paragraph) and the `x-test-*` capability/size badges."""
    soup = _soup(html)
    # A model page links to its tags and marks its sizes; a network's login page where
    # ollama.com should be does neither, and must not be kept as this model's page.
    if not soup.find(href=f"{ref.page_path}/tags") and not soup.find(attrs={"x-test-size": True}):
        raise QuantpickError(LAYOUT_ERROR.format(url=redact(ref.page_path)))
    meta = soup.find("meta", attrs={"name": "description"})
    description = meta.get("content") if meta else None
    if not description and (p := soup.find("p")):
        description = p.get_text(" ", strip=True)

    def badges(attr: str) -> list[str]:
        seen: list[str] = []
        for el in soup.find_all(attrs={attr: True}):
            text = el.get_text(" ", strip=True).lower()
            if text and text not in seen:
                seen.append(text)
        return seen

    return ModelInfo(ref.display.split(":")[0], description, badges("x-test-capability"),
                     badges("x-test-size"))

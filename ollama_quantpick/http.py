"""HTTP done once: one requests session, timeouts, retries with backoff, a user agent, and an
on-disk cache with a TTL.

Why not requests-cache: importing it (with cattrs and url-normalize) costs more start-up time than
this whole module, and quantpick needs only "GET text, keep it for a while, answer offline from it".
Each cache entry is one JSON file written atomically (temp file + rename), so two quantpick
processes filling the cache at once leave valid entries, and a garbled file is simply refetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ollama_quantpick import __version__
from ollama_quantpick.errors import QuantpickError

TIMEOUT = (5, 30)  # seconds: connect, read
RETRIES = 3  # attempts on connection errors and 5xx
BACKOFF = 0.5  # seconds, doubled after each failed attempt; tests set it to 0
MAX_BODY = 20 * 2**20  # a tags page is ~100 kB; anything past 20 MiB is not a page
BODY_DEADLINE_S = 60  # a body still trickling in after this long is cut off
MAX_REDIRECTS = 5
DEFAULT_TTL = 24 * 3600
USER_AGENT = f"quantpick/{__version__} (+https://github.com/quantpick/quantpick)"


@dataclass
class Settings:
    """How this process uses the cache (set once by the CLI from flags and config)."""

    ttl: float = DEFAULT_TTL
    offline: bool = False
    refresh: bool = False


settings = Settings()
_session = None
_warned_cache = False


@dataclass
class Page:
    """A fetched (or cached) text response."""

    url: str
    status: int
    text: str
    fetched_at: float
    from_cache: bool = False
    stale: bool = False  # served from an expired cache entry because the network failed

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.fetched_at)


def session():
    """The one requests session (created on first use: importing requests costs ~60 ms)."""
    global _session
    if _session is None:
        import requests

        _session = requests.Session()
        _session.headers["User-Agent"] = USER_AGENT
    return _session


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


def _warn_once(message: str) -> None:
    global _warned_cache
    if not _warned_cache:
        _warned_cache = True
        print(f"warning: {message}", file=sys.stderr)


def _cache_path(key: str) -> Path:
    from ollama_quantpick.paths import cache_dir

    digest = hashlib.sha256(key.encode()).hexdigest()
    return cache_dir() / "http" / digest[:2] / f"{digest}.json"


def read_cache(key: str) -> dict | None:
    """The cached entry for `key`, or None when absent or unreadable (a garbled file is ignored)."""
    try:
        data = json.loads(_cache_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("fetched_at"), (int, float)):
        return None
    return data


def write_cache(key: str, data: dict) -> None:
    """Write atomically; a read-only or full cache dir degrades to 'no cache' with one warning."""
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        _warn_once(f"cache not writable ({exc.strerror or exc}); continuing without a cache")


@contextmanager
def open_stream(url: str, headers: dict[str, str] | None = None, *,
                same_host: bool = True) -> Iterator:
    """A streamed GET that follows redirects itself: never from https to http, and with
    `same_host` never to another host (pages and manifests; blobs legitimately redirect to a
    storage host)."""
    origin = urlsplit(url)
    for _ in range(MAX_REDIRECTS + 1):
        r = session().get(url, headers=headers, timeout=TIMEOUT, stream=True,
                          allow_redirects=False)
        if not r.is_redirect:
            try:
                yield r
            finally:
                r.close()
            return
        target = urljoin(url, r.headers.get("Location", ""))
        r.close()
        dest = urlsplit(target)
        if origin.scheme == "https" and dest.scheme != "https":
            raise QuantpickError(f"{origin.netloc} redirected to plain http ({target}); refused")
        if same_host and dest.netloc != origin.netloc:
            raise QuantpickError(f"{origin.netloc} redirected to another host ({dest.netloc}); "
                                 "refused")
        url = target
    raise QuantpickError(f"{origin.netloc} redirected more than {MAX_REDIRECTS} times; refused")


def iter_body(r, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body as it arrives (urllib3's read1), so a byte or time limit holds even against a
    server that trickles: `iter_content(n)` would wait for n bytes before yielding anything."""
    raw = r.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2.3
        yield from r.iter_content(1024)
        return
    while chunk := raw.read1(size, decode_content=True):
        yield chunk


def _decode(r, body: bytes) -> str:
    """The page's text: its declared charset, else UTF-8 (requests would guess Latin-1 for
    text/* and garble the info line's '·')."""
    declared = "charset=" in r.headers.get("Content-Type", "").lower()
    return body.decode(r.encoding if declared and r.encoding else "utf-8", errors="replace")


def _fetch(url: str, headers: dict[str, str] | None) -> tuple[int, str]:
    """GET with retries on connection errors and 5xx; returns (status, text). The body is cut
    off past MAX_BODY bytes or BODY_DEADLINE_S seconds."""
    import requests

    delay = BACKOFF
    last: Exception | None = None
    for attempt in range(RETRIES):
        if attempt:
            time.sleep(delay)
            delay *= 2
        try:
            with open_stream(url, headers) as r:
                body = bytearray()
                deadline = time.monotonic() + BODY_DEADLINE_S
                for chunk in iter_body(r):
                    body += chunk
                    if len(body) > MAX_BODY or time.monotonic() > deadline:
                        raise QuantpickError(
                            f"{host_of(url)} sent more than {MAX_BODY // 2**20} MiB or took over "
                            f"{BODY_DEADLINE_S} s for {url}; this is not a page quantpick "
                            "understands")
                if r.status_code >= 500:
                    last = QuantpickError(f"{host_of(url)} answered HTTP {r.status_code}")
                    continue
                return r.status_code, _decode(r, bytes(body))
        except requests.Timeout:
            last = QuantpickError(f"{host_of(url)} did not answer in time")
        except requests.ConnectionError:
            last = QuantpickError(f"cannot reach {host_of(url)} — check the network connection")
        except requests.RequestException as exc:
            raise QuantpickError(f"request to {host_of(url)} failed: {exc}") from None
    assert last is not None
    raise last


def get_text(url: str, *, headers: dict[str, str] | None = None, ttl: float | None = None) -> Page:
    """GET `url` through the cache. 404s are cached too (an unknown model stays unknown a while).

    Offline: answer from the cache alone. Network failure with a cached copy of any age: answer
    from it, marked stale, so the caller can say how old it is.
    """
    key = url + "|" + json.dumps(headers or {}, sort_keys=True)
    ttl = settings.ttl if ttl is None else ttl
    cached = None if settings.refresh else read_cache(key)
    if cached is not None:
        page = Page(url, int(cached.get("status", 200)), str(cached.get("text", "")),
                    cached["fetched_at"], from_cache=True)
        if settings.offline or page.age_s < ttl:
            return page
    if settings.offline:
        if settings.refresh:
            raise QuantpickError("--offline and --refresh contradict each other; use one")
        raise QuantpickError(f"{url} is not in the cache; run once without --offline")
    try:
        status, text = _fetch(url, headers)
    except QuantpickError:
        stale = read_cache(key)
        if stale is None:
            raise
        return Page(url, int(stale.get("status", 200)), str(stale.get("text", "")),
                    stale["fetched_at"], from_cache=True, stale=True)
    page = Page(url, status, text, time.time())
    if status == 200 or status == 404:
        write_cache(key, {"url": url, "status": status, "text": text, "fetched_at": page.fetched_at})
    return page


def describe_age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"

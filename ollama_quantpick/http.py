"""HTTP done once: one requests session, timeouts, retries with backoff, a user agent, and an
on-disk cache with a TTL.

Why not requests-cache: importing it (with cattrs and url-normalize) costs more start-up time than
this whole module, and quantpick needs only "GET text, keep it for a while, answer offline from it".
Each cache entry is one JSON file written atomically (temp file + rename), so two quantpick
processes filling the cache at once leave valid entries, and a garbled file is simply refetched.

A host that does not answer costs one command at most `STALL_BUDGET_S` seconds in all, whatever
the number of requests and threads waiting on it, and the wait is said on stderr. URLs are shown
and hashed into cache names only with their credentials removed (`paths.redact`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from ollama_quantpick import __version__
from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.paths import redact

TIMEOUT = (5, 10)  # seconds: connect, read (a socket silent this long counts as a stall)
RETRIES = 3  # attempts on connection errors and 5xx
BACKOFF = 0.5  # seconds, doubled after each failed attempt; tests set it to 0
# Once a request has stalled, the command waits at most this long in all (every host, every
# thread) before giving up: 30 s, then one line, instead of 3 tries × 30 s read timeouts.
STALL_BUDGET_S = 30.0
MAX_BODY = 20 * 2**20  # a tags page is ~100 kB; anything past 20 MiB is not a page
BODY_DEADLINE_S = 30  # a body still trickling in after this long is cut off
MAX_REDIRECTS = 5
DEFAULT_TTL = 24 * 3600
# A writer holds its temp file for milliseconds; one an hour old was left by a killed process.
ORPHAN_AGE_S = 3600
T = TypeVar("T")
USER_AGENT = f"quantpick/{__version__} (+https://github.com/quantpick/quantpick)"


def to_stderr(level: str, message: str) -> None:
    """`note: …` or `warning: …` on stderr, at once."""
    print(f"{level}: {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    """How this process uses the cache (set once by the CLI from flags and config)."""

    ttl: float = DEFAULT_TTL
    offline: bool = False
    refresh: bool = False
    # Where the news that cannot wait for the answer goes ("note": a host is not answering,
    # "warning": the cache cannot be written): said while the command waits, from any thread.
    # The CLI routes it (-q drops the notes).
    notify: Callable[[str, str], None] = to_stderr


settings = Settings()
_session = None
_warned_cache = False


class _Stalls:
    """The command's shared stall clock: started by the first request that times out; every
    later attempt gets only the time left, and none is made once it has run out. It stops when
    every host that stalled has answered again: a stall that is over costs nothing later (a
    `sync` of many models must not be refused 30 s after one slow answer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: float | None = None
        self.noted: set[str] = set()
        self.stalling: set[str] = set()  # hosts whose last request timed out

    def timeout(self, host: str) -> tuple[float, float]:
        """(connect, read) seconds for the next attempt; QuantpickError when none is left."""
        with self.lock:
            if self.started is None:
                return TIMEOUT
            left = self.started + STALL_BUDGET_S - time.monotonic()
        if left <= 0.05:
            raise QuantpickError(f"{host} is not answering; gave up after waiting "
                                 f"{STALL_BUDGET_S:.0f} s — check the network and try again")
        return (min(TIMEOUT[0], left), min(TIMEOUT[1], left))

    def stalled(self, host: str, since: float) -> None:
        """Record that a request to `host`, begun at `since`, timed out; say so once per host."""
        with self.lock:
            if self.started is None:
                self.started = since
            self.stalling.add(host)
            first = host not in self.noted
            self.noted.add(host)
        if first:
            settings.notify("note", f"{host} is not answering; retrying for up to "
                            f"{STALL_BUDGET_S:.0f} s")

    def answered(self, host: str) -> None:
        """A request to `host` got an answer: its stall is over, and with no other host stalling
        the clock stops (the next stall starts a new budget)."""
        with self.lock:
            if self.started is None:
                return
            self.stalling.discard(host)
            if not self.stalling:
                self.started = None


stalls = _Stalls()


def parallel_map(fn: Callable, items: Iterable, workers: int) -> list:
    """`list(map(fn, items))` on a thread pool that never holds up Ctrl-C: on any exception
    (KeyboardInterrupt included) the pool is left without waiting for requests in flight, which
    the CLI then abandons with the process."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def map_cache_first(fn: Callable[..., T], items: Iterable, workers: int) -> list[T]:
    """`[fn(x) for x in items]`: each first as `fn(x, cache_only=True)` in this thread (an answer
    from the cache, or NotCached), then the misses together on `parallel_map`'s pool. A wholly
    cached listing so starts no thread (nor imports concurrent.futures, logging: ~6 ms)."""
    items = list(items)
    out: list = [None] * len(items)
    missing = []
    for i, item in enumerate(items):
        try:
            out[i] = fn(item, cache_only=True)
        except NotCached:
            missing.append(i)
    if len(missing) > 1:
        fetched = parallel_map(lambda i: fn(items[i], cache_only=False), missing, workers)
    else:
        fetched = [fn(items[i], cache_only=False) for i in missing]
    for i, value in zip(missing, fetched):
        out[i] = value
    return out


def in_background(fn: Callable[[], T]) -> Callable[[], T]:
    """Start `fn()` in a daemon thread (it never holds up Ctrl-C) while the caller goes on; call
    the result to wait for its value (or its exception)."""
    box: list = []

    def work() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            box.append((False, exc))
    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        ok, value = box[0]
        if not ok:
            raise value
        return value
    return result


@dataclass
class Page:
    """A fetched (or cached) text response."""

    url: str
    status: int
    text: str
    fetched_at: float
    from_cache: bool = False
    stale: bool = False  # served from an expired cache entry because the network failed
    key: str = ""  # its cache entry (forget: an answer the caller cannot read is not kept)

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.fetched_at)


POOL_SIZE = 24


def session():
    """The one requests session (created on first use: importing requests costs ~60 ms)."""
    global _session
    if _session is None:
        import requests

        _session = requests.Session()
        _session.headers["User-Agent"] = USER_AGENT
        # One kept-alive connection per concurrent request (artifacts.WORKERS): requests' default
        # pool of 10 would discard the rest, with a logged warning, on every cold listing.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        _session.mount("https://", adapter)
        _session.mount("http://", adapter)
    return _session


def host_of(url: str) -> str:
    """`host[:port]` of `url`, never its user or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return redact(url)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host or redact(url)


def _warn_once(message: str) -> None:
    global _warned_cache
    if not _warned_cache:
        _warned_cache = True
        settings.notify("warning", message)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of `data` as hex. CPython's built-in `_sha256` (`_sha2` from 3.12) answers the same
    as hashlib's, which loads OpenSSL first: ~3 ms of every cached answer's start-up."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,no-redef]
        except ImportError:
            from hashlib import sha256  # a build without the built-in hashes
    return sha256(data).hexdigest()


def _cache_path(key: str) -> Path:
    from ollama_quantpick.paths import cache_dir

    digest = sha256_hex(key.encode())
    return cache_dir() / "http" / digest[:2] / f"{digest}.json"


def read_cache(key: str) -> dict | None:
    """The cached entry for `key`, or None when absent or unreadable (a garbled file is ignored)."""
    try:
        data = json.loads(_cache_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a garbled file, or one nested past the limit
        return None
    stamp = data.get("fetched_at") if isinstance(data, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
        return None
    return data


def write_cache(key: str, data: dict) -> None:
    """Write atomically; a read-only or full cache dir degrades to 'no cache' with one warning."""
    import tempfile  # only a write needs it (~4 ms of start-up): a cached answer writes nothing

    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, allow_nan=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _remove_orphans(path.parent)
    except (OSError, ValueError) as exc:  # ValueError: a nan/inf that JSON cannot hold
        _warn_once(f"cache not writable ({getattr(exc, 'strerror', None) or exc}); continuing "
                   "without a cache")


def _remove_orphans(folder: Path) -> None:
    """Delete the temp files a killed process left in `folder`: Ctrl-C during a cold fetch ends
    the process without waiting for the threads that write the cache (cli._leave), and a kill -9
    can land between the write and the rename. Only old ones: a live writer's file is young."""
    cutoff = time.time() - ORPHAN_AGE_S
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".tmp-"):
                with suppress(OSError):  # renamed or removed meanwhile by its own process
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def _allowed(host: str, allow_hosts: Collection[str]) -> bool:
    """`host` is listed, or ends with a listed `.suffix`."""
    host = host.lower()
    return any(host == a.lower() or (a.startswith(".") and host.endswith(a.lower()))
               for a in allow_hosts)


@contextmanager
def open_stream(url: str, headers: dict[str, str] | None = None, *, same_host: bool = True,
                allow_hosts: Collection[str] | None = None) -> Iterator:
    """A streamed GET that follows redirects itself: never from https to http, and with
    `same_host` never to another host (pages and manifests; blobs legitimately redirect to a
    storage host). `allow_hosts` names the other hosts a redirect may go to (`cdn.example`, or
    `.example` for its subdomains); given, it replaces `same_host=False`'s "anywhere".

    A request that times out is recorded on the shared stall clock, so the next attempt (in any
    thread) waits only for what is left of `STALL_BUDGET_S`."""
    import requests

    origin = urlsplit(url)
    origin_host = host_of(url)
    for _ in range(MAX_REDIRECTS + 1):
        host = host_of(url)
        timeout = stalls.timeout(host)
        started = time.monotonic()
        try:
            r = session().get(url, headers=headers, timeout=timeout, stream=True,
                              allow_redirects=False)
        except requests.Timeout:
            stalls.stalled(host, started)
            raise
        stalls.answered(host)
        if not r.is_redirect:
            try:
                yield r
            except requests.Timeout:
                stalls.stalled(host, started)
                raise
            finally:
                r.close()
            return
        target = urljoin(url, r.headers.get("Location", ""))
        r.close()
        dest_host = host_of(target)
        if dest_host != host and headers:
            # As requests does on its own redirects: a bearer token is for the host it was
            # given for, never for the CDN a file is sent from.
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if dest_host != host:
            # A token is for the host it was given to: a storage host's pre-signed URL needs none.
            headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        if origin.scheme == "https" and urlsplit(target).scheme != "https":
            raise QuantpickError(f"{origin_host} redirected to plain http ({redact(target)}); "
                                 "refused")
        if dest_host != origin_host:
            if allow_hosts is not None:
                ok = _allowed(urlsplit(target).hostname or "", allow_hosts)
            else:
                ok = not same_host
            if not ok:
                raise QuantpickError(f"{origin_host} redirected to another host ({dest_host}); "
                                     "refused")
        url = target
    raise QuantpickError(f"{origin_host} redirected more than {MAX_REDIRECTS} times; refused")


def iter_body(r, size: int = 64 * 1024) -> Iterator[bytes]:
    """The body as it arrives (urllib3's read1), so a byte or time limit holds even against a
    server that trickles: `iter_content(n)` would wait for n bytes before yielding anything.
    urllib3's own errors are turned into requests' (a read timeout mid-body is a Timeout)."""
    import requests
    import urllib3.exceptions as u3

    raw = r.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2.3
        yield from r.iter_content(1024)
        return
    while True:
        try:
            chunk = raw.read1(size, decode_content=True)
        except (u3.ReadTimeoutError, TimeoutError) as exc:
            raise requests.ReadTimeout(str(exc)) from None
        except (u3.HTTPError, OSError) as exc:
            raise requests.ConnectionError(str(exc)) from None
        if not chunk:
            return
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
    host = host_of(url)
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
                            f"{host} sent more than {MAX_BODY // 2**20} MiB or took over "
                            f"{BODY_DEADLINE_S} s for {redact(url)}; this is not a page "
                            "quantpick understands")
                if r.status_code >= 500:
                    last = QuantpickError(f"{host} answered HTTP {r.status_code}")
                    continue
                return r.status_code, _decode(r, bytes(body))
        except requests.Timeout:
            last = QuantpickError(f"{host} is not answering (no reply in {TIMEOUT[1]} s) — "
                                  "check the network connection")
        except requests.ConnectionError:
            last = QuantpickError(f"cannot reach {host} — check the network connection")
        except requests.RequestException as exc:
            from ollama_quantpick.paths import scrub

            raise QuantpickError(f"request to {host} failed: {scrub(str(exc))}") from None
    assert last is not None
    raise last


class NotCached(Exception):  # noqa: N818 - a signal, not an error
    """`cache_only=True` and the cache has no fresh answer: the caller fetches it later (in a
    thread pool with the other misses), so a wholly cached listing starts no threads."""


def get_text(url: str, *, headers: dict[str, str] | None = None, ttl: float | None = None,
             auth: dict[str, str] | None = None, cache_only: bool = False) -> Page:
    """GET `url` through the cache. 404s are cached too (an unknown model stays unknown a while).
    `auth` headers (a token) are sent but are no part of the cache key or entry: the key notes
    only that the answer was an authenticated one.

    Offline: answer from the cache alone. Network failure with a cached copy of any age: answer
    from it, marked stale, so the caller can say how old it is.
    """
    # Keyed by the URL without credentials: a secret must not decide (or be guessable from) a
    # cache file's name, and the entry stores only the redacted URL.
    key = redact(url) + "|" + json.dumps(headers or {}, sort_keys=True) + ("|auth" if auth else "")
    ttl = settings.ttl if ttl is None else ttl
    cached = None if settings.refresh else _page_entry(key)
    if cached is not None:
        page = Page(url, cached["status"], cached["text"], cached["fetched_at"], from_cache=True,
                    key=key)
        if settings.offline or page.age_s < ttl:
            return page
    if cache_only and not settings.offline:
        raise NotCached(url)
    if settings.offline:
        if settings.refresh:
            raise QuantpickError("--offline and --refresh contradict each other; use one")
        raise QuantpickError(f"{redact(url)} is not in the cache; run once without --offline")
    try:
        status, text = _fetch(url, {**(headers or {}), **(auth or {})})
    except QuantpickError:
        stale = _page_entry(key)
        if stale is None:
            raise
        return Page(url, stale["status"], stale["text"], stale["fetched_at"], from_cache=True,
                    stale=True, key=key)
    page = Page(url, status, text, time.time(), key=key)
    if status == 200 or status == 404:
        write_cache(key, {"url": redact(url), "status": status, "text": text,
                          "fetched_at": page.fetched_at})
    return page


def forget(page: Page) -> None:
    """Drop `page`'s cache entry: its caller could not read it (a captive portal's login page
    where ollama.com should be, a 404 or HTML where a blob should be). Kept, it would answer for
    the cache's lifetime (a blob's: forever) after the network is fixed."""
    if page.key:
        with suppress(OSError):
            _cache_path(page.key).unlink()


def _page_entry(key: str) -> dict | None:
    """A cached page, or None when the entry is absent or holds the wrong types (valid JSON
    written by something else, or by a bug): such an entry is refetched, never trusted."""
    data = read_cache(key)
    if data is None:
        return None
    status, text = data.get("status", 200), data.get("text")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return None
    if not isinstance(text, str):
        return None
    return data if "status" in data else {**data, "status": 200}


def describe_age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"

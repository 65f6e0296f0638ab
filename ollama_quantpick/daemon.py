"""The local Ollama daemon, through the official `ollama` client only: installed models, pulls.

The client (and httpx, pydantic under it) is imported only here, on first use: it costs ~150 ms.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ollama_quantpick.errors import InputError, QuantpickError

DEFAULT_HOST = "http://127.0.0.1:11434"
TIMEOUT_S = 30.0
VERSION_TIMEOUT_S = 2.0  # the whole /api/version exchange; a slow daemon must not stall a pick
VERSION_TTL_S = 600.0  # a cached answer is trusted this long (an upgrade restarts the daemon)


def parse_host(raw: str, source: str) -> str:
    """`host:port`, `http://host:port` or `https://host` as the `ollama` client reads it (its
    `_parse_host`: scheme optional, default port 11434), checked without importing the client:
    the client builds a module-level Client from OLLAMA_HOST on import and a bad value crashes
    there. InputError names where the value came from, never its credentials."""
    from ollama_quantpick.paths import redact

    text = raw.strip()
    scheme, _, hostport = text.partition("://")
    port = 11434
    if not hostport:
        scheme, hostport = "http", text
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    example = "set it like 127.0.0.1:11434"
    try:
        split = urlsplit(f"{scheme}://{hostport}")
        host, port = split.hostname or "127.0.0.1", split.port or port
    except ValueError as exc:
        raise InputError(f"{source} '{redact(text)}' is not host:port ({exc}); {example}") from None
    if scheme not in ("http", "https"):
        raise InputError(f"{source} '{redact(text)}' is not an http(s) address; {example}")
    if ":" not in host and (why := _bad_host_name(host)):  # IPv6: urlsplit checked the brackets
        raise InputError(f"{source} '{redact(text)}' is not a host name ({why}); {example}")
    if ":" in host:
        host = f"[{host}]"
    path = split.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def _bad_host_name(host: str) -> str | None:
    """Why `host` cannot be a host name, or None. httpx (under the client) turns a non-ASCII name
    into IDNA and a broken `xn--` label into a traceback or a misleading "not Ollama"; the rule
    here is what resolves: ASCII letters, digits, '-' and '_' (Docker service names) in labels
    of 1-63 characters, an `xn--` label only when it decodes."""
    if not host.isascii():
        return "write a non-ASCII name in its xn-- form"
    for label in host.removesuffix(".").split("."):
        if not label:
            return "it has an empty label"
        if len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label):
            return f"'{label}' is not a label of up to 63 letters, digits, '-' and '_'"
        if label.lower().startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return f"'{label}' is not valid punycode"
    return None


def resolve_host(flag: str | None, config_host: str | None = None) -> str:
    """--host, else OLLAMA_HOST, else the config's [ollama] host, else 127.0.0.1:11434. A value
    that cannot be parsed (`:notaport`, `:99999`, `http://[::1`) is a bad request (exit 2); a bad
    OLLAMA_HOST is refused even beside --host, since the client reads it on import."""
    env = os.environ.get("OLLAMA_HOST")
    env_host = parse_host(env, "OLLAMA_HOST") if env and env.strip() else None
    if flag:
        return parse_host(flag, "--host")
    if env_host:
        return env_host
    if config_host:
        return parse_host(config_host, "[ollama] host")
    return parse_host(DEFAULT_HOST, "default host")


def is_local(host: str) -> bool:
    return (urlsplit(host).hostname or "") in ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def ask_version(host: str, timeout: float | None = None) -> tuple[str | None, str | None]:
    """(version, note): `GET /api/version` at `host`, answered within `timeout` seconds
    (VERSION_TIMEOUT_S unless given) in all (connect, headers and body), else (None, why). The
    official client has no version() call, so this is a plain stdlib request in a worker thread
    that is abandoned at the deadline."""
    import json
    import socket
    import threading
    import time

    # A plain connect first: with no daemon (the common case for planning), a refused connection
    # answers in well under a millisecond, without importing urllib, http.client and ssl (~30 ms
    # of every cached answer) or starting a thread.
    timeout = VERSION_TIMEOUT_S if timeout is None else timeout
    start = time.monotonic()
    split = urlsplit(host)
    try:
        port = split.port or (443 if split.scheme == "https" else 80)
        socket.create_connection((split.hostname or "127.0.0.1", port), timeout=timeout).close()
    except TimeoutError:
        return None, f"Ollama at {host} did not answer /api/version within {timeout:g} s"
    except (OSError, ValueError):
        return None, f"no Ollama answered at {host}"
    left = max(0.05, timeout - (time.monotonic() - start))  # one limit for the whole exchange
    import urllib.request

    answer: dict[str, object] = {}

    def fetch() -> None:
        try:
            with urllib.request.urlopen(f"{host.rstrip('/')}/api/version", timeout=left) as r:
                answer["body"] = r.read(4096)
        except Exception as exc:  # noqa: BLE001 - any failure means "unknown", reported below
            # urlopen's own timeout fires at the same moment as the join below; a slow daemon
            # must read as "did not answer in time", not as "no Ollama".
            reason = getattr(exc, "reason", exc)
            answer["timeout" if isinstance(reason, TimeoutError) else "error"] = exc

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(left)
    if worker.is_alive() or "timeout" in answer:
        return None, f"Ollama at {host} did not answer /api/version within {timeout:g} s"
    if "error" in answer:
        return None, f"no Ollama answered at {host}"
    try:
        version = json.loads(answer["body"]).get("version")  # type: ignore[arg-type]
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        version = None
    if not isinstance(version, str) or not version.strip():
        return None, f"Ollama at {host} answered /api/version with something that is not a version"
    return version.strip(), None


def cached_version(host: str) -> tuple[str | None, str | None]:
    """`ask_version`, remembered with the other cached answers for VERSION_TTL_S; failures are
    not remembered (the daemon may be started a moment later)."""
    import time

    from ollama_quantpick import http

    key = f"ollama-version|{host}"
    cached = None if http.settings.refresh else http.read_cache(key)
    if cached and time.time() - cached["fetched_at"] < VERSION_TTL_S and \
            isinstance(cached.get("version"), str):
        return cached["version"], None
    version, note = ask_version(host)
    if version is not None:
        http.write_cache(key, {"fetched_at": time.time(), "version": version})
    return version, note


def models_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def _unreachable(host: str) -> QuantpickError:
    return QuantpickError(f"cannot reach Ollama at {host} — is 'ollama serve' running?")


@dataclass
class Daemon:
    """The local Ollama server, reached through the official `ollama` client."""

    host: str
    _client: object = None
    _installed: dict[str, str] | None = None  # asked once per command, refreshed after a pull

    @property
    def client(self):
        if self._client is None:
            import ollama

            self._client = ollama.Client(host=self.host, timeout=TIMEOUT_S)
        return self._client

    def _call(self, fn, *args, **kwargs):
        import httpx
        import ollama
        import pydantic

        try:
            return fn(*args, **kwargs)
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
            raise _unreachable(self.host) from None
        except ollama.ResponseError as exc:
            if exc.status_code == 200 or "<html" in str(exc.error).lower():
                raise self._not_ollama() from None
            raise QuantpickError(f"Ollama at {self.host} answered: "
                                 f"{str(exc.error)[:300]}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
            raise QuantpickError(f"talking to Ollama at {self.host} failed: {exc}") from None
        except (ValueError, pydantic.ValidationError, TypeError, AttributeError):
            # A web server, proxy or captive portal where Ollama should be: HTML, or a pull
            # stream that is not NDJSON. json.JSONDecodeError is a ValueError.
            raise self._not_ollama() from None

    def _not_ollama(self) -> QuantpickError:
        return QuantpickError(f"{self.host} answered, but not as Ollama's API does — is "
                              "OLLAMA_HOST pointing at Ollama?")

    def version(self) -> tuple[str | None, str | None]:
        """(release string, None) from `GET /api/version`, or (None, why); never raises and never
        waits over VERSION_TIMEOUT_S."""
        return cached_version(self.host)

    def installed(self) -> dict[str, str]:
        """Installed model name → manifest digest (sha256 hex)."""
        if self._installed is not None:
            return self._installed
        listing = self._call(self.client.list)
        out = {}
        for m in listing.models:
            digest = (m.digest or "").removeprefix("sha256:")
            if m.model:
                out[m.model] = digest
        self._installed = out
        return out

    def forget_installed(self) -> None:
        """Ask Ollama again on the next `installed()`: another client may have pulled since."""
        self._installed = None

    def models(self) -> list[dict]:
        """Installed models as `ollama list` shows them: name, digest (hex), size (bytes),
        quantization and parameter size from the model's details."""
        listing = self._call(self.client.list)
        out = []
        for m in listing.models:
            if not m.model:
                continue
            details = getattr(m, "details", None)
            out.append({"name": m.model, "digest": (m.digest or "").removeprefix("sha256:"),
                        "size_bytes": int(m.size or 0),
                        "quant": getattr(details, "quantization_level", None),
                        "params": getattr(details, "parameter_size", None)})
        self._installed = {m["name"]: m["digest"] for m in out}
        return out

    def model_blob(self, name: str) -> str | None:
        """The digest (hex) of an installed model's weights blob, or None when Ollama cannot say.
        `ollama show`'s Modelfile starts with `FROM <ModelPath>`, the blob file `…/blobs/sha256-<hex>`
        (ollama server/images.go, Model.String; server/routes.go, GetModelInfo)."""
        import re

        try:
            shown = self._call(self.client.show, name)
        except QuantpickError:  # an old or odd Ollama: the fit stays unknown, said so
            return None
        text = getattr(shown, "modelfile", None) or ""
        m = re.search(r"^FROM\s+\S*sha256[-:]([0-9a-f]{64})\s*$", text, re.MULTILINE)
        return m.group(1) if m else None

    def find(self, names: list[str], digest: str | None) -> str | None:
        """The installed name holding `digest` (or one of `names` when the digest is unknown)."""
        installed = self.installed()
        for name, d in installed.items():
            if digest and d == digest:
                return name
        if digest is None:  # by name; Ollama matches names without regard to case
            lowered = {n.lower(): n for n in installed}
            return next((lowered[n.lower()] for n in names if n.lower() in lowered), None)
        return None

    def pull(self, name: str, on_progress: Callable[[str, str | None, int | None, int | None],
                                                    None]) -> None:
        """Stream a pull; `on_progress(status, digest, completed, total)` per event. A failed pull
        leaves what was installed before untouched (Ollama writes the manifest last).

        Only a `success` event means the model is installed: a stream that ends without one (a
        proxy that closed the response, a daemon that stopped writing) is a failed pull."""
        def run() -> str | None:
            last = None
            for event in self.client.pull(name, stream=True):
                last = event.status or ""
                on_progress(last, event.digest, event.completed, event.total)
            return last
        self.forget_installed()
        last = self._call(run)
        if last != "success":
            seen = f"last status '{last[:80]}'" if last else "no status at all"
            raise QuantpickError(f"the pull of {name} ended before it finished (Ollama at {self.host} "
                                 f"sent {seen}, never 'success'); run the same command again to "
                                 "resume it")


def free_disk(path: Path | None = None) -> int | None:
    """Free bytes on the disk that holds `path` (default: where Ollama keeps models, the nearest
    folder that exists); None when it cannot be read."""
    probe = path or models_dir()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        import shutil

        return shutil.disk_usage(probe).free
    except OSError:
        return None


def check_disk(need_bytes: int, where: Path | None = None) -> None:
    """Refuse, with the figures, when the download cannot fit where Ollama keeps models."""
    from ollama_quantpick.sizes import format_bytes

    path = where or models_dir()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        import shutil

        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if free < need_bytes:
        raise QuantpickError(f"not enough disk space in {path}: the download needs "
                             f"{format_bytes(need_bytes)}, {format_bytes(free)} is free")

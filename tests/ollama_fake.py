"""A local HTTP server that plays `ollama serve` for the real `ollama` client.

Endpoints and stream shapes follow Ollama's API (docs.ollama.com/api, ollama/ollama docs/api.md):
/api/version, /api/tags, and /api/pull streaming NDJSON (`pulling manifest`, `pulling <digest>`
with digest/total/completed per layer, `verifying sha256 digest`, `writing manifest`, `success`,
or an `{"error": ...}` line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from werkzeug import Request, Response

import world


@dataclass
class FakeOllama:
    installed: dict[str, str] = field(default_factory=dict)  # name -> manifest digest
    pulls: list[str] = field(default_factory=list)
    fail_with: str | None = None  # an error line sent mid-stream
    delay: float = 0.0  # seconds between progress events (a slow download)
    # The stream ends cleanly after this many progress lines, without `success` or an error: a
    # proxy that closes the response, a daemon that stopped writing.
    end_after: int | None = None

    def tags(self, _request: Request) -> Response:
        def size(name: str) -> int:  # what `ollama list` reports: the bytes of the download
            model, _, tag = name.partition(":")
            a = world.find(model, tag or "latest") if model in world.MODELS else None
            return a.download_bytes if a is not None else 1

        models = [{"name": n, "model": n, "modified_at": "2026-11-20T10:00:00Z", "size": size(n),
                   "digest": d, "details": {"format": "gguf", "quantization_level": "Q4_K_M"}}
                  for n, d in self.installed.items()]
        return Response(json.dumps({"models": models}), mimetype="application/json")

    def pull(self, request: Request) -> Response:
        body = json.loads(request.data)
        name = body.get("model") or body.get("name")
        self.pulls.append(name)
        model, _, tag = name.partition(":")
        artifact = world.find(model, tag or "latest")

        def stream():
            import time

            yield json.dumps({"status": "pulling manifest"}) + "\n"
            if artifact is None:
                yield json.dumps({"error": "pull model manifest: file does not exist"}) + "\n"
                return
            sent = 0
            for layer in artifact.layers:
                digest, total = layer["digest"], layer["size"]
                for done in (0, total // 2, total):
                    if sent == self.end_after:
                        return
                    sent += 1
                    time.sleep(self.delay)
                    yield json.dumps({"status": f"pulling {digest[7:19]}", "digest": digest,
                                      "total": total, "completed": done}) + "\n"
                    if self.fail_with and done:
                        yield json.dumps({"error": self.fail_with}) + "\n"
                        return
            for status in ("verifying sha256 digest", "writing manifest"):
                yield json.dumps({"status": status}) + "\n"
            self.installed[name] = artifact.digest  # the manifest is written last
            yield json.dumps({"status": "success"}) + "\n"

        return Response(stream(), mimetype="application/x-ndjson")

    def attach(self, httpserver) -> str:
        httpserver.expect_request("/api/version").respond_with_json({"version": "0.12.6"})
        httpserver.expect_request("/api/tags").respond_with_handler(self.tags)
        httpserver.expect_request("/api/pull", method="POST").respond_with_handler(self.pull)
        return httpserver.url_for("/").rstrip("/")

"""Pull progress: one overall line redrawn on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ollama_quantpick.sizes import format_bytes


class Progress:
    """Feeds on the daemon's pull events (status, digest, completed, total)."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.layers: dict[str, tuple[int, int]] = {}
        self.start = time.monotonic()
        self.last_status = ""
        self.last_decile = -1

    def __call__(self, status: str, digest: str | None, completed: int | None,
                 total: int | None) -> None:
        if self.quiet:
            return
        if digest and total:
            self.layers[digest] = (completed or 0, total)
            self._bar()
            return
        if status and status != self.last_status:
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(f"{status}\n")
            self.last_status = status
            self.stream.flush()

    def _bar(self) -> None:
        done = sum(c for c, _ in self.layers.values())
        total = sum(t for _, t in self.layers.values())
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0
        pct = 100 * done / total if total else 0
        line = (f"pulling {format_bytes(done)} / {format_bytes(total)} {pct:5.1f}% "
                f"{format_bytes(rate)}/s ETA {int(eta // 60)}:{int(eta % 60):02d}")
        if self.tty:
            width = 30
            filled = int(width * pct / 100)
            self.stream.write(f"\r\033[K[{'#' * filled}{'.' * (width - filled)}] {line}")
        else:
            decile = int(pct // 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet and self.layers:
            self.stream.write("\n")
            self.stream.flush()

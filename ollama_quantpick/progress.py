"""Pull progress like `ollama pull`: one line per layer, redrawn in place on a terminal.

On a terminal every layer keeps its own line (`pulling 6a0746a1ec1a:  43% ▕████      ▏ 2.0 GB/4.7 GB
 112 MB/s 23s`), the block is redrawn in place (cursor up, clear line), so no stale line stays
behind, and each line fits the terminal's width. An ETA appears only once a rate has been measured
(a second of data), never `0:00` at 0 %. Not on a terminal (a log, CI): one line per layer when it
starts and one when it ends, plus Ollama's status lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from ollama_quantpick.sizes import format_bytes

RATE_AFTER_S = 1.0  # no rate (and no ETA) before this much time with bytes moving
REDRAW_S = 0.1  # at most ten redraws a second on a terminal


@dataclass
class Layer:
    """One blob of a pull, as the progress bar tracks it."""

    digest: str
    total: int
    completed: int = 0
    started: float = 0.0
    first_bytes_at: float | None = None  # when bytes first moved (resumed layers start late)
    first_bytes: int = 0
    done_at: float | None = None
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    def rate(self, now: float) -> float | None:
        """Bytes/s over the last few seconds; None until RATE_AFTER_S of data."""
        if self.first_bytes_at is None or now - self.first_bytes_at < RATE_AFTER_S:
            return None
        recent = [(t, c) for t, c in self.samples if now - t <= 5.0] or self.samples[-2:]
        t0, c0 = recent[0]
        if now - t0 <= 0 or self.completed <= c0:
            t0, c0 = self.first_bytes_at, self.first_bytes
        span = now - t0
        return (self.completed - c0) / span if span > 0 and self.completed > c0 else None


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def layer_line(layer: Layer, now: float, width: int) -> str:
    """One layer, at most `width` characters: what is dropped first when narrow is the ETA,
    then the rate, then the bar."""
    pct = int(100 * layer.completed / layer.total) if layer.total else 0
    head = f"pulling {layer.short}: {pct:3d}%"
    if layer.done_at is not None or layer.completed >= layer.total:
        sizes = format_bytes(layer.total)
        tail_parts = [sizes]
    else:
        sizes = f"{format_bytes(layer.completed)}/{format_bytes(layer.total)}"
        tail_parts = [sizes]
        rate = layer.rate(now)
        if rate:
            tail_parts.append(f"{format_bytes(int(rate))}/s")
            tail_parts.append(_duration((layer.total - layer.completed) / rate))
    while True:
        tail = " ".join(tail_parts)
        room = width - len(head) - len(tail) - 4  # " ▕", "▏ "
        if room >= 10 or len(tail_parts) == 1:
            break
        tail_parts.pop()
    if room < 10:  # too narrow for a bar
        return f"{head} {tail}"[:width]
    bar_w = min(room, 40)
    filled = bar_w * pct // 100
    return f"{head} ▕{'█' * filled}{' ' * (bar_w - filled)}▏ {tail}"


class Progress:
    """Feeds on the daemon's pull events (status, digest, completed, total)."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, quiet: bool = False,
                 width: int | None = None, clock: Callable[[], float] = time.monotonic,
                 title: str | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.clock = clock
        self._width = width
        self.title = title
        self.layers: dict[str, Layer] = {}
        self.lines: list[tuple[str, str]] = []  # ("status", text) or ("layer", digest), in order
        self.drawn = 0  # lines of this block on screen (terminal only)
        self.last_draw = -1.0
        self.last_status = ""

    @property
    def width(self) -> int:
        if self._width is not None:
            return self._width
        from ollama_quantpick.table import terminal_width

        return terminal_width()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def __call__(self, status: str, digest: str | None, completed: int | None,
                 total: int | None) -> None:
        if self.quiet:
            return
        now = self.clock()
        if self.title and not self.lines:
            self.lines.append(("status", self.title))
            if not self.tty:
                self._write(self.title + "\n")
        if digest and total:
            layer = self.layers.get(digest)
            if layer is None:
                layer = self.layers[digest] = Layer(digest, total, started=now)
                self.lines.append(("layer", digest))
                if not self.tty:
                    self._write(f"pulling {layer.short} ({format_bytes(total)})\n")
            done = min(completed or 0, total)
            if done > layer.completed and layer.first_bytes_at is None:
                layer.first_bytes_at, layer.first_bytes = now, layer.completed
            layer.completed = max(layer.completed, done)
            layer.samples.append((now, layer.completed))
            del layer.samples[:-50]
            finished = layer.completed >= total and layer.done_at is None
            if finished:
                layer.done_at = now
                if not self.tty:
                    took = now - layer.started
                    self._write(f"pulled {layer.short} ({format_bytes(total)}) in "
                                f"{_duration(took)}\n")
            if self.tty:
                self._draw(now, force=finished)
            return
        if status and status != self.last_status and not status.startswith("pulling sha256"):
            self.last_status = status
            if status.startswith("pulling ") and status[8:].strip() in {
                    layer.short for layer in self.layers.values()}:
                return  # the layer's own line says it
            self.lines.append(("status", status))
            if self.tty:
                self._draw(now, force=True)
            else:
                self._write(status + "\n")

    def _render(self, now: float) -> list[str]:
        width = max(self.width - 1, 20)  # never the last column: some terminals wrap there
        out = []
        for kind, value in self.lines:
            out.append(layer_line(self.layers[value], now, width) if kind == "layer"
                       else value[:width])
        return out

    def _draw(self, now: float, force: bool = False) -> None:
        if not force and now - self.last_draw < REDRAW_S:
            return
        self.last_draw = now
        lines = self._render(now)
        up = f"\x1b[{self.drawn}A" if self.drawn else ""
        self._write(up + "".join(f"\r\x1b[2K{line}\n" for line in lines))
        self.drawn = len(lines)

    def finish(self) -> None:
        """Draw the final state (every layer at its end)."""
        if self.tty and not self.quiet and self.lines:
            self._draw(self.clock(), force=True)

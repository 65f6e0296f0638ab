"""Pull progress like `ollama pull`: a line per layer, redrawn in place on a terminal (checked on a
real pty and through a small terminal emulator), width-aware, an honest ETA, plain lines otherwise."""

from __future__ import annotations

import io
import os
import re

from ollama_quantpick.progress import Layer, Progress, layer_line

GB = 10**9


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def screen(text: str) -> list[str]:
    """What a terminal shows after `text`: handles \\r, \\n, ESC[nA (up) and ESC[2K / ESC[K."""
    rows: list[str] = [""]
    row = col = 0
    for token in re.findall(r"\x1b\[\d*[AK]|\x1b\[2K|\r|\n|[^\x1b\r\n]", text):
        if token == "\r":
            col = 0
        elif token == "\n":
            row += 1
            col = 0
            if row == len(rows):
                rows.append("")
        elif token.startswith("\x1b") and token.endswith("A"):
            row = max(row - int(token[2:-1] or 1), 0)
        elif token.startswith("\x1b") and token.endswith("K"):
            rows[row] = rows[row][:col]
        else:
            line = rows[row].ljust(col)
            rows[row] = line[:col] + token + line[col + 1:]
            col += 1
    return [r for r in rows if r]


def pull(p: Progress, clock: Clock) -> None:
    p("pulling manifest", None, None, None)
    for step in range(0, 11):
        clock.t += 0.5
        p("pulling aaaaaaaaaaaa", "sha256:" + "a" * 64, step * 4 * GB // 10, 4 * GB)
        p("pulling bbbbbbbbbbbb", "sha256:" + "b" * 64, min(step, 2) * 6_000 // 2, 6_000)
    for status in ("verifying sha256 digest", "writing manifest", "success"):
        p(status, None, None, None)
    p.finish()


def test_a_terminal_shows_one_line_per_layer_and_no_stale_lines():
    clock, out = Clock(), io.StringIO()
    p = Progress(stream=out, tty=True, width=80, clock=clock)
    pull(p, clock)
    shown = screen(out.getvalue())
    assert shown[0] == "pulling manifest"
    assert shown[1].startswith("pulling aaaaaaaaaaaa: 100% ▕") and shown[1].endswith("4.0 GB")
    assert shown[2].startswith("pulling bbbbbbbbbbbb: 100% ▕") and shown[2].endswith("6 kB")
    assert shown[3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert all(len(line) < 80 for line in shown)
    assert out.getvalue().count("\x1b[") > 20  # it was redrawn in place, not appended


def test_eta_only_once_a_rate_is_known():
    layer = Layer("sha256:" + "c" * 64, 10 * GB, started=0.0)
    assert "s" not in layer_line(layer, 0.0, 100).split("▏")[1].replace("GB", "")  # no ETA at 0 %
    layer.completed, layer.first_bytes_at, layer.first_bytes = GB, 0.2, 0
    layer.samples = [(0.2, 0), (0.5, GB)]
    assert layer.rate(0.5) is None  # half a second is not a measurement
    assert "0s" not in layer_line(layer, 0.5, 100)
    layer.samples.append((2.2, 2 * GB))
    layer.completed = 2 * GB
    line = layer_line(layer, 2.2, 100)
    assert "1.0 GB/s" in line and line.endswith(" 8s")  # 8 GB left at 1 GB/s


def test_narrow_terminals_drop_eta_rate_then_bar():
    layer = Layer("sha256:" + "d" * 64, 10 * GB, completed=5 * GB, first_bytes_at=0.0,
                  samples=[(0.0, 0), (5.0, 5 * GB)])
    for width in (100, 70, 55, 45, 30):
        line = layer_line(layer, 5.0, width)
        assert len(line) <= width, (width, line)
    assert "GB/s" in layer_line(layer, 5.0, 100) and "▕" not in layer_line(layer, 5.0, 40)


def test_not_a_terminal_prints_a_line_per_layer_at_start_and_end():
    clock, out = Clock(), io.StringIO()
    pull(Progress(stream=out, tty=False, clock=clock, title="qwen3:8b (4.0 GB)"), clock)
    lines = out.getvalue().splitlines()
    assert lines == ["qwen3:8b (4.0 GB)", "pulling manifest", "pulling aaaaaaaaaaaa (4.0 GB)",
                     "pulling bbbbbbbbbbbb (6 kB)", "pulled bbbbbbbbbbbb (6 kB) in 1s",
                     "pulled aaaaaaaaaaaa (4.0 GB) in 5s", "verifying sha256 digest",
                     "writing manifest", "success"]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_on_a_real_pty_progress_draws_in_place():
    master, slave = os.openpty()
    try:
        stream = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
        clock = Clock()
        p = Progress(stream=stream, width=60, clock=clock)
        assert p.tty  # found out from the stream itself
        pull(p, clock)
        stream.flush()
        data = b""
        while True:
            import select

            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            data += os.read(master, 65536)
    finally:
        os.close(slave)
        os.close(master)
    shown = screen(data.decode().replace("\r\n", "\n"))
    assert len(shown) == 6 and shown[-1] == "success"
    assert all(len(line) < 60 for line in shown)


def test_quiet_prints_nothing():
    clock, out = Clock(), io.StringIO()
    pull(Progress(stream=out, tty=True, quiet=True, clock=clock), clock)
    assert out.getvalue() == ""

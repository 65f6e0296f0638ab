"""Bounds that hostile or unlucky input must not break: the tags-page parser, the GGUF header
reader, a stalled endpoint and Ctrl-C. Figures for bench/RESULTS.md.

Not part of the test run (tests/test_hostile.py holds the same bounds with slack for loaded CI
machines). Needs `pip install -e .[test]`. Run: python bench/hardening.py [--stall]
(--stall also times a stalled ollama.com with the default rules: about 30 s.)
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import world  # noqa: E402
from ollama_quantpick import gguf, pages  # noqa: E402
from ollama_quantpick.tagname import parse_model_ref  # noqa: E402

best = world.best_cpu_time  # CPU time, best of 3: the bench machine is shared

def wall(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def parser() -> None:
    print("## Tags-page parser (pages.parse_tags_page), CPU time, best of 3")
    ref = parse_model_ref("phi4")
    for rows in (1000, 2000, 5000):
        html = world.big_tags_page("phi4", rows)
        t = best(lambda html=html: pages.parse_tags_page(html, ref))
        w = wall(lambda html=html: pages.parse_tags_page(html, ref))
        print(f"- {rows} rows ({len(html) / 1e6:.1f} MB): {t:.2f} s CPU ({t / rows * 1e6:.0f} "
              f"µs/row), {w:.2f} s wall")
    page = (world.FIXTURES / "library" / "phi4.tags.html").read_text()
    hostile = "<div>" * 50_000 + "</span>" * 50_000 + page
    t = best(lambda: pages.parse_tags_page(hostile, ref))
    print(f"- 50,000 unclosed <div> + 50,000 stray </span> before a real page: {t:.2f} s")


def _s(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def wide_header(n_keys: int, vocab: int) -> bytes:
    """The largest header the reader accepts in keys, with a `vocab`-string vocabulary."""
    kv = [_s("general.architecture") + struct.pack("<I", 8) + _s("llama"),
          _s("llama.block_count") + struct.pack("<II", 4, 2),
          _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, vocab)
          + b"".join(_s(f"t{i}") for i in range(vocab))]
    kv += [_s(f"x.{i:06d}") + struct.pack("<II", 4, i) for i in range(n_keys)]
    tensor = _s("blk.0.attn_q.weight") + struct.pack("<I2QIQ", 2, 4096, 4096, 1, 0)
    return b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor


def header() -> None:
    print("\n## GGUF header reader (gguf.HeaderParser), CPU time, best of 3")
    data = wide_header(gguf.MAX_KV - 3, 1_000_000)
    whole = best(lambda: gguf.parse_header(data))

    def pieces() -> gguf.HeaderParser:
        return world.feed_in_pieces(data, 256 * 1024)
    t = best(pieces)
    p = pieces()
    print(f"- {gguf.MAX_KV} keys + a 1,000,000-string vocabulary ({len(data) / 2**20:.1f} MiB): "
          f"{whole:.2f} s in one piece, {t:.2f} s fed in 256 KiB pieces "
          f"({len(data) // (256 * 1024) + 1} pieces, {p.restarts} items split across two)")
    print(f"- peak memory (tracemalloc) fed in pieces: {peak_mb(pieces):.1f} MiB beyond the "
          f"input; in one piece: {peak_mb(lambda: gguf.parse_header(data)):.1f} MiB")
    hostile = b"GGUF" + struct.pack("<IQQ", 3, 0, 3_000_000) + (_s("k") + b"\0" * 5) * 1000
    start = time.perf_counter()
    try:
        gguf.parse_header(hostile)
    except gguf.GGUFError as exc:
        print(f"- a header claiming 3,000,000 keys: refused in "
              f"{(time.perf_counter() - start) * 1e3:.2f} ms ({exc})")
    real = world.gguf_header("llama3.3", "70b", "q4_K_M")
    t_whole = best(lambda: gguf.parse_header(real))

    def real_pieces() -> None:
        world.feed_in_pieces(real, 64 * 1024)
    print(f"- llama3.3:70b's real-shaped header ({len(real) / 2**20:.1f} MiB, 128k vocabulary): "
          f"{t_whole * 1e3:.0f} ms whole, {best(real_pieces) * 1e3:.0f} ms in 64 KiB pieces")


def _serve_world():
    import logging

    from pytest_httpserver import HTTPServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    base, _ = world.serve_http(server)
    return server, base


def _env(tmp: str, **extra: str) -> dict:
    return dict(os.environ, QUANTPICK_CACHE_DIR=f"{tmp}/c", QUANTPICK_CONFIG=f"{tmp}/none.toml",
                OLLAMA_HOST="127.0.0.1:9", PYTHONUNBUFFERED="1", **extra)


def ctrl_c() -> None:
    print("\n## Ctrl-C while 3 worker threads wait on a registry that never answers")
    srv, held = world.silent_server()
    server, base = _serve_world()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    took = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(5):
            held.clear()
            proc = subprocess.Popen(
                [sys.executable, "-m", "ollama_quantpick", "pick", "phi4", "--vram", "24GB",
                 "--ram", "64GB", "--refresh"],
                env=_env(tmp, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=url),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            while len(held) < 3:
                time.sleep(0.02)
            time.sleep(0.2)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
            took.append(time.monotonic() - sent)
            assert proc.returncode == 130, proc.returncode
    server.stop()
    srv.close()
    print(f"- SIGINT to exit (code 130), 5 runs: {', '.join(f'{t * 1e3:.0f}' for t in took)} ms")


def stall() -> None:
    print("\n## A stalled ollama.com with the default rules (TIMEOUT read 10 s, budget 30 s)")
    srv, held = world.silent_server()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "ollama_quantpick", "pick", "phi4",
                               "--vram", "24GB", "--ram", "64GB"],
                              env=_env(tmp, QUANTPICK_LIBRARY_URL=url), capture_output=True,
                              text=True, timeout=120, check=False)
        took = time.monotonic() - start
    srv.close()
    print(f"- `quantpick pick phi4`: exit {done.returncode} after {took:.1f} s, "
          f"{len(held)} connections; stderr:")
    for line in done.stderr.strip().splitlines():
        print(f"    {line}")


if __name__ == "__main__":
    parser()
    header()
    ctrl_c()
    if "--stall" in sys.argv:
        stall()

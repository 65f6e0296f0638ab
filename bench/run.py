"""quantpick's benchmarks: start-up, cached answers, parse throughput (and accuracy.py).

Not part of the test run. Needs `pip install -e .[test]` (the local server and the GGUF
generator come from the test extra). Run: python bench/run.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import world  # noqa: E402

RUNS = 15


def timed(argv: list[str], env: dict, runs: int = RUNS) -> float:
    """Median wall time of `argv` over `runs` runs, after one warm-up."""
    subprocess.run(argv, env=env, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 3):
            raise SystemExit(f"{argv} failed: {done.stderr.decode()}")
    return statistics.median(times)


def serve_world() -> tuple[str, object]:
    """The fixture ollama.com + registry on a real local port (werkzeug, from the test extra)."""
    import logging

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    served = world.Served()
    holder = {}

    @Request.application
    def app(request):
        base = holder["base"]
        url = base + request.full_path.rstrip("?")
        status, headers, body = world.respond(url, dict(request.headers), served, base, base)
        return Response(body, status=status, headers=headers)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    holder["base"] = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["base"], server


def startup(env: dict) -> None:
    qp = shutil.which("quantpick") or "quantpick"
    bare = timed([sys.executable, "-c", "pass"], env)
    click = timed([sys.executable, "-c", "import click"], env)
    helps = timed([qp, "--help"], env)
    version = timed([qp, "--version"], env)
    print(f"## Start-up (median of {RUNS} runs)")
    print(f"python -c pass        {bare * 1000:7.1f} ms")
    print(f"python -c 'import click' {click * 1000:4.1f} ms  ({click / bare:.2f}x bare)")
    print(f"quantpick --help      {helps * 1000:7.1f} ms  ({helps / bare:.2f}x bare)")
    print(f"quantpick --version   {version * 1000:7.1f} ms  ({version / bare:.2f}x bare)")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ollama_quantpick.cli"],
                         env=env, capture_output=True, text=True).stderr.splitlines()
    rows = []
    for line in out:
        parts = line.split("|")
        if len(parts) == 3 and parts[0].split(":")[-1].strip().isdigit():
            rows.append((int(parts[0].split(":")[-1]), parts[2].rstrip()))
    print("top self import times (us):")
    for self_us, name in sorted(rows, reverse=True)[:8]:
        print(f"  {self_us:6d} {name}")


def cached(env: dict) -> None:
    base, server = serve_world()
    env = dict(env, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base)
    qp = shutil.which("quantpick") or "quantpick"
    print(f"\n## Cached answers (warm cache, median of {RUNS} runs)")
    for args in (["tags", "qwen3", "--vram", "24GB", "--ram", "64GB"],
                 ["tags", "llama3.3", "--vram", "52GB", "--ram", "64GB", "--json"],
                 ["pick", "llama3.3", "--task", "math", "--vram", "52GB", "--ram", "64GB"]):
        start = time.perf_counter()
        subprocess.run([qp, *args], env=env, capture_output=True, check=False)
        cold = time.perf_counter() - start
        warm = timed([qp, *args], env)
        print(f"quantpick {' '.join(args):<58} cold {cold:6.2f} s   warm {warm * 1000:6.0f} ms")
    server.shutdown()


def throughput() -> None:
    from ollama_quantpick import gguf, library
    from ollama_quantpick.tagname import parse_model_ref

    print("\n## Parse throughput")
    pages = [(parse_model_ref(m), (world.FIXTURES / "library" / f"{m}.tags.html").read_text())
             for m in world.MODELS]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2:
        for ref, html in pages:
            library.parse_tags_page(html, ref)
            n += 1
    rate = n / (time.perf_counter() - start)
    avg_kb = sum(len(h) for _, h in pages) / len(pages) / 1000
    print(f"tags pages: {rate:7.0f} pages/s (fixture pages, {avg_kb:.1f} kB on average)")
    headers = [world.gguf_header(*key) for key in (("llama3.3", "70b", "q4_K_M"),
                                                   ("qwen3", "8b", "q4_K_M"),
                                                   ("gemma3", "27b", "q4_K_M"))]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2:
        for h in headers:
            gguf.parse_header(h)
            n += 1
    rate = n / (time.perf_counter() - start)
    mb = sum(map(len, headers)) / len(headers) / 1e6
    print(f"GGUF headers: {rate:5.1f} headers/s ({mb:.1f} MB on average: 128k-262k token vocabularies)")


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="quantpick-bench-")
    env = dict(os.environ, QUANTPICK_CACHE_DIR=tmp, QUANTPICK_CONFIG=os.path.join(tmp, "none.toml"))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}\n")
    startup(env)
    cached(env)
    throughput()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

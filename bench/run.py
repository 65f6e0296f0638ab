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
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import world  # noqa: E402

RUNS = 15


def quantpick() -> str:
    """The quantpick script of the Python running the bench, so the code under test is what is
    timed: PATH may find another install first (a pyenv shim answered `--version` in 136 ms)."""
    return (shutil.which("quantpick", path=sysconfig.get_path("scripts"))
            or shutil.which("quantpick") or "quantpick")


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


def side_by_side(cmds: dict[str, list[str]], env: dict, runs: int = RUNS) -> dict[str, float]:
    """Median wall time of each command, the commands interleaved run by run (after one warm-up
    each), so that a busy machine slows all of them alike and their ratios stay fair."""
    for argv in cmds.values():
        subprocess.run(argv, env=env, capture_output=True, check=False)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            start = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, check=False)
            times[name].append(time.perf_counter() - start)
            if done.returncode not in (0, 3):
                raise SystemExit(f"{argv} failed: {done.stderr.decode()}")
    return {name: statistics.median(t) for name, t in times.items()}


def startup(env: dict) -> None:
    qp = quantpick()
    t = side_by_side({"bare": [sys.executable, "-c", "pass"],
                      "click": [sys.executable, "-c", "import click"],
                      "help": [qp, "--help"], "version": [qp, "--version"]}, env)
    print(f"## Start-up (median of {RUNS} interleaved runs)")
    print(f"python -c pass           {t['bare'] * 1000:6.1f} ms")
    print(f"python -c 'import click' {t['click'] * 1000:6.1f} ms")
    print(f"quantpick --help         {t['help'] * 1000:6.1f} ms")
    print(f"quantpick --version      {t['version'] * 1000:6.1f} ms  "
          f"({t['version'] / t['click']:.2f}x import click; target <= 1.3x)")
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


PICK = ["pick", "llama3.3", "--task", "math", "--vram", "52GB", "--ram", "64GB"]
TAGS = ["tags", "qwen3", "--vram", "24GB", "--ram", "64GB"]


def cached(env: dict) -> None:
    base, server = world.serve_threaded()
    env = dict(env, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base, OLLAMA_HOST=base)
    qp = quantpick()
    for args in (PICK, TAGS):  # fill the cache
        subprocess.run([qp, *args], env=env, capture_output=True, check=False)
    t = side_by_side({"version": [qp, "--version"], "pick": [qp, *PICK],
                      "tags": [qp, *TAGS], "tags_json": [qp, *TAGS, "--json"]}, env)
    print(f"\n## Cached answers (warm cache, median of {RUNS} interleaved runs)")
    print(f"quantpick --version      {t['version'] * 1000:6.0f} ms")
    for name, args in (("pick", PICK), ("tags", TAGS), ("tags_json", [*TAGS, "--json"])):
        print(f"quantpick {' '.join(args):<62} {t[name] * 1000:6.0f} ms  "
              f"({t[name] / t['version']:.2f}x --version; target <= 1.5x)")
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "ollama_quantpick",
                              *PICK, "--offline"], env=env, capture_output=True, text=True).stderr
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in imports.splitlines()
                    if line.startswith("import time:")} & {"bs4", "requests", "urllib3", "ollama",
                                                           "httpx", "pydantic"})
    print(f"heavy modules a cached pick imports: {', '.join(heavy) or 'none'}")
    server.shutdown()


def cold(env: dict, delay_s: float = 0.1) -> None:
    """A first `tags qwen3` (empty cache) against a server that waits `delay_s` per answer."""
    qp = quantpick()
    print(f"\n## Cold answers ({delay_s * 1000:.0f} ms per answer, empty cache, median of 5)")
    for a in world.artifacts("qwen3"):  # the server builds each header once, before the clock
        world.gguf_header(a.model, a.size, a.quant)
    times, requests_n = [], 0
    for _ in range(5):
        base, server = world.serve_threaded(delay_s)
        tmp = tempfile.mkdtemp(prefix="quantpick-cold-")
        run_env = dict(env, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
                       QUANTPICK_CACHE_DIR=tmp)  # no local Ollama: nothing far to ask
        start = time.perf_counter()
        done = subprocess.run([qp, *TAGS], env=run_env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        requests_n = len(server.served.calls)
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
        if done.returncode != 0:
            raise SystemExit(f"cold tags failed: {done.stderr.decode()}")
    print(f"quantpick {' '.join(TAGS):<46} {statistics.median(times):5.2f} s  "
          f"({requests_n} requests; target <= 1.2 s)")


def throughput() -> None:
    from ollama_quantpick import gguf, pages
    from ollama_quantpick.tagname import parse_model_ref

    print("\n## Parse throughput")
    texts = [(parse_model_ref(m), (world.FIXTURES / "library" / f"{m}.tags.html").read_text())
             for m in world.MODELS]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2:
        for ref, html in texts:
            pages.parse_tags_page(html, ref)
            n += 1
    rate = n / (time.perf_counter() - start)
    avg_kb = sum(len(h) for _, h in texts) / len(texts) / 1000
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
    env = dict(os.environ, QUANTPICK_CACHE_DIR=tmp, QUANTPICK_CONFIG=os.path.join(tmp, "none.toml"),
               OLLAMA_HOST="127.0.0.1:9")  # start-up: no Ollama; answers: the local server plays it
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches; compiling is not start-up
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    print(f"timing: {quantpick()}\n")
    startup(env)
    cached(env)
    cold(env)
    throughput()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

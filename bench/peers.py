"""Side by side with peer tools on the same budgets: what each recommends, its memory figure,
and how long it takes. Peers are installed into a temporary folder (never a dependency):
llmfit from PyPI, llm-checker from npm. quantpick answers from the fixture ollama.com/registry
(real tag lists and shapes, tests/world.py) on a local server, warm cache.

Run: python bench/peers.py   (needs the test extra, network access to PyPI and npm, and node)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import world  # noqa: E402

BUDGETS = [  # label, VRAM GB, RAM GB, GPU name for llm-checker
    ("24 GB GPU + 64 GB", 24, 64, "RTX 4090"),
    ("16 GB GPU + 32 GB", 16, 32, "RTX 4080"),
    ("8 GB GPU + 16 GB", 8, 16, "RTX 4060"),
    ("CPU only, 32 GB", 0, 32, None),
]
MODELS = [  # quantpick model and size, task, llmfit database name
    ("llama3.3", "70b", "math", "unsloth/Llama-3.3-70B-Instruct-GGUF"),
    ("qwen3", "32b", "code", "Qwen/Qwen3-32B"),
    ("phi4", "14b", "general", "microsoft/phi-4"),
]


def clock(argv: list[str], env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    return time.perf_counter() - start, done


def install(tmp: Path) -> tuple[str | None, str | None]:
    llmfit = checker = None
    venv = tmp / "venv"
    if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode == 0 and \
            subprocess.run([venv / "bin" / "pip", "install", "-q", "llmfit"],
                           capture_output=True).returncode == 0:
        llmfit = str(venv / "bin" / "llmfit")
    if shutil.which("npm") and subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(tmp / "npm"), "llm-checker@3.8.1"],
            capture_output=True).returncode == 0:
        checker = str(tmp / "npm" / "node_modules" / ".bin" / "llm-checker")
    return llmfit, checker


def run_llmfit(llmfit: str, name: str, vram: int, ram: int) -> str:
    secs, done = clock([llmfit, "--memory", f"{vram}G", "--ram", f"{ram}G", "--max-context",
                        "8192", "--json", "info", name])
    try:
        m = json.loads(done.stdout)["models"][0]
    except (ValueError, KeyError, IndexError):
        return f"error ({secs:.2f} s)"
    return (f"{m.get('best_quant')} {m.get('run_mode')}, {m.get('memory_required_gb')} GB, "
            f"{m.get('estimated_tps')} tok/s, params {m.get('parameter_count')} ({secs:.2f} s)")


def run_checker(checker: str, gpu: str | None, vram: int, ram: int, task: str) -> str:
    argv = [checker, "simulate", "--ram", str(ram), "--use-case",
            {"math": "reasoning", "code": "coding"}.get(task, "general"), "--no-verbose"]
    argv += ["--gpu", gpu, "--vram", str(vram)] if gpu else ["--cpu", "AMD Ryzen 7 5700X"]
    secs, done = clock(argv)
    lines = [x.strip() for x in done.stdout.splitlines()]
    try:  # "Model: gemma3" (one result) or "#1 - gemma3" (several), then "Size: ~5.3GB (Q4_K_M)"
        i = next(n for n, x in enumerate(lines) if x.startswith(("Model: ", "#1 - ")))
        name = lines[i].split(": ", 1)[1] if lines[i].startswith("Model") else lines[i][5:]
        size = next(x for x in lines[i:i + 4] if x.startswith("Size:"))
        return f"{name}, {size} ({secs:.2f} s)"
    except StopIteration:
        return f"no answer ({secs:.2f} s)"


def run_quantpick(env: dict, model: str, size: str, task: str, vram: int, ram: int) -> str:
    argv = ["quantpick", "pick", model, "--size", size, "--task", task, "--ctx", "8192",
            "--ram", f"{ram}GB", "--json"] + (["--vram", f"{vram}GB"] if vram else ["--gpu", "none"])
    clock(argv, env)  # warm the cache
    secs, done = clock(argv, env)
    if done.returncode == 3:
        # a "no" is an answer, printed without the 'Error: ' prefix (the last stderr line)
        return f"none: {done.stderr.strip().splitlines()[-1].removeprefix('Error: ')} ({secs:.2f} s)"
    c = json.loads(done.stdout)
    e = c["pick"]["estimate"]
    fit = e["placement"] + (f" {e['gpu_layers']}/{e['layers']}" if e["placement"] == "split" else "")
    return f"{c['name'].split(':')[1]} {fit}, {e['total_bytes'] / 1e9:.1f} GB ({secs:.2f} s)"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="quantpick-peers-"))
    llmfit, checker = install(tmp)
    base, server = world.serve_threaded()
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
               QUANTPICK_CACHE_DIR=str(tmp / "cache"), QUANTPICK_CONFIG=str(tmp / "none.toml"))
    print(f"llmfit: {'installed' if llmfit else 'not available'}; "
          f"llm-checker: {'installed' if checker else 'not available'}; context 8K\n")
    for label, vram, ram, gpu in BUDGETS:
        print(f"## {label}")
        for model, size, task, hf_name in MODELS:
            print(f"- {model}:{size} for {task}")
            print(f"  quantpick:   {run_quantpick(env, model, size, task, vram, ram)}")
            if llmfit:
                print(f"  llmfit:      {run_llmfit(llmfit, hf_name, vram, ram)}")
        if checker:
            print(f"  llm-checker (names a model, not a tag; top pick for "
                  f"{MODELS[0][2]}): {run_checker(checker, gpu, vram, ram, MODELS[0][2])}")
        print()
    server.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

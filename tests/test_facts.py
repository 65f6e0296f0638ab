"""facts.py: parsed pages memoized by their text, so a cached answer is a lookup."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import world
from ollama_quantpick import facts, http


def test_a_page_is_parsed_once_and_again_only_when_its_text_changes():
    calls = []

    def parse(text):
        calls.append(text)
        return {"n": len(text)}

    args = (parse, lambda v: v, lambda d: {"n": int(d["n"])})
    assert facts.parsed("k", "abc", *args) == {"n": 3}
    assert facts.parsed("k", "abc", *args) == {"n": 3}
    assert calls == ["abc"]
    assert facts.parsed("k", "abcd", *args) == {"n": 4} and calls == ["abc", "abcd"]
    assert facts.parsed("k", "abc", *args, context="other model") == {"n": 3} and len(calls) == 3
    http.settings.refresh = True  # --refresh parses again
    facts.parsed("k", "abc", *args)
    assert len(calls) == 4


def test_a_garbled_or_older_entry_is_parsed_again(monkeypatch):
    calls = []
    args = (lambda t: calls.append(t) or [t], lambda v: v, lambda d: [str(d[0])])
    facts.parsed("k", "x", *args)
    monkeypatch.setattr(facts, "SCHEMA", facts.SCHEMA + 1)  # a newer build: a miss, not a misread
    assert facts.parsed("k", "x", *args) == ["x"] and len(calls) == 2
    monkeypatch.undo()
    for path in http._cache_path("x").parent.parent.rglob("*.json"):
        path.write_text('{"fetched_at": 1, "schema": 1, "facts": ')
    assert facts.parsed("k", "x", *args) == ["x"] and len(calls) == 3


MISTYPED = [("tags", "size_bytes", "43GB"), ("tags", "inputs", 5), ("tags", "params_b", "14"),
            ("tags", "variant", None), ("tags", "rows", {"not": "a list"}),
            ("model-page", "capabilities", 7), ("model-page", "description", ["x"])]


@pytest.mark.parametrize("kind,name,value", MISTYPED)
def test_a_mistyped_cached_fact_is_parsed_again_not_a_traceback(site, run, tmp_path, kind, name,
                                                                  value):
    """Valid JSON of the wrong shape (another build, a bug, a hand edit) went straight into the
    dataclass: `inputs=5` made `tags` fail with a TypeError traceback deep in the rendering."""
    budget = ["--vram", "24GB", "--ram", "64GB"]  # the table shows the model page's facts too
    first = run("tags", "phi4", *budget)
    entries = [p for p in Path(tmp_path / "cache").rglob("*.json")
               if json.loads(p.read_text()).get("kind") == kind]
    assert first.exit_code == 0 and entries
    for path in entries:
        entry = json.loads(path.read_text())
        if name == "rows":
            entry["facts"] = value
        elif kind == "tags":
            for row in entry["facts"]:
                row[name] = value
        else:
            entry["facts"][name] = value
        path.write_text(json.dumps(entry))
    second = run("tags", "phi4", *budget)
    assert second.exit_code == 0, second.stderr
    assert second.stdout == first.stdout
    assert all(json.loads(p.read_text())["facts"] != value for p in entries)  # parsed again


def test_a_record_needs_every_field_of_its_type():
    from ollama_quantpick.library import ModelInfo

    good = {"name": "phi4", "description": None, "capabilities": ["tools"], "sizes": ["14b"]}
    assert facts.record(ModelInfo, good) == ModelInfo("phi4", None, ["tools"], ["14b"])
    for bad in ({**good, "sizes": "14b"}, {k: v for k, v in good.items() if k != "sizes"},
                {**good, "name": None}, [good]):
        with pytest.raises(TypeError):
            facts.record(ModelInfo, bad)


def test_a_cached_answer_imports_neither_the_html_parser_nor_requests(httpserver, tmp_path):
    base, _ = world.serve_http(httpserver)
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
               QUANTPICK_CACHE_DIR=str(tmp_path / "c"), QUANTPICK_CONFIG=str(tmp_path / "x.toml"),
               OLLAMA_HOST="127.0.0.1:9")
    args = ["pick", "phi4", "--vram", "24GB", "--ram", "64GB"]
    cold = subprocess.run([sys.executable, "-X", "importtime", "-m", "ollama_quantpick", *args],
                          env=env, capture_output=True, text=True, timeout=120)
    assert cold.returncode == 0, cold.stderr
    warm = subprocess.run([sys.executable, "-X", "importtime", "-m", "ollama_quantpick", *args,
                           "--offline"], env=env, capture_output=True, text=True, timeout=120)
    assert warm.returncode == 0 and warm.stdout == cold.stdout

    def modules(stderr):
        return {line.split("|")[-1].strip().split(".")[0] for line in stderr.splitlines()
                if line.startswith("import time:")}
    assert "requests" in modules(cold.stderr)  # the check can fail: the cold run fetched
    assert not {"bs4", "requests", "urllib3", "soupsieve"} & modules(warm.stderr)
    # with no Ollama listening, asking its version is a refused connect: no HTTP stack, no TLS
    assert not {"ssl", "http"} & modules(warm.stderr)


def test_a_fresh_cache_answers_without_threads_or_costly_stdlib(httpserver, tmp_path):
    """Within the cache's lifetime (no --offline) the answer reads the cache in one thread: no
    thread pool (concurrent.futures, logging), no hashlib (OpenSSL), no tempfile (nothing is
    written), no subprocess (no GPU tool on PATH), no difflib."""
    base, _ = world.serve_http(httpserver)
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=base,
               QUANTPICK_CACHE_DIR=str(tmp_path / "c"), QUANTPICK_CONFIG=str(tmp_path / "x.toml"),
               OLLAMA_HOST="127.0.0.1:9", PATH=str(tmp_path / "nothing"))
    args = ["tags", "qwen3", "--vram", "24GB", "--ram", "64GB"]

    def run():
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ollama_quantpick", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done, {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                      if line.startswith("import time:")}
    cold, cold_mods = run()
    warm, warm_mods = run()
    assert warm.stdout == cold.stdout
    costly = {"concurrent.futures", "logging", "hashlib", "tempfile", "subprocess", "difflib",
              "shutil", "bs4", "requests", "ollama_quantpick.pages"}
    assert {"concurrent.futures", "ollama_quantpick.pages"} <= cold_mods  # the check can fail
    assert not costly & warm_mods

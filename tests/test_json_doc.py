"""docs/json.md against real output: every documented object has exactly the documented keys.

A new field in a command's JSON fails this test until docs/json.md lists it (a table row under the
object's `### \\`name\\`` heading); that is the point."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_cli_pull import CONFIG, ollama  # noqa: F401  (the fake Ollama fixture)
from test_hardware import fake_nvidia_smi  # noqa: F401

DOC = Path(__file__).parent.parent / "docs" / "json.md"
BUDGET = ["--vram", "24GB", "--ram", "32GB"]


def documented() -> dict[str, set[str]]:
    """`### \\`name\\`` → the first-column fields of the table under it."""
    out: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if m := re.match(r"^### `([^`]+)`", line):
            current = m.group(1)
            out[current] = set()
        elif current and (m := re.match(r"^\| `([^`]+)` \|", line)):
            # a field listed twice under one heading (two meanings for one key) is a doc error
            assert m.group(1) not in out[current], f"{current}: `{m.group(1)}` listed twice"
            out[current].add(m.group(1))
    return {k: v for k, v in out.items() if v}


def run_json(run, *args, code=0):
    result = run(*args, "--json")
    assert result.exit_code == code, (args, result.stderr)
    return json.loads(result.stdout)


def test_documented_fields_match_real_output(site, ollama, run, tmp_path, fake_nvidia_smi):  # noqa: F811
    doc = documented()
    seen: dict[str, list[dict]] = {}

    def check(name: str, *objs: dict) -> None:
        seen.setdefault(name, []).extend(objs)

    tags = run_json(run, "tags", "qwen3", *BUDGET)
    check("tags", tags)
    check("tags.request", tags["request"])
    check("tags.ollama", tags["ollama"])
    check("tags.rows[]", *tags["rows"])
    check("budget", tags["budget"])
    check("estimate", *(r["estimate"] for r in tags["rows"]))
    check("answer", tags["pick"])
    check("candidate", tags["pick"]["pick"], tags["pick"]["runner_up"])
    check("capability", *(r["capability"] for r in tags["rows"] if r["capability"]))
    cloud = run_json(run, "tags", "gpt-oss", "--all", *BUDGET)
    check("tags.cloud[]", *cloud["cloud"])
    assert cloud["cloud"] and tags["cloud"] == []

    no = run_json(run, "pick", "llama3.3", "--vram", "4GB", "--ram", "4GB", code=3)
    check("answer", no, run_json(run, "pick", "qwen3", *BUDGET))
    check("candidate", no["closest"])
    check("lacks", no["lacks"])

    for pull in (run_json(run, "pull", "phi4", "--dry-run", *BUDGET),
                 run_json(run, "pull", "phi4", "--yes", *BUDGET),
                 run_json(run, "pull", "llama3.3", "--dry-run", "--vram", "4GB", "--ram", "4GB",
                          code=3)):
        assert set(pull) == doc["answer"] | doc["pull"], set(pull) ^ (doc["answer"] | doc["pull"])
    seen["pull"] = []

    fit = run_json(run, "fit", "phi4:latest", *BUDGET)
    check("fit", fit)
    check("estimate", fit["estimate"])

    (tmp_path / "config.toml").write_text(CONFIG)
    for args in (("--dry-run",), ()):
        sync = run_json(run, "sync", *args)
        check("sync", sync)
        check("sync.rows[]", *sync["rows"])
        check("sync.summary", sync["summary"])

    ollama.installed["mine:latest"] = "f" * 64
    listed = run_json(run, "list", *BUDGET)
    check("list", listed)
    check("list.models[]", *listed["models"])
    assert len(listed["models"]) >= 2

    hw = run_json(run, "hw")
    check("hw", hw)
    check("hw.gpus[]", *hw["gpus"])
    check("hw.ollama", hw["ollama"])
    assert hw["gpus"]

    shown = run_json(run, "config", "show")
    check("config show", shown)
    check("config.setting", *shown["settings"].values())

    assert set(seen) == set(doc), f"documented but not checked: {set(doc) - set(seen)}; " \
                                  f"checked but not documented: {set(seen) - set(doc)}"
    for name, objs in seen.items():
        for obj in objs:
            assert set(obj) == doc[name], (
                f"{name}: add to docs/json.md {sorted(set(obj) - doc[name])}, "
                f"remove {sorted(doc[name] - set(obj))}")


def test_each_field_is_documented_once():
    documented()  # asserts: no heading lists a field twice


def test_one_name_per_quantity():
    """`size_bytes` meant the page's rounded size in one command and the exact download in
    another; now each quantity has one name."""
    text = DOC.read_text()
    assert "`download_bytes` is the\nexact download" in text.replace("  ", " ")
    doc = documented()
    for name in ("tags.rows[]", "candidate", "fit", "sync.rows[]", "pull"):
        assert "download_bytes" in doc[name] and "size_bytes" not in doc[name]

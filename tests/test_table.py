"""The tags table: fits the terminal, ollama-ps placement, legend, ranks, colour."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from ollama_quantpick.table import Column, layout, legend, processor, render

BUDGET = ["--vram", "16GB", "--ram", "32GB"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("vram,ram,placement,text", [
    (10, 0, "gpu", "100% GPU"), (0, 10, "cpu", "100% CPU"), (52, 48, "split", "48%/52% CPU/GPU"),
    (83, 17, "split", "17%/83% CPU/GPU"), (0, 0, "no", "no")])
def test_placement_is_written_like_ollama_ps(vram, ram, placement, text):
    assert processor(vram, ram, placement) == text


def test_layout_drops_low_priority_columns_first_and_keeps_priority_zero():
    cols = [Column("a", "A", 0), Column("b", "B", 2), Column("c", "C", 1), Column("d", "D", 0)]
    rows = [{"a": "x" * 10, "b": "y" * 10, "c": "z" * 10, "d": "w" * 10}]
    assert [c.key for c in layout(cols, rows, 100)[0]] == ["a", "b", "c", "d"]
    assert [c.key for c in layout(cols, rows, 40)[0]] == ["a", "c", "d"]
    assert [c.key for c in layout(cols, rows, 25)[0]] == ["a", "d"]
    assert [c.key for c in layout(cols, rows, 25, wide=True)[0]] == ["a", "b", "c", "d"]
    lines = render(cols, rows, 25)
    assert max(len(line) for line in lines) <= 25


def test_shrinkable_column_is_cut_with_an_ellipsis():
    cols = [Column("t", "TAG", 0, shrink=True), Column("s", "SIZE", 0)]
    lines = render(cols, [{"t": "a-very-long-tag-name-indeed", "s": "1 GB"}], 20)
    assert max(len(line) for line in lines) <= 20 and "…" in lines[1]


def test_a_shrinkable_column_is_never_cut_so_that_two_rows_read_the_same():
    cols = [Column("t", "TAG", 0, shrink=True), Column("s", "SIZE", 0)]
    rows = [{"t": "14b-q4_K_M", "s": "9 GB"}, {"t": "14b-q8_0", "s": "16 GB"},
            {"t": "8b-q4_K_M", "s": "5 GB"}]
    for width, shown in ((15, ["14b-q4_…", "14b-q8_0", "8b-q4_K…"]),
                         (14, ["14b-q4…", "14b-q8…", "8b-q4_…"]),
                         (6, ["14b-q4…", "14b-q8…", "8b-q4_…"])):  # overflows: 7 keeps them apart
        lines = render(cols, rows, width)
        assert [line.split()[0] for line in lines[1:]] == shown
        assert max(len(line) for line in lines) <= max(width, 7 + 2 + 5)
    one = render(cols, [{"t": "x" * 30, "s": "1"}, {"t": "x" * 29 + "y", "s": "2"}], 20)
    assert one[1].split()[0] != one[2].split()[0] and len(one[1]) > 20  # whole, overflowing


def test_legend_keeps_the_first_parts_that_fit():
    assert legend(["* pick", "- no", "a long explanation"], 14) == "* pick  - no"


@pytest.mark.parametrize("budget", [[], BUDGET, ["--vram", "80GB", "--ram", "256GB", "--task",
                                                   "reasoning"]])
def test_tags_at_80_columns_has_no_line_over_80(site, run, budget):
    result = run("tags", "qwen3", *budget, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    header = next(line for line in lines if "TAG" in line and "SIZE" in line)
    for col in ("TAG", "SIZE", "FIT", "TOK/S", "QUALITY"):
        assert col in header
    if budget == BUDGET:
        assert "SCORE" not in header  # a column for wider terminals
    assert any(line.startswith("* pick") and "quality kept vs fp16" in line for line in lines)


def test_wider_terminals_add_columns_and_wide_shows_all(site, run):
    at80 = run("tags", "qwen3", *BUDGET, env={"COLUMNS": "80"}).stdout
    at160 = run("tags", "qwen3", *BUDGET, env={"COLUMNS": "160"}).stdout
    wide = run("tags", "qwen3", *BUDGET, "--wide", env={"COLUMNS": "80"}).stdout

    def header(out):
        return next(line for line in out.splitlines() if "TAG" in line and "SIZE" in line).split()
    assert len(header(at80)) < len(header(at160)) <= len(header(wide))
    for col in ("PARAMS", "QUANT", "LAYERS", "NEEDS", "CTX", "SCORE", "ALIASES", "INPUT"):
        assert col in header(wide)
    assert max(len(line) for line in at160.splitlines()) <= 160
    assert "SCORE: quality x capability" in wide


def test_rows_that_cannot_run_are_marked_and_ranked_last(site, run):
    out = json.loads(run("tags", "qwen3", *BUDGET, "--json").stdout)
    runs = [r["runs"] for r in out["rows"]]
    assert True in runs and False in runs
    assert runs == sorted(runs, reverse=True)  # every runnable row before every other
    assert [r["rank"] for r in out["rows"]] == list(range(1, len(runs) + 1))
    for r in out["rows"]:
        assert (r["score"] is None) == (not r["runs"])
    table = run("tags", "qwen3", *BUDGET, "--wide").stdout.splitlines()
    marked = [line for line in table if line.startswith("-  ")]
    assert len(marked) == runs.count(False)
    assert any(" no " in line for line in marked)


def test_fit_column_and_layers_and_planned_ctx(site, run):
    table = run("tags", "qwen3", *BUDGET, "--ctx", "8192", "--wide").stdout
    out = json.loads(run("tags", "qwen3", *BUDGET, "--ctx", "8192", "--json").stdout)
    assert out["request"]["ctx"] == 8192
    assert {r["estimate"]["ctx"] for r in out["rows"]} == {8192}
    split = next(r for r in out["rows"] if r["estimate"]["placement"] == "split")
    assert re.fullmatch(r"\d+%/\d+% CPU/GPU", split["processor"])
    line = next(line for line in table.splitlines() if f" {split['tag']} " in line)
    est = split["estimate"]
    assert f"{split['processor']}  " in line and f"{est['gpu_layers']}/{est['layers']}" in line
    assert " 8K " in line and "40K" not in table  # planned context, not the model's maximum


def test_colour_on_a_terminal_unless_no_color(site):
    from ollama_quantpick.cli import cli

    args = ["tags", "qwen3", *BUDGET]
    coloured = CliRunner().invoke(cli, args, color=True, env={"COLUMNS": "80"}).stdout
    pick = next(line for line in coloured.splitlines() if ANSI.sub("", line).startswith("*"))
    assert "\x1b[32m" in pick  # the pick in green
    no = next(line for line in coloured.splitlines() if ANSI.sub("", line).split()[-4:-3] == ["no"]
              or " no " in ANSI.sub("", line) and "\x1b[31m" in line)
    assert "\x1b[31m" in no  # "no" in red
    assert max(len(ANSI.sub("", line)) for line in coloured.splitlines()) <= 80
    plain = CliRunner().invoke(cli, args, color=True, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    assert "\x1b[" not in CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).stdout  # a pipe


def test_moe_experts_on_the_cpu_are_marked_beside_the_layer_count(site, run):
    args = ["tags", "qwen3", "--task", "code", *BUDGET]
    rows = json.loads(run(*args, "--json").stdout)["rows"]
    moe = [r for r in rows if r["estimate"]["moe_cpu_layers"]]
    assert moe  # qwen3 30b-a3b keeps its routed experts on the CPU on 16 GB
    table = run(*args, env={"COLUMNS": "140"}).stdout.splitlines()
    for r in rows:
        line = next(line for line in table if f" {r['tag']} " in line)
        assert ("+e" in line) == bool(r["estimate"]["moe_cpu_layers"])
    assert "+e: MoE experts on CPU" in table[-1] or any("+e: MoE" in line for line in table)


@pytest.mark.parametrize("width", [40, 50, 80, 200])
@pytest.mark.parametrize("models", [["qwen3"], ["phi4", "qwen3"]])
def test_narrow_terminals_drop_columns_and_keep_every_tag_whole(site, run, width, models):
    """At 40 or 50 columns the table was 51 wide and showed `14b-q…` twice: a tag is the row's
    identity, so columns go first, and the table may only overflow when a tag alone cannot fit."""
    args = ["tags", *models, "--gpu", "RTX 4090", "--ram", "64GB"]
    rows = json.loads(run(*args, "--json").stdout)["rows"]
    names = [r["name"] if len(models) > 1 else r["tag"] for r in rows]
    lines = run(*args, env={"COLUMNS": str(width)}).stdout.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    start = next(i for i, line in enumerate(lines) if " TAG " in f"{line} " and "FIT" in line)
    at = lines[start].index("TAG")
    table = lines[start + 1:start + 1 + len(rows)]
    assert [line[at:].split()[0] for line in table] == names  # whole, in rank order
    assert "…" not in "".join(table)
    header = lines[start].split()
    assert "FIT" in header
    if width >= 50:
        assert "QUALITY" in header
    if width == 200:
        assert {"SIZE", "TOK/S", "QUALITY", "SCORE", "QUANT", "LAYERS"} <= set(header)

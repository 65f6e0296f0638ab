"""Text tables that fit the terminal. Pure: strings in, lines out; no Click, no I/O.

A column has a priority: at a given width the table keeps the most useful columns that fit (in
their declared order), so 80 columns show tag, size, fit, speed and quality, and wider terminals add
the rest. `wide` keeps every column whatever the width.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

GAP = 2  # spaces between columns


@dataclass(frozen=True)
class Column:
    """One column of a terminal table, and how it gives way when space runs out."""

    key: str
    header: str
    priority: int  # 0 = always shown; higher = dropped first when the width runs out
    align: str = "<"  # "<" or ">"
    shrink: bool = False  # may be cut (with "…") to make the table fit, never so far that two
    # rows read the same


def terminal_width(default: int = 80) -> int:
    """COLUMNS when set (shells export it; tests set it), else the terminal's width, else 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isascii() and env.isdigit() and int(env) > 0:
        return int(env)
    # shutil.get_terminal_size's own steps, without importing shutil (and bz2, lzma) at start-up
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return default
    return columns or default


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def distinct_width(values: list[str]) -> int:
    """The least width at which `cut` keeps these values apart: a cell that names its row (a tag)
    may lose its end, never its identity."""
    texts = set(values)
    longest = max((len(t) for t in texts), default=0)
    for w in range(1, longest):
        if len({cut(t, w) for t in texts}) == len(texts):
            return w
    return longest


def _widths(columns: list[Column], rows: list[dict[str, str]]) -> list[int]:
    return [max([len(c.header), *(len(r.get(c.key, "")) for r in rows)]) for c in columns]


def _total(widths: list[int]) -> int:
    return sum(widths) + GAP * max(len(widths) - 1, 0)


def layout(columns: list[Column], rows: list[dict[str, str]], width: int,
           wide: bool = False) -> tuple[list[Column], list[int]]:
    """The columns to show and their widths: drop the lowest-priority columns until the table fits,
    then cut shrinkable ones, never so far that two rows read the same. Priority-0 columns always
    stay; when they alone are too wide the table overflows rather than mislead."""
    shown = list(columns)
    widths = _widths(shown, rows)
    if wide:
        return shown, widths
    while _total(widths) > width:
        droppable = [c for c in shown if c.priority > 0]
        if not droppable:
            break
        worst = max(droppable, key=lambda c: (c.priority, shown.index(c)))
        shown.remove(worst)
        widths = _widths(shown, rows)
    over = _total(widths) - width
    for i, c in enumerate(shown):
        if over <= 0:
            break
        if c.shrink:
            keep = max(len(c.header), 6, distinct_width([r.get(c.key, "") for r in rows]))
            take = min(over, widths[i] - keep)
            if take > 0:
                widths[i] -= take
                over -= take
    return shown, widths


def render(columns: list[Column], rows: list[dict[str, str]], width: int, wide: bool = False,
           style: Callable[[int, str, str], str] | None = None) -> list[str]:
    """Header and one line per row. `style(row_index, column_key, padded_text)` may colour a cell
    after padding (so escape codes never shift the alignment)."""
    shown, widths = layout(columns, rows, width, wide)

    def line(cells: list[str], index: int | None) -> str:
        parts = []
        last = max((j for j, text in enumerate(cells) if text), default=0)
        for j, (c, w, text) in enumerate(zip(shown, widths, cells)):
            if j > last:
                break
            text = cut(text, w)
            # the last cell is not padded: no trailing blanks, even behind colour codes
            padded = text.rjust(w) if c.align == ">" else text if j == last else text.ljust(w)
            if style is not None and index is not None:
                padded = style(index, c.key, padded)
            parts.append(padded)
        return (" " * GAP).join(parts).rstrip()

    out = [line([c.header for c in shown], None)]
    out += [line([r.get(c.key, "") for c in shown], i) for i, r in enumerate(rows)]
    return out


def legend(parts: list[str], width: int, sep: str = "  ") -> str:
    """One line: the parts, most important first, as many as fit in `width`."""
    out: list[str] = []
    for part in parts:
        if part and len(sep.join([*out, part])) <= width:
            out.append(part)
    return sep.join(out)


def wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    """Prose (reasons, notes) wrapped to the width, continuation lines indented."""
    import textwrap

    return textwrap.wrap(text, width=max(width, 20), subsequent_indent=indent,
                         break_long_words=True, break_on_hyphens=False) or [""]


def processor(vram_bytes: int, ram_bytes: int, placement: str) -> str:
    """Where the model sits, written as `ollama ps` writes it: `100% GPU`, `100% CPU`,
    `48%/52% CPU/GPU` (share of the model's memory on each side; ollama cmd/cmd.go ListRunning)."""
    if placement == "no":
        return "no"
    total = vram_bytes + ram_bytes
    if placement == "cpu" or vram_bytes <= 0 or total <= 0:
        return "100% CPU"
    if ram_bytes <= 0 or placement == "gpu":
        return "100% GPU"
    cpu = round(ram_bytes / total * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"

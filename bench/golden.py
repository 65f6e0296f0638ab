"""Print the golden decisions of tests/test_golden.py as a Markdown table (for bench/RESULTS.md).

Run: python bench/golden.py   (the table's answers are what `pytest tests/test_golden.py` checks)
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import world  # noqa: E402


def cases():
    return world.load_module(TESTS / "test_golden.py", "golden").CASES


def main() -> None:
    print("| command | answer | why (an expert's one line) |")
    print("|---|---|---|")
    for c in cases():
        answer = f"`{c.expected}`" if c.expected else "no (exit 3)"
        print(f"| `quantpick {' '.join(a if ' ' not in a else repr(a) for a in c.args)}` | "
              f"{answer} | {c.why} |")
    print(f"\n{len(cases())} cases.")


if __name__ == "__main__":
    main()

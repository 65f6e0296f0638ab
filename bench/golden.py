"""Print the golden decisions of tests/test_golden.py as a Markdown table (for bench/RESULTS.md).

Run: python bench/golden.py   (the table's answers are what `pytest tests/test_golden.py` checks)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def cases():
    path = Path(__file__).parent.parent / "tests" / "test_golden.py"
    spec = importlib.util.spec_from_file_location("golden", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["golden"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.CASES


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

"""What a model family can do per task at full precision, from one published benchmark
(data/capability.toml: source, release, method and a URL beside every score). Pure; no I/O
beyond reading the packaged data file once.

capability(model, size, task):
  1. the model and size have a score for the task          → that score ("benchmark")
  2. another size of the same model has one                 → the nearest measured size, scaled
     by the size law (N / N_measured)^gamma                  ("size law from qwen3:14b")
  3. the model has no score for the task                    → the reference model's score scaled
     by the size law, and the output says "no benchmark data" ("no data")
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from ollama_quantpick.tagname import parse_tag


@dataclass(frozen=True)
class Capability:
    """A model's standing on one task's benchmark, and where the figure comes from."""

    value: float  # on the benchmark's 0-100 scale
    source: str  # "benchmark" | "size law" | "no data"
    basis: str  # "LiveBench Mathematics: qwen3:32b 80.1", or the anchor the size law scaled
    note: str | None = None  # "no benchmark data for phi4 (code)"

    @property
    def measured(self) -> bool:
        return self.source == "benchmark"

    def to_json(self) -> dict:
        return {"value": round(self.value, 1), "source": self.source, "basis": self.basis,
                "note": self.note}


@dataclass(frozen=True)
class Row:
    """One model size in data/capability.toml: its benchmark scores per task."""

    model: str
    size: str
    params_b: float | None
    active_params_b: float | None
    scores: dict
    url: str
    release: str
    tag_has: tuple[str, ...] = ()  # words the tag name must hold (llama4 "maverick")
    tag_lacks: tuple[str, ...] = ()  # words it must not (qwen3 "2507": a later model)
    total_params_b: float | None = None  # all weights, where the tag names only active ones

    @property
    def weights_b(self) -> float | None:
        """Billions of weights to store: what decides whether the size can fit."""
        return self.total_params_b or self.params_b

    def applies(self, tag: str) -> bool:
        """Whether this row speaks for a tag with this name (its dash-separated words)."""
        words = set(tag.lower().split("-"))
        return set(self.tag_has) <= words and not set(self.tag_lacks) & words


@lru_cache(maxsize=1)
def table() -> dict:
    from ollama_quantpick.facts import data_file

    return data_file("capability.toml")


@lru_cache(maxsize=1)
def rows() -> tuple[Row, ...]:
    out = []
    for r in table()["score"]:
        t = parse_tag(r["size"])
        scores = {k: v for k, v in r.items() if k in table()["tasks"]}
        out.append(Row(r["model"], r["size"], t.params_b, t.active_params_b, scores, r["url"],
                       r["release"], tuple(r.get("tag_has", ())), tuple(r.get("tag_lacks", ())),
                       r.get("total_params_b")))
    return tuple(out)


def families() -> list[str]:
    """Every model with at least one score, in table order (the candidates for alternatives)."""
    return list(dict.fromkeys(r.model for r in rows()))


def _gamma() -> float:
    from ollama_quantpick.quants import data

    return data()["model"]["gamma"]


def _scaled(value: float, n: float | None, n_anchor: float | None) -> float:
    if not n or not n_anchor:
        return value
    return value * (n / n_anchor) ** _gamma()


def _reference() -> Row:
    ref = table()["reference"]
    return next(r for r in rows() if r.model == ref["model"] and r.size == ref["size"])


def relative(cap: Capability, task: str) -> float:
    """The capability over the reference model's: about 1 for an 8B-class model, so score
    differences keep the scale the quality model's tie threshold was set on."""
    return cap.value / _reference().scores[task]


def benchmark(task: str) -> str:
    return table()["tasks"][task]["benchmark"]


def _repo_name(model: str) -> tuple[str, str]:
    """(the repo name's words as a tag spells them, the same with `Qwen-3`/`Llama-3.1` joined as
    the library writes them): `qwen3-32b-gguf` for hf.co/unsloth/Qwen3-32B-GGUF."""
    words = model.rsplit("/", 1)[-1].lower().replace("_", "-")
    return words, re.sub(r"([a-z])-(\d)", r"\1\2", words)


def family_in(model: str, names) -> str | None:
    """The longest of `names` (library model names) that a Hub repo's name holds, as a whole
    word: `phi4-reasoning` in hf.co/unsloth/Phi-4-reasoning-GGUF, `qwq` in Qwen/QwQ-32B-GGUF."""
    words, joined = _repo_name(model)
    for fam in sorted(names, key=len, reverse=True):
        pattern = rf"(?:^|[-_.]){re.escape(fam)}(?=$|[-_]|\.(?!\d))"
        if re.search(pattern, joined) or re.search(pattern, words):
            return fam
    return None


def hub_family(model: str, tag: str = "") -> tuple[str, str]:
    """A Hugging Face repo speaks for the library family its name holds: `hf.co/unsloth/
    Qwen3-32B-GGUF` → ("qwen3", "qwen3-32b-gguf"), the longest family first, `Llama-3.1` read as
    `llama3.1`; the repo name's words then stand in for the tag's (rows' tag_has/tag_lacks).
    Distilled models (`…-Distill-Qwen-32B`) and names with no family stay as they are."""
    if not model.startswith("hf.co/"):
        return model, tag
    words, joined = _repo_name(model)
    if "distill" in joined:
        return model, tag
    fam = family_in(model, families())
    return (fam, words) if fam else (model, tag)


# A Hub repo's header counts every weight (Qwen3-32B: 32.8B, Qwen2.5-7B: 7.61B, their model
# cards), while its name and the library's tags give the rounded size (32b, 7b). The widest gap
# known: Llama 3.2 1B holds 1.24B (1.23B on meta-llama/Llama-3.2-1B's card), 24 % more. A size
# within this factor of the count is taken as the name for it; one beyond it is another number
# (Llama-4-Scout-17B-16E names its 17B active weights of 109B).
SIZE_TOLERANCE = 1.3


def _near(named: float, count: float) -> bool:
    return abs(math.log(count / named)) <= math.log(SIZE_TOLERANCE)


def hub_size(model: str, params_b: float | None, active_params_b: float | None
             ) -> tuple[float | None, float | None]:
    """The size a Hub repo goes by, as a library tag would name it: the one its name spells
    (`32b` for the 32.8B of hf.co/unsloth/Qwen3-32B-GGUF, `30b-a3b`) when the header's count
    agrees, else its family's measured size near the count (phi-4: 14.7B → 14b), else the
    count itself. A library model's size is its tag's already: returned as given."""
    if not model.startswith("hf.co/"):
        return params_b, active_params_b
    named = parse_tag(_repo_name(model)[0])
    if named.params_b and not named.effective and (not params_b or _near(named.params_b,
                                                                          params_b)):
        return named.params_b, named.active_params_b
    family, words = hub_family(model)
    if params_b and family != model:
        near = [r for r in rows() if r.model == family and r.params_b and r.applies(words)
                and (r.active_params_b is None) == (active_params_b is None)
                and _near(r.params_b, params_b)]
        if near:
            best = min(near, key=lambda r: abs(math.log(params_b / (r.params_b or params_b))))
            return best.params_b, best.active_params_b
    return params_b, active_params_b


def lookup(model: str, params_b: float | None, active_params_b: float | None,
           task: str, tag: str = "") -> Capability:
    """The capability of `model` at this size (its tag name `tag`) for `task`, with where the
    number came from. A Hub repo is looked up at the size its name gives (`hub_size`), so
    hf.co/unsloth/Qwen3-32B-GGUF (32.8B) gets qwen3:32b's measured score."""
    params_b, active_params_b = hub_size(model, params_b, active_params_b)
    model, tag = hub_family(model, tag)
    bench = benchmark(task).split(" (")[0]
    mine = [r for r in rows() if r.model == model and task in r.scores and r.applies(tag)]
    exact = next((r for r in mine if r.params_b == params_b
                  and r.active_params_b == active_params_b), None)
    if exact is not None:
        return Capability(exact.scores[task], "benchmark",
                          f"{bench}: {model}:{exact.size} {exact.scores[task]:.1f}")
    if mine and params_b:
        near = min(mine, key=lambda r: (abs(math.log(params_b / (r.params_b or params_b))),
                                        r.active_params_b != active_params_b))
        value = _scaled(near.scores[task], params_b, near.params_b)
        return Capability(value, "size law",
                          f"{bench} of {model}:{near.size} ({near.scores[task]:.1f}) scaled by size")
    anchor = _reference()
    value = _scaled(anchor.scores[task], params_b, anchor.params_b)
    label = f"{model}:{_size(params_b, active_params_b)}" if params_b else model
    return Capability(value, "no data",
                      f"assumed like {anchor.model}:{anchor.size} ({bench} "
                      f"{anchor.scores[task]:.1f}) scaled by size",
                      f"no benchmark data for {label} ({task})")


def _size(params_b: float | None, active_params_b: float | None) -> str:
    if not params_b:
        return "?"
    return f"{params_b:g}b" + (f"-a{active_params_b:g}b" if active_params_b else "")

"""Model references (`user/model:tag`) and what a tag's name says: parameters, variant, quant.

Pure functions; no I/O. The grammar follows the tag names seen on ollama.com
(docs/library-pages.md): dash-separated words such as
`70b-instruct-q4_K_M`, `30b-a3b-q4_K_M`, `8x7b-instruct-v0.1-q4_0`, `e4b-it-q8_0`, `27b-it-qat`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import shown

# Ollama's own name rules (server/internal names): a part starts with a letter or digit and holds
# letters, digits, '_', '-' and '.'; at most 80 characters.
_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")


HF_HOSTS = ("hf.co", "huggingface.co")  # Ollama pulls `hf.co/OWNER/REPO[:QUANT]` from the Hub
# Hub repo ids: letters, digits, '-', '_', '.'; at most 96 characters; no '--' or '..'
# (huggingface_hub utils/_validators.py REPO_ID_REGEX).
_HF_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# After the colon Ollama accepts a quant name (any case) or a file name of the repo.
_HF_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed `[namespace/]model[:tag]`; namespace None means the official library.
    `host` "hf.co" marks a Hugging Face repo `hf.co/OWNER/REPO` (namespace = owner, model =
    repo, case kept: the Hub shows names as their owners wrote them)."""

    model: str
    tag: str | None = None
    namespace: str | None = None
    host: str | None = None

    @property
    def is_hf(self) -> bool:
        return self.host == "hf.co"

    @property
    def path(self) -> str:
        """`library/llama3.3` or `user/model`: the path used by the registry."""
        return f"{self.namespace or 'library'}/{self.model}"

    @property
    def page_path(self) -> str:
        """Path of the model on ollama.com: `/library/phi4` or `/user/model`."""
        return f"/{self.path}"

    @property
    def display(self) -> str:
        base = f"{self.namespace}/{self.model}" if self.namespace else self.model
        if self.host:
            base = f"{self.host}/{base}"
        return f"{base}:{self.tag}" if self.tag else base


def parse_model_ref(text: str) -> ModelRef:
    """Validate a model name before it goes into any URL; InputError (exit 2) when invalid."""
    raw = text.strip()
    hint = "a model name looks like 'llama3.3', 'llama3.3:70b' or 'user/model:tag'"
    if raw.count(":") > 1 or not raw:
        raise InputError(f"'{shown(text, 100)}' is not a valid Ollama model name; {hint}")
    name, _, tag = raw.partition(":")
    parts = name.split("/")
    if len(parts) >= 1 and parts[0].lower() in HF_HOSTS:
        return _parse_hf(text, parts, tag, ":" in raw)
    if len(parts) == 3 or (len(parts) == 2 and "." in parts[0] and _PART_RE.fullmatch(parts[0])
                           and ".." not in parts[0]):
        raise InputError(
            f"'{shown(text, 100)}' names another registry; quantpick reads ollama.com models "
            f"and hf.co/OWNER/REPO ({hint})"
        )
    # fullmatch: `$` would also match before a trailing newline, letting `user\n/model` through.
    if len(parts) > 2 or not all(_PART_RE.fullmatch(p) and ".." not in p for p in parts) or (
        tag and not _TAG_RE.fullmatch(tag)
    ) or (":" in raw and not tag):
        raise InputError(f"'{shown(text, 100)}' is not a valid Ollama model name; {hint}")
    namespace = parts[0].lower() if len(parts) == 2 else None
    if namespace == "library":
        namespace = None
    return ModelRef(model=parts[-1].lower(), tag=tag or None, namespace=namespace)


def _parse_hf(text: str, parts: list[str], tag: str, colon: bool) -> ModelRef:
    hint = "a Hugging Face model looks like 'hf.co/OWNER/REPO' or 'hf.co/OWNER/REPO:Q4_K_M'"
    owner_repo = parts[1:]
    if len(owner_repo) != 2 or not all(
        _HF_PART_RE.fullmatch(p) and ".." not in p and "--" not in p for p in owner_repo
    ) or (colon and not tag) or (tag and not _HF_TAG_RE.fullmatch(tag)):
        raise InputError(f"'{shown(text, 100)}' is not a valid Hugging Face model name; {hint}")
    return ModelRef(model=owner_repo[1], tag=tag or None, namespace=owner_repo[0], host="hf.co")


@dataclass(frozen=True)
class TagInfo:
    """What a tag's name tells: sizes in billions of parameters, variant words and quant."""

    params_b: float | None = None
    active_params_b: float | None = None
    effective: bool = False  # `e4b`: an effective size (Gemma 3n), not the stored parameter count
    variant: tuple[str, ...] = field(default_factory=tuple)
    quant: str | None = None


# `70b`, `1.5b`, `270m`, `8x7b`, `e4b`; `a3b` is the active size of an MoE (`30b-a3b`).
# At most 6 digits (999,999b): a longer number is no parameter count (400 digits made an inf
# that overflowed the ranking), so the word stays a variant.
_NUM = r"([0-9]{1,6}(?:\.[0-9]{1,6})?)"
_PARAMS_RE = re.compile(rf"^(?:([0-9]{{1,4}})x)?{_NUM}([bm])$")
_EFFECTIVE_RE = re.compile(rf"^e{_NUM}b$")
_ACTIVE_RE = re.compile(rf"^a{_NUM}b$")
# Quant words: q4_K_M, q8_0, q3_K_S, iq2_xs, fp16, f16, bf16, fp32, mxfp4 (any case).
_QUANT_RE = re.compile(
    r"^(?:(?P<q>q\d(?:_[0-9a-z]+)*)|(?P<iq>iq\d(?:_[a-z0-9]+)*)|(?P<f>fp16|f16|bf16|fp32|f32)"
    r"|(?P<fp4>mxfp4|nvfp4))$",
    re.IGNORECASE,
)


def normalise_quant(word: str) -> str | None:
    """The GGUF spelling Ollama uses (`q4_K_M`, `q8_0`, `iq2_xs`, `fp16`), or None."""
    m = _QUANT_RE.match(word)
    if not m:
        return None
    if m.group("q"):
        head, *rest = m.group("q").lower().split("_")
        return "_".join([head, *(p.upper() if p.isalpha() else p for p in rest)])
    if m.group("iq"):
        return m.group("iq").lower()
    if m.group("f"):
        f = m.group("f").lower()
        return {"f16": "fp16", "f32": "fp32"}.get(f, f)
    return m.group("fp4").lower()


def _billions(count: str | None, number: str, unit: str) -> float:
    value = float(number) * (int(count) if count else 1)
    return round(value / 1000, 6) if unit == "m" else value


def parse_tag(tag: str) -> TagInfo:
    """Parse a tag name such as `70b-instruct-q4_K_M`; words it does not know become variant."""
    params = active = None
    effective = False
    quant = None
    variant: list[str] = []
    for word in tag.split("-"):
        low = word.lower()
        if params is None and (m := _PARAMS_RE.match(low)):
            params = _billions(m.group(1), m.group(2), m.group(3))
        elif params is None and (m := _EFFECTIVE_RE.match(low)):
            params, effective = float(m.group(1)), True
        elif params is not None and active is None and (m := _ACTIVE_RE.match(low)):
            active = float(m.group(1))
        elif quant is None and (q := normalise_quant(word)):
            quant = q
        elif low not in ("latest", ""):
            variant.append(low)
    return TagInfo(params, active, effective, tuple(variant), quant)

"""The quant catalogue and model constants, loaded once from data/quants.toml (sources there)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Quant:
    """One quantization type's size and quality figures (data/quants.toml)."""

    name: str
    bpw_block: float
    bpw_file: float
    kld: float
    k_speed: float
    kld_imatrix: float | None = None
    k_cpu: float | None = None  # CPU read speed vs F16 where measured (speed.py)
    note: str = ""
    rated: bool = True  # False: not in the catalogue, scored from its bits per weight alone
    unpicked: str = ""  # why this type is listed but never picked (no evidence, not loadable)

    @property
    def is_iq(self) -> bool:
        return self.name.startswith("iq")


@lru_cache(maxsize=1)
def data() -> dict:
    from ollama_quantpick.facts import data_file

    return data_file("quants.toml")


def tasks() -> list[str]:
    return list(data()["tasks"])


def lookup(name: str | None, *, qat: bool = False, bpw: float | None = None) -> Quant:
    """The catalogue entry for `name` (Ollama spelling); QAT q4_0 has its own entry.

    An unknown type is rated by interpolating KLD over bits per weight between the catalogue's
    K-quants (when `bpw` is known), and marked unrated.
    """
    table = data()["quants"]
    key = (name or "").strip()
    if qat and key in ("q4_0", ""):
        key = "q4_0_qat"
    for candidate in (key, key.lower()):
        if candidate in table:
            return Quant(candidate, **table[candidate])
    if bpw is None:
        bpw = 4.5
    points = sorted((v["bpw_file"], v["kld"]) for k, v in table.items()
                    if not k.startswith("iq") and k not in ("q4_0_qat", "mxfp4") and v["kld"] > 0)
    below = [p for p in points if p[0] <= bpw]
    above = [p for p in points if p[0] > bpw]
    if not below:
        kld = points[0][1]
    elif not above:
        kld = below[-1][1]
    else:
        (b0, k0), (b1, k1) = below[-1], above[0]
        kld = k0 + (k1 - k0) * (bpw - b0) / (b1 - b0)
    return Quant(name or "unknown", bpw, bpw, kld, 0.7, rated=False,
                 note="not in the catalogue: KLD interpolated from its bits per weight")


def curve_kld(bpw: float) -> float:
    """KLD at `bpw` whole-file bits per weight on the imatrix curve: the catalogue's measured
    llama.cpp types (K-quants with their imatrix KLD, IQ types, Q8_0/Q6_K), reduced to the
    frontier (a type is kept only if it beats every type with fewer bits: Q4_0/Q4_1 drop out)
    and interpolated linearly. Used for mixed files (dynamic quants) whose
    tensor mix matches no single type; the sources are in data/quants.toml [dynamic]."""
    table = data()["quants"]
    points = sorted((v["bpw_file"], v.get("kld_imatrix", v["kld"])) for k, v in table.items()
                    if v.get("rated", True) and not v.get("unpicked") and v["kld"] > 0
                    and k not in ("q4_0_qat", "mxfp4", "bf16"))
    envelope: list[tuple[float, float]] = []
    for b, k in points:
        if not envelope or k < envelope[-1][1]:
            envelope.append((b, k))
    if bpw <= envelope[0][0]:
        return envelope[0][1]
    if bpw >= envelope[-1][0]:
        return envelope[-1][1]
    for (b0, k0), (b1, k1) in zip(envelope, envelope[1:]):
        if b0 <= bpw <= b1:
            return k0 + (k1 - k0) * (bpw - b0) / (b1 - b0) if b1 > b0 else k0
    return envelope[-1][1]


def dynamic(name: str, bpw: float, base: str | None = None) -> Quant:
    """A mixed-precision file (Unsloth `UD-*`, `*_XL`): rated from its actual bits per weight
    on the imatrix curve; speed as its base type when known."""
    table = data()["quants"]
    k_speed = table[base]["k_speed"] if base in table else 0.7
    return Quant(name, bpw, bpw, curve_kld(bpw), k_speed,
                 note=f"dynamic mix at {bpw:.2f} bits/weight: rated on the imatrix curve "
                      f"({data()['dynamic']['source']})")

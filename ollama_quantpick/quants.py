"""The quant catalogue and model constants, loaded once from data/quants.toml (sources there)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Quant:
    name: str
    bpw_block: float
    bpw_file: float
    kld: float
    k_speed: float
    kld_imatrix: float | None = None
    k_cpu: float | None = None  # CPU read speed vs F16 where measured (speed.py)
    note: str = ""
    rated: bool = True  # False: not in the catalogue, scored from its bits per weight alone

    @property
    def is_iq(self) -> bool:
        return self.name.startswith("iq")


@lru_cache(maxsize=1)
def data() -> dict:
    from importlib.resources import files

    from ollama_quantpick.tomlcompat import tomllib

    return tomllib.loads(files("ollama_quantpick").joinpath("data/quants.toml").read_text())


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

"""The memory a decision may use (`Budget`) and the byte units everything counts in.

Kept apart from `hardware` so that the pure estimator and scorer never import detection code
(subprocess, ctypes, NVML).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MiB = 2**20
GiB = 2**30


@dataclass
class Budget:
    """The memory the decision may use. `gpu_free` is per GPU (Ollama places layers per GPU)."""

    gpu_free: list[int]
    ram_bytes: int
    backend: str = "cpu"  # the GPU backend Ollama would use: cuda | rocm | metal | cpu
    gpu_bandwidth_gbps: float | None = None
    cpu_bandwidth_gbps: float | None = None
    source: dict[str, str] = field(default_factory=dict)
    gpu_overhead_bytes: int = 0
    gpu_total: list[int] = field(default_factory=list)  # total memory per GPU (free when unknown)
    # The CPU is Apple silicon's: its cores draw less of the chip's bandwidth than a PC's draw of
    # theirs (data/speed.toml [cpu] eta_apple), with the GPU planned for or not (--gpu none).
    cpu_apple: bool = False

    @property
    def vram_bytes(self) -> int:
        return sum(self.gpu_free)

    @property
    def tier_vram_bytes(self) -> int:
        """What Ollama's default-context tiers look at: Σ (total − OLLAMA_GPU_OVERHEAD)."""
        if not self.gpu_free:
            return 0
        if not self.gpu_total:
            return self.vram_bytes
        return sum(max(0, t - self.gpu_overhead_bytes) for t in self.gpu_total)

    def to_json(self) -> dict:
        return {"vram_bytes": self.vram_bytes, "ram_bytes": self.ram_bytes,
                "gpu_count": len(self.gpu_free), "backend": self.backend,
                "gpu_bandwidth_gbps": self.gpu_bandwidth_gbps,
                "cpu_bandwidth_gbps": self.cpu_bandwidth_gbps,
                "gpu_overhead_bytes": self.gpu_overhead_bytes, "source": self.source}

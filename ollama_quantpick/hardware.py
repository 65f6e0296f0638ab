"""What this machine can hold: GPUs and their memory, system RAM, and the `Budget` built from them.

Detection never crashes: a missing tool means "no such GPU"; a tool that is present but fails is
kept as a note for `quantpick hw` to show. Every external call goes through `Probe`, the seam
tests replace with recorded outputs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ollama_quantpick.budget import Budget, GiB, MiB  # noqa: F401  (Budget, sizes re-exported)
from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import format_bytes, parse_float, parse_uint, shown

# System-RAM bandwidth when nothing better is known: dual-channel DDR4-3200, 2 × 25.6 GB/s
# (JEDEC DDR4-3200 peak per 64-bit channel). ASSUMPTION: most desktops and laptops are at or above
# it; servers with more channels are faster. Apple chips use their unified-memory figure instead.
ASSUMED_CPU_GBPS = 51.2


@dataclass
class GPU:
    """One detected or named GPU: vendor, memory, bandwidth and Ollama's backend."""

    vendor: str  # nvidia | amd | apple
    name: str
    vram_bytes: int
    free_bytes: int
    bandwidth_gbps: float | None = None
    backend: str = "cuda"  # the GPU backend Ollama would use: cuda | rocm | metal
    index: int = 0


@dataclass
class Hardware:
    """What this machine has: its GPUs and RAM, with notes on how they were found."""

    gpus: list[GPU]
    ram_bytes: int | None
    ram_available_bytes: int | None
    notes: list[str] = field(default_factory=list)


class ToolFailed(Exception):
    """A tool exists but did not answer usefully."""


@dataclass
class Probe:
    """The seam to the outside world: run a command, read a file, see the environment."""

    run: Callable[[list[str]], str] | None = None
    read: Callable[[str], str | None] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    platform: str = sys.platform
    nvml: object | None = None  # a pynvml-like module; recorded probes pass their own

    def load_nvml(self):
        """NVML through `nvidia-ml-py` when it is installed (optional), else None."""
        if self.run is not None or self.nvml is not None:
            return self.nvml
        try:
            import pynvml
        except ImportError:
            return None
        return pynvml

    def command(self, argv: list[str]) -> str | None:
        """stdout of `argv`; None when the tool is not installed; ToolFailed when it fails."""
        if self.run is not None:
            return self.run(argv)
        if not _on_path(argv[0]):  # not installed: no fork and exec to find that out
            return None
        import subprocess  # here, not at the top: most machines lack nvidia-smi or rocm-smi

        try:
            # errors="replace": a driver printing Latin-1 (or garbage) must not crash detection.
            done = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                  timeout=10, check=False)
        except FileNotFoundError:
            return None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolFailed(f"{argv[0]} failed: {exc}") from None
        if done.returncode != 0:
            first = (done.stderr or done.stdout).strip().splitlines()
            raise ToolFailed(f"{argv[0]} failed: {first[0] if first else f'exit {done.returncode}'}")
        return done.stdout

    def file(self, path: str) -> str | None:
        if self.read is not None:
            return self.read(path)
        try:
            return Path(path).read_text()
        except OSError:
            return None


def _on_path(tool: str) -> bool:
    """`shutil.which(tool) is not None`, without importing shutil (and its bz2 and lzma) on every
    start-up; Windows, with its PATHEXT rules, still asks shutil."""
    if sys.platform == "win32":
        import shutil

        return shutil.which(tool) is not None
    return any(os.access(p, os.X_OK) and not os.path.isdir(p)
               for p in (os.path.join(d, tool) for d in os.get_exec_path()))


def _matches(entry: dict, name: str) -> bool:
    return all(re.search(rf"(?<![\w]){re.escape(w)}(?![\w])", name, re.IGNORECASE)
               for w in entry["match"])


def entry_gbps(entry: dict, ram: int | None = None) -> float | None:
    """An entry's peak bandwidth (GB/s); None where the table cites none. An Apple chip with at most
    `binned_up_to_gib` GB (Apple's GB are GiB) is the cut-down part: `binned_gbps`."""
    if "binned_gbps" in entry and ram is not None and ram <= entry["binned_up_to_gib"] * GiB:
        return float(entry["binned_gbps"])
    return float(entry["gbps"]) if "gbps" in entry else None


def bandwidth_for(name: str, ram: int | None = None) -> float | None:
    """Peak memory bandwidth (GB/s) from data/gpus.toml, or None when the card is unknown. `ram`:
    an Apple machine's unified memory, which tells the binned Max chips apart."""
    entry = next((e for e in _gpu_table()["gpu"] if _matches(e, name)), None)
    return entry_gbps(entry, ram) if entry else None


def gpu_keyword(value: str) -> str:
    """`auto` and `none` in any case (`--gpu NONE`); any other value unchanged."""
    key = value.strip().lower()
    return key if key in ("auto", "none") else value


_TABLE: dict | None = None


def _gpu_table() -> dict:
    global _TABLE
    if _TABLE is None:
        from ollama_quantpick.facts import data_file

        _TABLE = data_file("gpus.toml")
    return _TABLE


def gpu_names() -> list[str]:
    """The names `--gpu NAME` accepts (data/gpus.toml)."""
    return [e["name"] for e in _gpu_table()["gpu"]]


def _normal(text: str) -> str:
    text = re.sub(r"^(nvidia|geforce|amd|radeon|apple)\s+", "", text.strip(), flags=re.IGNORECASE)
    text = re.sub(r"^(geforce|radeon)\s+", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+gpu$", "", text, flags=re.IGNORECASE)  # nvidia-smi: "RTX 4090 Laptop GPU"
    return " ".join(text.split()).lower()


def lookup_gpu(value: str) -> tuple[int, dict]:
    """`"RTX 4090"`, `"2x RTX 3090"`, `"Apple M3 Max"` → (count, gpus.toml entry). InputError with
    the closest names when the card is unknown or the count is not a positive number."""
    import difflib

    count = 1
    if m := re.match(r"^\s*(\d+)\s*[x×*]\s*(.+)$", value, re.IGNORECASE):
        count, value = int(m.group(1)), m.group(2)
        if not 1 <= count <= 16:
            raise InputError(f"--gpu '{m.group(0).strip()}': the count must be 1 to 16, e.g. "
                             f"'2x {value.strip()}'")
    want = _normal(value)
    table = _gpu_table()["gpu"]
    entry = next((e for e in table if _normal(e["name"]) == want), None)
    if entry is None and want:
        # the words given, all in the name ("4090" → RTX 4090); the shortest such name wins
        words = set(want.split())
        found = sorted((e for e in table if words <= set(_normal(e["name"]).split())),
                       key=lambda e: len(e["name"].split()))
        if found and (len(found) == 1 or len(found[0]["name"].split()) < len(found[1]["name"].split())):
            entry = found[0]
    if entry is None:
        names = {n.lower(): n for n in gpu_names()}
        close = difflib.get_close_matches(want, list(names), n=4, cutoff=0.5)
        hint = ", ".join(names[c] for c in close) or ", ".join(list(names.values())[:8]) + ", …"
        raise InputError(f"--gpu: no GPU named '{value.strip()}' in quantpick's table; closest: "
                         f"{hint} (or auto, none; or give --vram)")
    if entry.get("vendor") == "apple" and count != 1:
        raise InputError(f"--gpu: an Apple chip is one GPU, not {count}")
    return count, entry


def apple_share(ram: int) -> float:
    """recommendedMaxWorkingSetSize / RAM as measured (data/gpus.toml [[apple_share]])."""
    rows = sorted(_gpu_table()["apple_share"], key=lambda r: r["from_gib"])
    # thresholds are Apple's sizes (128 GB = 128 GiB); --ram 128GB means the same machine
    return [r for r in rows if ram >= r["from_gib"] * 1e9 * 0.98][-1]["share"]  # 1e9: see above


# Unified-memory sizes Apple sells (its "GB" are GiB).
APPLE_SIZES_GB = (8, 16, 18, 24, 32, 36, 48, 64, 96, 128, 192, 256, 512)


def named_hardware(value: str, ram: int | None, machine: Hardware | None = None) -> Hardware:
    """The hardware `--gpu NAME` describes: that many idle cards of that model, or that Apple chip
    with `ram` (else its base configuration) of unified memory. Non-Apple machines keep
    `machine`'s RAM (total and available, as detected) unless `ram` is given: then that is the
    RAM planned for."""
    count, entry = lookup_gpu(value)
    vendor = entry.get("vendor", "nvidia")
    if vendor == "apple":
        total = ram if ram is not None else int(entry["ram_gib"] * GiB)
        if ram is not None and ram % 10**9 == 0 and ram // 10**9 in APPLE_SIZES_GB:
            total = ram // 10**9 * GiB  # "--ram 64GB" names Apple's 64 GB model: 64 GiB
        share = int(total * apple_share(total))
        note = f"planning for {entry['name']} with {total / GiB:.0f} GiB unified memory"
        if ram is None:
            note += " (its base configuration; pass --ram for another)"
        return Hardware([GPU("apple", f"Apple {entry['name']}", share, share,
                             entry_gbps(entry, total), "metal", 0)], total, total, [note])
    library = "rocm" if vendor == "amd" else "cuda"
    vram = int(entry["vram_gib"] * GiB)
    gpus = [GPU(vendor, entry["name"], vram, vram, entry_gbps(entry), library, i)
            for i in range(count)]
    what = f"{count}x {entry['name']} ({entry['vram_gib']} GiB each" if count > 1 else \
        f"{entry['name']} ({entry['vram_gib']} GiB"
    note = f"planning for {what}, assumed idle)"
    if ram is not None:
        return Hardware(gpus, ram, ram, [note])
    return Hardware(gpus, machine.ram_bytes if machine else None,
                    machine.ram_available_bytes if machine else None, [note])


def gpu_label(value: str) -> str:
    """The canonical spelling of a --gpu NAME: '2x RTX 3090'."""
    count, entry = lookup_gpu(value)
    return f"{count}x {entry['name']}" if count > 1 else entry["name"]


def _visible(env: Mapping[str, str], var: str, index: int, uuid: str = "") -> bool:
    """Ollama honours CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES (indexes or UUIDs)."""
    value = env.get(var)
    if value is None:
        return True
    ids = [v.strip() for v in value.split(",") if v.strip()]
    return str(index) in ids or bool(uuid and uuid in ids)


def nvidia_nvml(nvml, probe: Probe, notes: list[str]) -> list[GPU] | None:
    """The same facts as nvidia-smi, from NVML; None when NVML cannot answer."""
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError and friends: driver missing or mismatched
        notes.append(f"NVML failed: {exc} — asking nvidia-smi")
        return None
    gpus = []
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            uuid = nvml.nvmlDeviceGetUUID(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            if _visible(probe.env, "CUDA_VISIBLE_DEVICES", index, uuid):
                gpus.append(GPU("nvidia", name, int(mem.total), int(mem.free),
                                bandwidth_for(name), "cuda", index))
    except Exception as exc:
        notes.append(f"NVML failed: {exc} — asking nvidia-smi")
        return None
    finally:
        with contextlib.suppress(Exception):  # shutting down a library that may have failed
            nvml.nvmlShutdown()
    return gpus


def nvidia(probe: Probe, notes: list[str]) -> list[GPU]:
    """NVML when nvidia-ml-py is installed, else nvidia-smi's CSV."""
    if (nvml := probe.load_nvml()) is not None:
        found = nvidia_nvml(nvml, probe, notes)
        if found is not None:
            return found
    query = "index,name,memory.total,memory.used,memory.free,uuid"
    try:
        out = probe.command(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"])
    except ToolFailed as exc:
        notes.append(f"{exc} — NVIDIA GPUs not counted")
        return []
    gpus = []
    if "\ufffd" in (out or ""):
        notes.append("nvidia-smi printed bytes that are not UTF-8; GPU names may be garbled")
    for line in (out or "").strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        # nvidia-smi prints `[N/A]` or, with a broken driver, `inf`/`nan`: no number of MiB.
        index = parse_uint(parts[0], limit=4096) if parts else None
        total = parse_float(parts[2], limit=2**30) if len(parts) > 4 else None
        free = parse_float(parts[4], limit=2**30) if len(parts) > 4 else None
        if index is None or total is None or free is None:
            notes.append(f"nvidia-smi printed a line quantpick cannot read: '{shown(line, 120)}'")
            continue
        name, total, free = parts[1], int(total) * MiB, int(free) * MiB
        uuid = parts[5] if len(parts) > 5 else ""
        if _visible(probe.env, "CUDA_VISIBLE_DEVICES", index, uuid):
            gpus.append(GPU("nvidia", name, total, free, bandwidth_for(name), "cuda", index))
    return gpus


def amd(probe: Probe, notes: list[str]) -> list[GPU]:
    """rocm-smi JSON when installed, else sysfs (works without ROCm tools)."""
    gpus: list[GPU] = []
    try:
        out = probe.command(["rocm-smi", "--showmeminfo", "vram", "--showproductname", "--json"])
    except ToolFailed as exc:
        notes.append(f"{exc} — trying sysfs for AMD GPUs")
        out = None
    if out:
        try:
            cards = json.loads(out)
            for key, card in sorted(cards.items()):
                if not key.startswith("card"):
                    continue
                index = int(key[4:])
                total = int(card["VRAM Total Memory (B)"])
                used = int(card.get("VRAM Total Used Memory (B)", 0))
                name = card.get("Card Series") or card.get("Card series") or "AMD GPU"
                if _visible(probe.env, "HIP_VISIBLE_DEVICES", index):
                    gpus.append(GPU("amd", name, total, total - used, bandwidth_for(name), "rocm",
                                    index))
            return gpus
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
            notes.append("rocm-smi printed JSON quantpick cannot read — trying sysfs")
    for index in range(16):
        base = f"/sys/class/drm/card{index}/device"
        vendor = probe.file(f"{base}/vendor")
        if vendor is None:
            if index > 0 and probe.file(f"/sys/class/drm/card{index + 1}/device/vendor") is None:
                break
            continue
        if vendor.strip() != "0x1002":
            continue
        total_b = parse_uint(probe.file(f"{base}/mem_info_vram_total"))
        used_b = parse_uint(probe.file(f"{base}/mem_info_vram_used")) or 0
        if total_b is None:
            continue
        # APUs report a small carve-out (e.g. 512 MiB) as VRAM; Ollama ignores those too.
        if total_b < 1 * GiB:
            continue
        if _visible(probe.env, "HIP_VISIBLE_DEVICES", len(gpus)):
            gpus.append(GPU("amd", "AMD GPU", total_b, total_b - used_b, None, "rocm", index))
    return gpus


def metal_share(ram: int) -> int:
    """The share of unified memory Metal lets the GPU use: recommendedMaxWorkingSetSize.

    Apple does not document the formula; data/gpus.toml [[apple_share]] holds the values llama.cpp
    logs print on current macOS (0.74 up to 24 GB, 0.78 at 32-36 GB, 0.81 at 64 GB, 0.84 at 128 GB).
    `iogpu.wired_limit_mb` overrides it.
    """
    return int(ram * apple_share(ram))


def apple(probe: Probe, notes: list[str]) -> tuple[list[GPU], int | None]:
    try:
        mem = probe.command(["sysctl", "-n", "hw.memsize"])
        chip = (probe.command(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip()
    except ToolFailed as exc:
        notes.append(f"{exc} — Apple GPU not counted")
        return [], None
    ram = parse_uint(mem)
    if ram is None:
        return [], None
    if not chip.startswith("Apple"):  # an Intel Mac: no Metal offload in Ollama
        return [], ram
    share = metal_share(ram)
    try:
        wired = (probe.command(["sysctl", "-n", "iogpu.wired_limit_mb"]) or "").strip()
        if (wired_mb := parse_uint(wired, limit=2**40)):
            share = wired_mb * MiB
    except ToolFailed:
        pass
    return [GPU("apple", chip, share, share, bandwidth_for(chip, ram), "metal", 0)], ram


def system_ram(probe: Probe) -> tuple[int | None, int | None]:
    """(total, available) bytes: /proc/meminfo on Linux, sysctl/vm_stat on macOS."""
    meminfo = probe.file("/proc/meminfo")
    if meminfo:
        values = {}
        for line in meminfo.splitlines():
            key, _, rest = line.partition(":")
            num = parse_uint(rest.strip().split(" ")[0], limit=2**50)
            if num is not None:
                values[key] = num * 1024
        return values.get("MemTotal"), values.get("MemAvailable", values.get("MemFree"))
    if probe.platform == "win32" and probe.run is None:
        return _windows_memory()
    if probe.platform == "darwin":
        try:
            total = parse_uint(probe.command(["sysctl", "-n", "hw.memsize"])) or 0
            stat = probe.command(["vm_stat"]) or ""
        except ToolFailed:
            return None, None
        m = re.search(r"page size of ([0-9]{1,8})", stat)
        page = int(m.group(1)) if m else 16384
        pages = sum(int(m.group(1)) for key in ("Pages free", "Pages inactive", "Pages speculative")
                    if (m := re.search(rf"{key}:\s+([0-9]{{1,16}})", stat)))
        return total or None, pages * page or None
    return None, None


def _windows_memory() -> tuple[int | None, int | None]:
    """GlobalMemoryStatusEx (kernel32): total and available physical memory."""
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong),
                    ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong),
                    ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    try:
        if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return None, None
    except (AttributeError, OSError):
        return None, None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def detect(probe: Probe | None = None) -> Hardware:
    """Every GPU Ollama would use on this machine, and system RAM."""
    probe = probe or Probe()
    notes: list[str] = []
    gpus: list[GPU] = []
    if probe.platform == "darwin":
        gpus, _ = apple(probe, notes)
    else:
        gpus = nvidia(probe, notes) + amd(probe, notes)
    total, available = system_ram(probe)
    if available is None:
        notes.append("system RAM could not be read here; pass --ram (or set [budget] ram)")
    return Hardware(gpus, total, available, notes)


def gpu_overhead(env: Mapping[str, str]) -> int:
    """OLLAMA_GPU_OVERHEAD: bytes Ollama keeps free on each GPU (envconfig/config.go parses it
    with Go's strconv.ParseUint: ASCII digits only). A value it cannot read is refused here rather
    than planned with: '²' passes str.isdigit() but is no number to Ollama."""
    raw = env.get("OLLAMA_GPU_OVERHEAD", "").strip()
    if not raw:
        return 0
    value = parse_uint(raw)
    if value is None:
        raise InputError(f"OLLAMA_GPU_OVERHEAD='{shown(raw)}' is not a number of bytes; fix or "
                         "unset it")
    return value


def make_budget(hw: Hardware, *, vram: int | None = None, ram: int | None = None,
                gpu: str = "auto", vram_source: str = "flag", ram_source: str = "flag",
                gpu_source: str = "flag", env: Mapping[str, str] | None = None) -> Budget:
    """The budget: flags (or config) over detection. `gpu="none"` plans for the CPU alone;
    `gpu_source` says whether `gpu` came from --gpu or the config's budget.gpu.

    `vram` is the memory of EACH GPU planned for (the named count, else the detected GPUs, else
    one): `--gpu "2x RTX 3090" --vram 20GiB` is two 20 GiB cards, as Ollama places layers per GPU.
    OLLAMA_GPU_OVERHEAD comes off every GPU's free memory, detected, named or stated, as Ollama's
    scheduler does (server/sched.go: available = FreeMemory - GpuOverhead() - MinimumMemory())."""
    env = os.environ if env is None else env
    overhead = gpu_overhead(env)
    gpu = gpu_keyword(gpu)
    named = gpu not in ("auto", "none")

    def gpu_said(label: str) -> str:  # where the GPU came from, as the user wrote it
        return f"config budget.gpu = {label}" if gpu_source == "config" else f"--gpu {label}"

    vram_said = "--vram" if vram_source == "flag" else "config budget.vram"
    if gpu == "none" and vram:
        raise InputError(f"{gpu_said('none')} plans for the CPU alone, but {vram_said} "
                         f"{format_bytes(vram)} gives a GPU; drop one of them")
    if named:
        hw = named_hardware(gpu, ram, hw)
        if hw.gpus[0].vendor == "apple":
            ram = None  # unified: what the GPU does not take is left for the CPU (below)
    gpus = [] if gpu == "none" else hw.gpus
    backend = gpus[0].backend if gpus else "cpu"
    bandwidth = min((g.bandwidth_gbps for g in gpus if g.bandwidth_gbps), default=None)
    source = {}
    total: list[int] = []
    if gpu == "none":
        free, source["vram"] = [], vram_source if vram == 0 else gpu_said("none")
    elif vram is not None:
        if vram and backend == "metal" and hw.ram_bytes and vram > hw.ram_bytes:
            chip = hw.gpus[0].name.removeprefix("Apple ").strip()
            larger = " (pass --ram for a larger configuration)" if named else ""
            raise InputError(f"{vram_said} {format_bytes(vram)} is more than the {chip}'s "
                             f"{hw.ram_bytes / GiB:.0f} GiB of unified memory{larger}")
        biggest = max((g.vram_bytes for g in gpus), default=0)
        if not named and len(gpus) > 1 and vram > biggest:
            # More than any of this machine's cards has: most likely a total meant for all of
            # them (--vram is each GPU's), which would plan twice the memory. One detected card
            # may be overridden (planning for a bigger one); a named card may be a variant
            # (RTX 4060 Ti 8 or 16 GB), so neither is refused.
            raise InputError(f"{vram_said} {format_bytes(vram)} is more than any of the "
                             f"{len(gpus)} GPUs detected has ({format_bytes(biggest)}): --vram is "
                             "the memory of each GPU; to plan for other cards, name them with --gpu")
        count = max(1, len(gpus))
        # a stated size is each card's total (the context tiers use it); the overhead comes off
        # what the release can place, as on a detected card
        total = [vram] * count if vram > 0 else []
        free = [max(0, vram - overhead)] * len(total)
        source["vram"] = vram_source
        backend = backend if backend != "cpu" else "cuda"
        if not vram:
            backend = "cpu"
    else:
        free = [max(0, g.free_bytes - overhead) for g in gpus]
        total = [g.vram_bytes for g in gpus]
        source["vram"] = gpu_said(gpu_label(gpu)) if named else "detected"
    if ram is not None:
        ram_bytes, source["ram"] = ram, ram_source
    else:
        ram_bytes = hw.ram_available_bytes or 0
        source["ram"] = "detected"
        if backend == "metal" and free:  # unified memory: what the GPU takes, the CPU cannot
            ram_bytes = max(0, ram_bytes - sum(free))
            source["ram"] = "rest of unified memory" if named else "detected"
    cpu_bw = next((g.bandwidth_gbps for g in hw.gpus if g.vendor == "apple"), None)
    source["cpu_bandwidth"] = "chip" if cpu_bw else "assumed"
    return Budget(free, ram_bytes, backend, bandwidth, cpu_bw or ASSUMED_CPU_GBPS, source,
                  overhead, total, cpu_apple=any(g.vendor == "apple" for g in hw.gpus))

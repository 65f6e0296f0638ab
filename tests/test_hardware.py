"""Detection fed with recorded tool outputs through the Probe seam (no real GPU tools needed)."""

import json
import os
import stat
from pathlib import Path

import pytest

from ollama_quantpick import hardware
from ollama_quantpick.errors import InputError
from ollama_quantpick.hardware import GiB, MiB, Probe, ToolFailed

HW = Path(__file__).parent / "fixtures" / "hw"


def recorded(outputs: dict[str, str | Exception | None], files: dict[str, str] | None = None,
             env=None, platform="linux"):
    """A Probe answering each tool from `outputs` (None: not installed)."""
    def run(argv):
        out = outputs.get(argv[0])
        if isinstance(out, Exception):
            raise out
        if argv[0] == "sysctl":
            return out.get(argv[-1]) if out else None
        return out
    files = files if files is not None else {"/proc/meminfo": (HW / "meminfo.txt").read_text()}
    return Probe(run=run, read=files.get, env=env or {}, platform=platform)


def test_two_nvidia_cards():
    hw = hardware.detect(recorded({"nvidia-smi": (HW / "nvidia-smi-two.csv").read_text()}))
    assert [g.name for g in hw.gpus] == ["NVIDIA GeForce RTX 3090"] * 2
    assert hw.gpus[0].vram_bytes == 24576 * MiB and hw.gpus[1].free_bytes == 24200 * MiB
    assert hw.gpus[0].bandwidth_gbps == 936 and hw.gpus[0].backend == "cuda"
    assert hw.ram_bytes == 65781372 * 1024 and hw.ram_available_bytes == 50331648 * 1024
    budget = hardware.make_budget(hw)
    assert budget.vram_bytes == (23906 + 24200) * MiB and budget.source["vram"] == "detected"


def test_cuda_visible_devices_is_honoured():
    probe = recorded({"nvidia-smi": (HW / "nvidia-smi-two.csv").read_text()},
                     env={"CUDA_VISIBLE_DEVICES": "1"})
    assert [g.index for g in hardware.detect(probe).gpus] == [1]
    probe.env = {"CUDA_VISIBLE_DEVICES": "GPU-0b1f8c7e-5d21-4f3a-8f7c-6c1e2a9b3d01"}
    assert [g.index for g in hardware.detect(probe).gpus] == [0]


def test_failing_nvidia_smi_is_a_note_not_a_crash():
    failed = ToolFailed("nvidia-smi failed: " + (HW / "nvidia-smi-failed.txt").read_text().strip())
    hw = hardware.detect(recorded({"nvidia-smi": failed}))
    assert hw.gpus == [] and "couldn't communicate with the NVIDIA driver" in hw.notes[0]
    assert hardware.make_budget(hw).backend == "cpu"


def test_no_gpu_tools_means_cpu_only():
    hw = hardware.detect(recorded({}))
    assert hw.gpus == [] and hw.notes == []
    budget = hardware.make_budget(hw)
    assert budget.gpu_free == [] and budget.ram_bytes == 50331648 * 1024


def test_rocm_smi_json():
    hw = hardware.detect(recorded({"rocm-smi": (HW / "rocm-smi.json").read_text()}))
    (gpu,) = hw.gpus
    assert (gpu.vendor, gpu.backend, gpu.bandwidth_gbps) == ("amd", "rocm", 960)
    assert gpu.free_bytes == 25753026560 - 1073741824


def test_amd_sysfs_without_rocm_tools():
    files = {"/proc/meminfo": (HW / "meminfo.txt").read_text(),
             "/sys/class/drm/card0/device/vendor": "0x8086\n",  # an Intel iGPU: ignored
             "/sys/class/drm/card1/device/vendor": "0x1002\n",
             "/sys/class/drm/card1/device/mem_info_vram_total": "17163091968\n",
             "/sys/class/drm/card1/device/mem_info_vram_used": "536870912\n"}
    (gpu,) = hardware.detect(recorded({}, files)).gpus
    assert gpu.vram_bytes == 17163091968 and gpu.free_bytes == 17163091968 - 536870912


def test_apple_silicon_uses_the_metal_share_of_unified_memory():
    sysctl = {"hw.memsize": "68719476736\n", "machdep.cpu.brand_string": "Apple M2 Max\n",
              "iogpu.wired_limit_mb": "0\n"}
    probe = recorded({"sysctl": sysctl, "vm_stat": (HW / "vm_stat.txt").read_text()}, files={},
                     platform="darwin")
    hw = hardware.detect(probe)
    (gpu,) = hw.gpus
    assert gpu.backend == "metal" and gpu.vram_bytes == int(64 * GiB * 0.81)  # 64 GB: 0.81
    assert gpu.bandwidth_gbps == 400
    assert hw.ram_available_bytes == (180000 + 900000 + 20000) * 16384
    budget = hardware.make_budget(hw)
    assert budget.cpu_bandwidth_gbps == 400 and budget.source["cpu_bandwidth"] == "chip"
    sysctl["iogpu.wired_limit_mb"] = "57344\n"
    assert hardware.detect(probe).gpus[0].vram_bytes == 57344 * MiB


def test_metal_share_follows_measured_working_set_sizes():
    # logged recommendedMaxWorkingSetSize on current macOS: 16 GB 12713.12 MB, 32 GB 26800.60 MB,
    # 128 GB 107.52 GiB
    assert abs(hardware.metal_share(16 * GiB) - 12713.12e6) < 20e6
    assert abs(hardware.metal_share(32 * GiB) - 26800.60e6) < 20e6
    assert abs(hardware.metal_share(128 * GiB) - 107.52 * GiB) < 0.01 * GiB
    for row in hardware._gpu_table()["apple_share"]:
        assert "MB" in row["source"] or "GiB" in row["source"]  # each share says what was logged


@pytest.mark.parametrize("name,count,canonical,vram_gib,gbps", [
    ("RTX 4090", 1, "RTX 4090", 24, 1008), ("2x RTX 3090", 2, "RTX 3090", 24, 936),
    ("rtx 4070", 1, "RTX 4070", 12, 504), ("NVIDIA GeForce RTX 4060 Laptop", 1, "RTX 4060 Laptop", 8, 256),
    ("4090", 1, "RTX 4090", 24, 1008), ("RX 7800 XT", 1, "RX 7800 XT", 16, 624),
    ("RTX 5080", 1, "RTX 5080", 16, 960), ("3 x RTX 4060", 3, "RTX 4060", 8, 272),
])
def test_gpu_by_name(name, count, canonical, vram_gib, gbps):
    n, entry = hardware.lookup_gpu(name)
    assert (n, entry["name"], entry["vram_gib"], entry["gbps"]) == (count, canonical, vram_gib, gbps)
    budget = hardware.make_budget(hardware.Hardware([], 32 * GiB, 30 * GiB), gpu=name)
    assert budget.gpu_free == [vram_gib * GiB] * count and budget.gpu_bandwidth_gbps == gbps
    assert budget.ram_bytes == 30 * GiB and budget.backend in ("cuda", "rocm")


def test_apple_chip_by_name_takes_its_share_of_the_ram_given():
    budget = hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="M3 Max",
                                  ram=128 * 10**9)
    assert budget.backend == "metal" and budget.gpu_bandwidth_gbps == 400
    # "128GB" names Apple's 128 GB model, 128 GiB; Metal lets the GPU have 84 % of it
    assert budget.gpu_free == [int(128 * GiB * 0.84)]
    assert budget.ram_bytes == 128 * GiB - budget.vram_bytes  # the rest of unified memory
    odd = hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="M3 Max", ram=100 * GiB)
    assert odd.vram_bytes == int(100 * GiB * 0.81)  # not a size Apple sells: taken as given
    assert budget.cpu_bandwidth_gbps == 400
    base = hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="M4")
    assert abs(base.vram_bytes - 16 * GiB * 0.74) < MiB  # M4's base configuration: 16 GB


@pytest.mark.parametrize("name,message", [
    ("RTX 9999", "closest: RTX 5090, RTX 4090"), ("0x RTX 3090", "the count must be 1 to 16"),
    ("2x M3 Max", "an Apple chip is one GPU"), ("RTX 40", "no GPU named 'RTX 40'"),
])
def test_unknown_gpu_names_are_input_errors(name, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        hardware.lookup_gpu(name)


def test_budget_precedence_and_overhead():
    hw = hardware.detect(recorded({"nvidia-smi": (HW / "nvidia-smi-one.csv").read_text()}))
    assert hardware.make_budget(hw, vram=16 * 10**9).vram_bytes == 16 * 10**9
    assert hardware.make_budget(hw, vram=16 * 10**9).gpu_bandwidth_gbps == 1008
    assert hardware.make_budget(hw, gpu="none").gpu_free == []
    env = {"OLLAMA_GPU_OVERHEAD": str(2 * GiB)}
    assert hardware.make_budget(hw, env=env).vram_bytes == 23142 * MiB - 2 * GiB


def test_unknown_card_has_no_bandwidth():
    assert hardware.bandwidth_for("NVIDIA Quadro Imaginary 9000") is None
    assert hardware.bandwidth_for("NVIDIA H100 PCIe") == 2000
    assert hardware.bandwidth_for("Apple M1") == 68.25 and hardware.bandwidth_for("Apple M1 Max") == 400


# ---- the command, with a fake nvidia-smi first on PATH ------------------------------------------

@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\ncat " + str(HW / "nvidia-smi-two.csv") + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")


def test_hw_json_with_two_24_gb_cards(run, fake_nvidia_smi):
    out = json.loads(run("hw", "--json").stdout)
    assert len(out["gpus"]) == 2 and out["gpus"][0]["vendor"] == "nvidia"
    assert 46e9 < out["budget"]["vram_bytes"] <= 48 * 2**30
    assert out["budget"]["source"]["vram"] == "detected"


def test_hw_flags_override(run, fake_nvidia_smi):
    assert json.loads(run("hw", "--json", "--gpu", "none").stdout)["budget"]["vram_bytes"] == 0
    flagged = json.loads(run("hw", "--json", "--vram", "16GB").stdout)["budget"]
    # --vram is each GPU's memory: the two detected cards are planned as 16 GB each
    assert flagged["vram_bytes"] == 2 * 16 * 10**9 and flagged["gpu_count"] == 2
    assert flagged["source"]["vram"] == "flag"


def test_hw_on_this_machine_without_gpu_tools(run, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi, no rocm-smi here
    result = run("hw")
    assert result.exit_code == 0 and "budget: CPU only" in result.stdout


def test_hw_bad_size_is_exit_2(run):
    result = run("hw", "--vram", "lots")
    assert result.exit_code == 2 and "'lots' is not a size" in result.stderr


def test_hw_config_budget(run, tmp_path):
    (tmp_path / "config.toml").write_text('[budget]\nvram = "12GB"\n')
    out = json.loads(run("hw", "--json").stdout)["budget"]
    assert out["vram_bytes"] == 12 * 10**9 and out["source"]["vram"] == "config"


class RecordedNVML:
    """A pynvml stand-in answering what NVML reports for the two RTX 3090s of the CSV."""

    def __init__(self, fail: bool = False):
        self.fail = fail
        self.cards = []
        for line in (HW / "nvidia-smi-two.csv").read_text().splitlines():
            index, name, total, _used, free, uuid = (p.strip() for p in line.split(","))
            self.cards.append((name.encode(), uuid.encode(), int(total) * MiB, int(free) * MiB))

    def nvmlInit(self):  # noqa: N802 - pynvml's names
        if self.fail:
            raise RuntimeError("Driver/library version mismatch")

    def nvmlShutdown(self):  # noqa: N802
        pass

    def nvmlDeviceGetCount(self):  # noqa: N802
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, i):  # noqa: N802
        return i

    def nvmlDeviceGetName(self, h):  # noqa: N802
        return self.cards[h][0]

    def nvmlDeviceGetUUID(self, h):  # noqa: N802
        return self.cards[h][1]

    def nvmlDeviceGetMemoryInfo(self, h):  # noqa: N802
        from types import SimpleNamespace

        total, free = self.cards[h][2], self.cards[h][3]
        return SimpleNamespace(total=total, free=free, used=total - free)


def test_nvml_gives_the_same_result_as_nvidia_smi():
    smi = hardware.detect(recorded({"nvidia-smi": (HW / "nvidia-smi-two.csv").read_text()}))
    probe = recorded({})
    probe.nvml = RecordedNVML()
    assert hardware.detect(probe).gpus == smi.gpus


def test_failing_nvml_falls_back_to_nvidia_smi():
    probe = recorded({"nvidia-smi": (HW / "nvidia-smi-one.csv").read_text()})
    probe.nvml = RecordedNVML(fail=True)
    hw = hardware.detect(probe)
    assert [g.name for g in hw.gpus] == ["NVIDIA GeForce RTX 4090"]
    assert "NVML failed: Driver/library version mismatch" in hw.notes[0]


def test_unreadable_ram_says_what_to_do():
    hw = hardware.detect(recorded({}, files={}))
    assert hw.ram_available_bytes is None and "pass --ram" in hw.notes[-1]
    assert hardware.make_budget(hw, ram=8 * 10**9).ram_bytes == 8 * 10**9


def test_hw_plans_for_a_named_gpu(run):
    result = run("hw", "--gpu", "2x RTX 3090", "--ram", "64GB")
    assert result.exit_code == 0, result.stderr
    assert "planning for 2x RTX 3090 (24 GiB each, assumed idle)" in result.stderr
    assert result.stdout.count("RTX 3090") >= 2 and "936 GB/s" in result.stdout
    assert "(--gpu 2x RTX 3090)" in result.stdout
    mac = json.loads(run("hw", "--gpu", "M3 Max", "--ram", "128GB", "--json").stdout)
    assert mac["budget"]["backend"] == "metal" and mac["gpus"][0]["name"] == "Apple M3 Max"
    assert mac["budget"]["vram_bytes"] + mac["budget"]["ram_bytes"] == 128 * GiB


@pytest.mark.parametrize("name,message", [
    ("RTX 9999", "no GPU named 'RTX 9999' in quantpick's table; closest: RTX 5090, RTX 4090"),
    ("0x RTX 3090", "the count must be 1 to 16"),
])
def test_hw_bad_gpu_name_is_exit_2_with_suggestions(run, name, message):
    result = run("hw", "--gpu", name)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args,config,source", [
    (["--gpu", "RTX 4090"], "", "--gpu RTX 4090"),
    ([], '[budget]\ngpu = "RTX 4090"\n', "config budget.gpu = RTX 4090"),
])
def test_hw_with_a_named_gpu_keeps_this_machines_ram_and_names_where_the_gpu_came_from(
        run, monkeypatch, tmp_path, args, config, source):
    """It showed the available RAM as the total ("RAM: 23.9 GB total" of 25.3), and a GPU from
    the config as "(--gpu RTX 4090)"."""
    monkeypatch.setattr(hardware, "detect", lambda probe=None: hardware.Hardware([], 32 * 10**9,
                                                                                  30 * 10**9))
    (tmp_path / "config.toml").write_text(config)
    text = run("hw", *args)
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "RAM: 32.0 GB total, 30.0 GB available" in lines
    assert f"budget: 25.8 GB VRAM ({source}) + 30.0 GB RAM (detected)" in lines
    out = json.loads(run("hw", *args, "--json").stdout)
    assert (out["ram_bytes"], out["ram_available_bytes"]) == (32 * 10**9, 30 * 10**9)
    assert out["budget"]["source"]["vram"] == source
    given = json.loads(run("hw", *args, "--ram", "64GB", "--json").stdout)  # the RAM planned for
    assert (given["ram_bytes"], given["ram_available_bytes"]) == (64 * 10**9, 64 * 10**9)


def test_no_gpu_from_the_config_is_named_as_the_config():
    budget = hardware.make_budget(hardware.Hardware([], 32 * GiB, 30 * GiB), gpu="none",
                                  gpu_source="config")
    assert budget.source["vram"] == "config budget.gpu = none" and budget.gpu_free == []
    assert hardware.make_budget(hardware.Hardware([], 32 * GiB, 30 * GiB), gpu="none") \
        .source["vram"] == "--gpu none"


# ---- laptop GPUs, binned Apple chips, data-centre variants ---------------------------------------

@pytest.mark.parametrize("name,gbps", [
    ("NVIDIA GeForce RTX 4090 Laptop GPU", 576), ("NVIDIA GeForce RTX 4080 Laptop GPU", 432),
    ("NVIDIA GeForce RTX 4070 Laptop GPU", 256), ("NVIDIA GeForce RTX 5090 Laptop GPU", 896),
    ("NVIDIA GeForce RTX 3080 Ti Laptop GPU", 512), ("NVIDIA GeForce RTX 3060 Laptop GPU", 336),
    ("NVIDIA GeForce RTX 5070 Laptop GPU", None), ("NVIDIA GeForce RTX 4090", 1008),
    ("NVIDIA A100 80GB PCIe", 1935), ("NVIDIA A100-SXM4-80GB", 2039), ("NVIDIA H100 NVL", 3900),
])
def test_laptop_and_variant_gpus_get_their_own_bandwidth(name, gbps):
    """A laptop GPU got its desktop namesake's bandwidth (4090 Laptop: 1008 GB/s, spec 576), so
    speed came out up to 2x too high; a laptop part without a cited clock now has none."""
    assert hardware.bandwidth_for(name) == gbps


def test_a_detected_laptop_gpu_plans_with_laptop_bandwidth():
    smi = "0, NVIDIA GeForce RTX 4090 Laptop GPU, 16376, 500, 15876, GPU-1\n"
    (gpu,) = hardware.detect(recorded({"nvidia-smi": smi})).gpus
    assert gpu.bandwidth_gbps == 576
    assert hardware.make_budget(hardware.detect(recorded({"nvidia-smi": smi}))).gpu_bandwidth_gbps == 576
    n, entry = hardware.lookup_gpu("RTX 4090 Laptop GPU")  # as nvidia-smi spells it
    assert (n, entry["name"], entry["vram_gib"]) == (1, "RTX 4090 Laptop", 16)
    assert hardware.lookup_gpu("RTX 4090")[1]["name"] == "RTX 4090"


@pytest.mark.parametrize("chip,ram_gb,gbps", [
    ("M3 Max", 36, 300), ("M3 Max", 48, 400), ("M3 Max", 128, 400), ("M4 Max", 36, 410),
    ("M4 Max", 64, 546), ("M2 Max", 32, 400),
])
def test_the_binned_max_chips_have_less_bandwidth(chip, ram_gb, gbps):
    """The 36 GB M3 Max / M4 Max is the cut-down part (30- / 32-core GPU): 300 / 410 GB/s."""
    budget = hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu=chip,
                                  ram=ram_gb * 10**9)
    assert budget.gpu_bandwidth_gbps == gbps
    assert hardware.bandwidth_for(f"Apple {chip}", ram_gb * GiB) == gbps
    sysctl = {"hw.memsize": str(ram_gb * GiB), "machdep.cpu.brand_string": f"Apple {chip}\n"}
    probe = recorded({"sysctl": sysctl, "vm_stat": (HW / "vm_stat.txt").read_text()}, files={},
                     platform="darwin")
    assert hardware.detect(probe).gpus[0].bandwidth_gbps == gbps
    base = hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="M3 Max")
    assert base.gpu_bandwidth_gbps == 300  # its base configuration is the 36 GB one


# ---- --vram per GPU, --gpu none with --vram, overhead, keywords -----------------------------------

def test_vram_is_each_named_gpus_memory():
    """`--gpu "2x RTX 3090" --vram 20GiB` planned ONE 20 GiB GPU while `hw` listed two."""
    hw = hardware.Hardware([], 64 * GiB, 60 * GiB)
    budget = hardware.make_budget(hw, gpu="2x RTX 3090", vram=20 * GiB)
    assert budget.gpu_free == [20 * GiB, 20 * GiB] and budget.gpu_total == [20 * GiB] * 2
    assert budget.gpu_bandwidth_gbps == 936 and budget.backend == "cuda"
    one = hardware.make_budget(hw, vram=20 * GiB)  # nothing detected or named: one GPU
    assert one.gpu_free == [20 * GiB]


def test_a_vram_above_every_detected_card_is_a_total_refused_not_doubled():
    """With two 24 GiB cards detected, `--vram 48GB` (a total, as it meant before --vram was per
    GPU) planned 96 GB without a word. One detected card may still be overridden upwards."""
    two = hardware.Hardware([hardware.GPU("nvidia", "RTX 3090", 24 * GiB, 23 * GiB, 936.0),
                             hardware.GPU("nvidia", "RTX 3090", 24 * GiB, 23 * GiB, 936.0)],
                            64 * GiB, 60 * GiB)
    with pytest.raises(InputError, match=r"--vram 48\.0 GB is more than any of the 2 GPUs "
                                         r"detected has \(25\.8 GB\): --vram is the memory of each"):
        hardware.make_budget(two, vram=48 * 10**9)
    assert hardware.make_budget(two, vram=20 * GiB).gpu_free == [20 * GiB] * 2
    one = hardware.Hardware(two.gpus[:1], 64 * GiB, 60 * GiB)
    assert hardware.make_budget(one, vram=48 * 10**9).gpu_free == [48 * 10**9]


@pytest.mark.parametrize("source,message", [
    ("flag", "--gpu none plans for the CPU alone, but --vram 24.0 GB gives a GPU; drop one of them"),
    ("config", "config budget.gpu = none plans for the CPU alone, but config budget.vram 24.0 GB"),
])
def test_no_gpu_with_a_vram_size_is_a_contradiction(source, message):
    """`--gpu none --vram 24GB` silently planned for the CPU alone."""
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="none", vram=24 * 10**9,
                             vram_source=source, gpu_source=source)
    assert hardware.make_budget(hardware.Hardware([], 8 * GiB, 6 * GiB), gpu="none",
                                vram=0).gpu_free == []


def test_gpu_overhead_comes_off_a_stated_vram_too():
    """With OLLAMA_GPU_OVERHEAD=2GiB, `--vram 24GiB` kept 24 GiB free (context tier at 22)
    while `--gpu "RTX 4090"` took it off: both take it off what the release can place."""
    env = {"OLLAMA_GPU_OVERHEAD": str(2 * GiB)}
    hw = hardware.Hardware([], 64 * GiB, 60 * GiB)
    stated = hardware.make_budget(hw, vram=24 * GiB, env=env)
    named = hardware.make_budget(hw, gpu="RTX 4090", env=env)
    assert stated.gpu_free == named.gpu_free == [22 * GiB]
    assert stated.tier_vram_bytes == named.tier_vram_bytes == 22 * GiB
    assert hardware.make_budget(hw, vram=GiB, env=env).gpu_free == [0]


def test_vram_above_an_apple_chips_memory_is_refused():
    """`--gpu "M3 Max" --vram 100GB` planned 100 GB of VRAM on a 36 GiB chip."""
    hw = hardware.Hardware([], 8 * GiB, 6 * GiB)
    with pytest.raises(InputError, match=r"--vram 100\.0 GB is more than the M3 Max's 36 GiB of "
                       r"unified memory \(pass --ram for a larger configuration\)"):
        hardware.make_budget(hw, gpu="M3 Max", vram=100 * 10**9)
    big = hardware.make_budget(hw, gpu="M3 Max", vram=100 * 10**9, ram=128 * 10**9)
    assert big.gpu_free == [100 * 10**9] and big.ram_bytes == 128 * GiB - 100 * 10**9
    sysctl = {"hw.memsize": str(16 * GiB), "machdep.cpu.brand_string": "Apple M2\n"}
    mac = hardware.detect(recorded({"sysctl": sysctl, "vm_stat": (HW / "vm_stat.txt").read_text()},
                                   files={}, platform="darwin"))
    with pytest.raises(InputError, match="more than the M2's 16 GiB of unified memory$"):
        hardware.make_budget(mac, vram=24 * 10**9)


@pytest.mark.parametrize("word", ["NONE", "None", " none "])
def test_gpu_keywords_in_any_case(word):
    hw = hardware.Hardware([], 8 * GiB, 6 * GiB)
    budget = hardware.make_budget(hw, gpu=word)
    assert budget.gpu_free == [] and budget.backend == "cpu"
    assert budget.source["vram"] == "--gpu none"


def test_hw_takes_gpu_keywords_in_any_case(run, fake_nvidia_smi):
    """`--gpu NONE` / `Auto` exited 2 ("no GPU named 'NONE'"), while "rtx 4090" worked."""
    none = run("hw", "--json", "--gpu", "NONE")
    assert none.exit_code == 0, none.stderr
    assert json.loads(none.stdout)["budget"]["vram_bytes"] == 0
    auto = run("hw", "--json", "--gpu", "Auto")
    assert auto.exit_code == 0, auto.stderr
    assert json.loads(auto.stdout)["budget"]["gpu_count"] == 2


def test_hw_gpu_none_with_vram_is_exit_2(run):
    result = run("hw", "--gpu", "none", "--vram", "24GB")
    assert result.exit_code == 2 and "--gpu none plans for the CPU alone" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr

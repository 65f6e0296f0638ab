"""`quantpick hw`: what quantpick sees on this machine and the budget it will plan with."""

from __future__ import annotations

import click

from ollama_quantpick.commands import common
from ollama_quantpick.sizes import format_bytes


@click.command("hw")
@common.budget_options
@common.version_option
@click.option("--json", "as_json", is_flag=True, help="Print GPUs, RAM and budget as JSON.")
def command(vram, ram, gpu, as_json):
    """Show GPUs, VRAM, RAM, bandwidth and the budget the decision will use.

    \b
    Examples:
      quantpick hw
      quantpick hw --vram 16GB --json
      CUDA_VISIBLE_DEVICES=0 quantpick hw
    """
    from ollama_quantpick import settings

    cfg = common.load_config()
    hw, budget = settings.budget(cfg, vram, ram, gpu)
    release = common.resolve_release(cfg)
    state = ollama_state(cfg, release)
    if as_json:
        common.echo_json({
            "gpus": [{"vendor": g.vendor, "name": g.name, "vram_bytes": g.vram_bytes,
                      "free_bytes": g.free_bytes, "bandwidth_gbps": g.bandwidth_gbps,
                      "backend": g.backend, "index": g.index} for g in hw.gpus],
            "ram_bytes": hw.ram_bytes, "ram_available_bytes": hw.ram_available_bytes,
            "budget": budget.to_json(), "notes": hw.notes,
            "ollama": {**release.to_json(), "note": release.note, **state}})
        return
    for note in hw.notes:
        click.echo(f"note: {note}", err=True)
    if not hw.gpus:
        click.echo("GPUs: none that Ollama would use")
    for g in hw.gpus:
        bw = f"{g.bandwidth_gbps:g} GB/s" if g.bandwidth_gbps else "bandwidth unknown"
        click.echo(f"GPU {g.index}: {g.vendor} {g.name} — {format_bytes(g.vram_bytes)} total, "
                   f"{format_bytes(g.free_bytes)} free, {bw} ({g.backend})")
    click.echo(f"RAM: {format_bytes(hw.ram_bytes)} total, "
               f"{format_bytes(hw.ram_available_bytes)} available")
    if budget.gpu_free:
        click.echo(f"budget: {format_bytes(budget.vram_bytes)} VRAM ({budget.source['vram']}) + "
                   f"{format_bytes(budget.ram_bytes)} RAM ({budget.source['ram']})")
    else:
        click.echo(f"budget: CPU only ({budget.source['vram']}), {format_bytes(budget.ram_bytes)}"
                   f" RAM ({budget.source['ram']})")
    where = {"flag": "--ollama-version", "config": "config ollama.version",
             "daemon": "the running Ollama"}.get(release.source)
    click.echo(f"Ollama: {release.label} ({where or 'assumed: ' + (release.note or 'unknown')}"
               f"{'; the newest release quantpick knows' if where is None else ''})")
    running = (f"running, {state['running_version']}" if state["running"]
               else "not running" if state["running"] is False else "not asked")
    click.echo(f"Ollama at {state['host']}: {running}")
    free = state["models_free_bytes"]
    click.echo(f"models: {state['models_dir']}"
               + ("" if free is None else f", {format_bytes(free)} free")
               + ("" if state["models_dir_source"] == "default" else " (OLLAMA_MODELS)"))
    if budget.gpu_overhead_bytes:
        click.echo(f"OLLAMA_GPU_OVERHEAD keeps {format_bytes(budget.gpu_overhead_bytes)} free "
                   "per GPU")


def ollama_state(cfg, release) -> dict:
    """Where Ollama is (host), whether it answers and which version, where it keeps models and
    the free disk there. The daemon is asked once: `resolve_release` already asked it unless the
    release came from a flag or the config."""
    import os

    from ollama_quantpick.daemon import Daemon, free_disk, models_dir, resolve_host

    host = resolve_host(None, cfg.get("ollama.host"))
    if release.source == "assumed":  # it was asked and did not answer
        running, version = False, None
    else:
        answer, _ = Daemon(host).version()
        running, version = answer is not None, answer
    where = models_dir()
    return {"host": host, "running": running, "running_version": version,
            "models_dir": str(where),
            "models_dir_source": "OLLAMA_MODELS" if os.environ.get("OLLAMA_MODELS") else "default",
            "models_free_bytes": free_disk(where)}

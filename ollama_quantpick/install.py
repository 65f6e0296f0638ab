"""Plan and pull what a pick or a config asks for: the logic `pull` and `sync` share.

Plain functions over a `Daemon` (the official `ollama` client); they never print. Progress and
the confirmation prompt are callbacks the command supplies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ollama_quantpick.errors import QuantpickError

if TYPE_CHECKING:
    from ollama_quantpick.artifacts import Artifact
    from ollama_quantpick.budget import Budget
    from ollama_quantpick.config import Config
    from ollama_quantpick.daemon import Daemon
    from ollama_quantpick.release import Release

CONFIRM_ABOVE = 1_000_000_000  # ask before downloads above 1 GB (on a terminal, without --yes)

Progress = Callable[[str, "str | None", "int | None", "int | None"], None]


def installed_as(daemon: Daemon, artifact: Artifact) -> str | None:
    """The name Ollama has `artifact` under (same manifest digest, or one of its tags when the
    digest is unknown), or None."""
    digest = artifact.manifest.digest if artifact.manifest else None
    model = artifact.name.split(":")[0]
    return daemon.find([f"{model}:{t}" for t in artifact.tags], digest)


def pull(daemon: Daemon, artifact: Artifact, *, on_progress: Progress | None = None,
         confirm: Callable[[int], None] | None = None) -> str:
    """Pull `artifact` unless Ollama already has it; returns "pulled" or "already installed as
    NAME". `confirm(size)` is called before a download above CONFIRM_ABOVE bytes (it raises to
    refuse). A local Ollama is checked for disk space first."""
    from ollama_quantpick import daemon as daemon_mod

    if have := installed_as(daemon, artifact):
        return f"already installed as {have}"
    size = artifact.download_bytes
    if confirm is not None and size > CONFIRM_ABOVE:
        confirm(size)
    if daemon_mod.is_local(daemon.host):
        daemon_mod.check_disk(size)
    daemon.pull(artifact.name, on_progress or (lambda *_: None))
    return "pulled"


@dataclass
class SyncItem:
    """One [[models]] entry of the config: what was chosen for it and what happens to it."""

    model: str
    task: str
    artifact: Artifact | None = None
    reason: str | None = None
    installed: bool | None = None  # None: unknown (Ollama not reachable on a dry run)
    action: str = "pull"  # keep | pull | pulled | failed | same (as entry `same_as`)
    error: str | None = None
    same_as: int | None = None  # 1-based number of an earlier entry that chose the same download
    warnings: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str | None:
        return self.artifact.name if self.artifact else None

    @property
    def download_bytes(self) -> int | None:
        return self.artifact.download_bytes if self.artifact else None

    def fail(self, exc: QuantpickError | str) -> None:
        self.action, self.error = "failed", str(exc)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "tag": self.tag,
                "download_bytes": self.download_bytes, "installed": self.installed,
                "action": self.action, "reason": self.reason, "error": self.error,
                "same_as": self.same_as}


def config_hint(message: str) -> str:
    """The decision's hints name pick's flags; sync reads the config, so name its keys."""
    for flag, key in (("lower --min-speed", "lower defaults.min_speed in the config"),
                      ("--min-speed", "defaults.min_speed"), ("--ctx", "the entry's ctx"),
                      ("--size", "the entry's size"), ("--vram/--ram", "[budget] vram/ram"),
                      ("--vram", "[budget] vram"), ("--ram", "[budget] ram"),
                      ("--task", "the entry's task"), ("--prefer", "the entry's prefer")):
        message = message.replace(flag, key)
    return message


def plan_sync(cfg: Config, budget: Budget, daemon: Daemon, *, dry_run: bool,
              release: Release | None = None) -> list[SyncItem]:
    """Decide every [[models]] entry and see whether Ollama has it. One failing entry does not
    stop the others; on a dry run an unreachable Ollama leaves `installed` unknown. An entry
    that chose the same download as an earlier one is "same" (as `same_as`): it is neither pulled
    nor counted again."""
    from ollama_quantpick import settings
    from ollama_quantpick.planner import choose

    items: list[SyncItem] = []
    first: dict[str, SyncItem] = {}  # download (manifest digest, else name) -> the entry with it
    for entry in cfg.models:
        # several names: the candidates of one slot compete; the winner is pulled
        names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
        item = SyncItem(", ".join(names), settings.decision(cfg, {}, entry).task)
        items.append(item)
        try:
            req = settings.request(names, budget, cfg, entry=entry, release=release)
            result, pick, reason = choose(req)
            item.warnings = list(getattr(result, "warnings", []))
            if pick is None:
                raise QuantpickError(config_hint(reason))
            item.artifact = pick.artifact
            item.reason = reason
            manifest = item.artifact.manifest
            key = manifest.digest if manifest and manifest.digest else item.artifact.name
            if (earlier := first.setdefault(key, item)) is not item:
                item.same_as, item.installed = items.index(earlier) + 1, earlier.installed
                item.action = "same"
                continue
            try:
                item.installed = installed_as(daemon, item.artifact) is not None
            except QuantpickError:
                if not dry_run:
                    raise
            item.action = "keep" if item.installed else "pull"
        except QuantpickError as exc:
            item.fail(config_hint(str(exc)))
    return items


def run_sync(items: list[SyncItem], daemon: Daemon,
             progress: Callable[[SyncItem], Progress] | None = None) -> None:
    """Pull every item whose action is "pull"; each becomes "pulled", "failed", or "keep" when
    Ollama has it by now (another pull finished since the plan). `progress` makes one progress
    display per pull (its `finish()`, if any, is called after it)."""
    daemon.forget_installed()  # the plan may be minutes old (the confirmation prompt waited)
    for item in items:
        if item.action != "pull" or item.artifact is None:
            continue
        shown = progress(item) if progress else None
        try:
            outcome = pull(daemon, item.artifact, on_progress=shown)
            item.action = "pulled" if outcome == "pulled" else "keep"
            item.installed = item.installed or outcome != "pulled"
        except QuantpickError as exc:
            item.fail(exc)
        finally:
            if finish := getattr(shown, "finish", None):
                finish()

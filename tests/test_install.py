"""install.py without the CLI: pull and sync logic over the real `ollama` client and a fake daemon."""

import shutil
from collections import namedtuple

import pytest

import world
from ollama_fake import FakeOllama
from ollama_quantpick import config, install
from ollama_quantpick.budget import Budget
from ollama_quantpick.daemon import Daemon, resolve_host
from ollama_quantpick.errors import QuantpickError

GB = 10**9
BUDGET = Budget([24 * GB], 64 * GB, "cuda", 936.0, 51.2)  # an RTX 3090-class card


@pytest.fixture
def daemon(httpserver, monkeypatch, tmp_path):
    fake = FakeOllama()
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(2 * 10**12, 10**12, 10**12))
    d = Daemon(resolve_host(fake.attach(httpserver)))
    d.fake = fake
    return d


def artifact(model: str, tag: str):
    from ollama_quantpick import artifacts
    from ollama_quantpick.tagname import parse_model_ref

    listing = artifacts.load(parse_model_ref(model))
    return next(a for a in listing.artifacts if tag in a.tags)


def test_pull_then_already_installed_by_digest(site, daemon):
    a = artifact("phi4", "latest")
    events = []
    assert install.pull(daemon, a, on_progress=lambda *e: events.append(e)) == "pulled"
    assert daemon.fake.pulls == ["phi4:14b-q4_K_M"]
    assert events[0][0] == "pulling manifest" and events[-1][0] == "success"
    assert install.pull(daemon, a) == "already installed as phi4:14b-q4_K_M"
    assert daemon.fake.pulls == ["phi4:14b-q4_K_M"]


def test_confirm_is_asked_only_above_the_threshold_and_can_refuse(site, daemon):
    asked = []

    def refuse(size):
        asked.append(size)
        raise QuantpickError("no")

    big = artifact("phi4", "14b-fp16")
    with pytest.raises(QuantpickError):
        install.pull(daemon, big, confirm=refuse)
    assert asked == [big.download_bytes] and daemon.fake.pulls == []
    small = artifact("qwen3", "0.6b")
    assert small.download_bytes < install.CONFIRM_ABOVE
    assert install.pull(daemon, small, confirm=refuse) == "pulled" and len(asked) == 1


def test_plan_sync_decides_each_entry_and_a_failure_stays_on_its_row(site, daemon, tmp_path):
    path = tmp_path / "sync.toml"
    path.write_text('[defaults]\ntask = "code"\n[[models]]\nname = "phi4:latest"\n'
                    '[[models]]\nname = "nosuchmodel"\n[[models]]\nname = "qwen3"\nsize = "0.6b"\n'
                    'task = "chat"\n')
    cfg = config.load(path)
    daemon.fake.installed["phi4:latest"] = world.find("phi4", "latest").digest
    items = install.plan_sync(cfg, BUDGET, daemon,
                              dry_run=False)
    assert [(i.model, i.task, i.action) for i in items] == [
        ("phi4:latest", "code", "keep"), ("nosuchmodel", "code", "failed"), ("qwen3", "chat", "pull")]
    assert "no model 'nosuchmodel'" in items[1].error
    assert items[2].tag == "qwen3:0.6b-q8_0" and items[2].reason
    install.run_sync(items, daemon)
    assert [i.action for i in items] == ["keep", "failed", "pulled"]
    assert daemon.fake.pulls == ["qwen3:0.6b-q8_0"]
    assert items[2].to_json()["tag"] == "qwen3:0.6b-q8_0"


def test_dry_run_plan_survives_an_unreachable_ollama(site, tmp_path):
    path = tmp_path / "sync.toml"
    path.write_text('[[models]]\nname = "phi4"\n')
    items = install.plan_sync(config.load(path), BUDGET,
                              Daemon("http://127.0.0.1:9"), dry_run=True)
    assert items[0].installed is None and items[0].action == "pull" and items[0].tag
    items = install.plan_sync(config.load(path), BUDGET,
                              Daemon("http://127.0.0.1:9"), dry_run=False)
    assert items[0].action == "failed" and "cannot reach Ollama" in items[0].error


def test_a_stream_without_success_fails_the_row_and_the_next_one_still_pulls(site, daemon, tmp_path):
    path = tmp_path / "sync.toml"
    path.write_text('[[models]]\nname = "phi4:14b-q8_0"\n[[models]]\nname = "qwen3:0.6b"\n')
    items = install.plan_sync(config.load(path), BUDGET, daemon, dry_run=False)
    daemon.fake.end_after = 2
    install.run_sync(items[:1], daemon)
    assert items[0].action == "failed" and "ended before it finished" in items[0].error
    daemon.fake.end_after = None
    install.run_sync(items[1:], daemon)
    assert [i.action for i in items] == ["failed", "pulled"]
    assert list(daemon.fake.installed) == ["qwen3:0.6b-q4_K_M"]


def test_a_row_installed_since_the_plan_is_kept_not_pulled(site, daemon, tmp_path):
    """Another `ollama pull` finished between the plan and the pull: the row is kept (already
    installed), not counted as pulled, and nothing is sent."""
    path = tmp_path / "sync.toml"
    path.write_text('[[models]]\nname = "qwen3:0.6b"\n')
    items = install.plan_sync(config.load(path), BUDGET, daemon, dry_run=False)
    assert items[0].action == "pull"
    daemon.fake.installed["qwen3:0.6b-q4_K_M"] = world.find("qwen3", "0.6b").digest
    install.run_sync(items, daemon)
    assert (items[0].action, items[0].installed) == ("keep", True) and daemon.fake.pulls == []

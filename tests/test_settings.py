"""settings.py: one precedence rule, flag > environment > config > detected/default, per setting."""

import pytest

from ollama_quantpick import config, daemon, settings
from ollama_quantpick.errors import InputError
from ollama_quantpick.hardware import Hardware


def cfg(tmp_path, text: str) -> config.Config:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return config.load(path)


# (setting, flag value, env var and value, config text and value, default value)
CASES = [
    ("task", "math", None, ('[defaults]\ntask = "code"\n', "code"), "general"),
    ("ctx", 16384, None, ("[defaults]\nctx = 8192\n", 8192), None),
    ("kv_cache", "q4_0", ("OLLAMA_KV_CACHE_TYPE", "q8_0"),
     ('[defaults]\nkv_cache = "f16"\n', "f16"), "f16"),
    ("prefer", "speed", None, ('[defaults]\nprefer = "quality"\n', "quality"), "balanced"),
    ("min_speed", 0.0, None, ("[defaults]\nmin_speed = 2.5\n", 2.5), settings._min_speed()),
    ("parallel", None, ("OLLAMA_NUM_PARALLEL", "4"), None, None),  # None: the release's default
    ("ollama_version", "0.12.6", None, ('[ollama]\nversion = "0.11.4"\n', "0.11.4"), None),
    ("cache_ttl", None, None, ("[defaults]\ncache_ttl = 60\n", 60), 86400),
    ("vram", "8GB", None, ('[budget]\nvram = "24GB"\n', "24GB"), None),
    ("ram", "16GB", None, ('[budget]\nram = "64GB"\n', "64GB"), None),
    ("gpu", "none", None, ('[budget]\ngpu = "none"\n', "none"), "auto"),
    ("host", "http://flag:1", ("OLLAMA_HOST", "env-host:2"),
     ('[ollama]\nhost = "http://config:3"\n', "http://config:3"), lambda: daemon.DEFAULT_HOST),
]


@pytest.mark.parametrize("name,flag,env,conf,default", CASES, ids=[c[0] for c in CASES])
def test_each_setting_follows_the_one_rule(tmp_path, name, flag, env, conf, default):
    c = cfg(tmp_path, conf[0]) if conf else cfg(tmp_path, "")
    default = default() if callable(default) else default
    environ = {env[0]: env[1]} if env else {}
    levels = []  # (flag, env, cfg) from the most to the least specific, each expected winner
    if flag is not None:
        levels.append(((flag, environ, c), (flag, "flag")))
    if env:
        levels.append(((None, environ, c), (int(env[1]) if env[1].isdigit() else env[1],
                                            f"env {env[0]}")))
    if conf:
        levels.append(((None, {}, c), (conf[1], "config")))
    levels.append(((None, {}, None), (default, "default" if default is not None else "detected")))
    assert len(levels) >= 2  # every setting has at least one level above its default
    for (f, e, cf), (value, source) in levels:
        got = settings.resolve(name, f, cf, e)
        assert (got.value, got.source) == (value, source), (name, f, e)


def test_the_environment_beats_the_config_for_the_kv_cache_and_the_host(tmp_path):
    """Before settings.py these two disagreed: config beat env for one, env beat config for the
    other."""
    c = cfg(tmp_path, '[defaults]\nkv_cache = "q4_0"\n[ollama]\nhost = "http://config:3"\n')
    env = {"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_HOST": "env:2"}
    assert settings.resolve("kv_cache", None, c, env).value == "q8_0"
    assert settings.host(c, None, env) == "env:2"
    assert settings.host(c, "flag:1", env) == "flag:1"


def test_a_bad_environment_value_is_ignored_or_refused_as_ollama_does(tmp_path):
    c = cfg(tmp_path, '[defaults]\nkv_cache = "q4_0"\n')
    assert settings.resolve("kv_cache", None, c, {"OLLAMA_KV_CACHE_TYPE": "bogus"}).value == "q4_0"
    assert settings.resolve("parallel", None, None, {"OLLAMA_NUM_PARALLEL": "0"}).value is None
    for bad in ("-3", "x"):  # Ollama would refuse these: so does quantpick, in one line
        with pytest.raises(InputError, match=f"OLLAMA_NUM_PARALLEL='{bad}' is not a whole number"):
            settings.resolve("parallel", None, None, {"OLLAMA_NUM_PARALLEL": bad})


def test_a_models_entry_beats_defaults_but_not_flags(tmp_path):
    c = cfg(tmp_path, '[defaults]\ntask = "code"\nctx = 4096\n'
                      '[[models]]\nname = "qwen3"\ntask = "math"\nsize = "8b"\n')
    entry = c.models[0]
    s = settings.decision(c, {}, entry, env={})
    assert (s.task, s.ctx, s.size) == ("math", 4096, "8b")
    assert s.sources["task"] == "config" and s.sources["prefer"] == "default"
    s = settings.decision(c, {"task": "chat"}, entry, env={})
    assert s.task == "chat" and s.sources["task"] == "flag"


def test_request_carries_every_resolved_setting(tmp_path):
    from ollama_quantpick.budget import Budget

    c = cfg(tmp_path, '[defaults]\nprefer = "speed"\nmin_speed = 2.0\n')
    req = settings.request("qwen3:8b", Budget([], 8 * 2**30), c, {"task": "code"},
                           env={"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KV_CACHE_TYPE": "q8_0"})
    assert (req.ref.model, req.ref.tag, req.task, req.prefer, req.min_speed, req.kv_cache,
            req.parallel) == ("qwen3", "8b", "code", "speed", 2.0, "q8_0", 2)


def test_budget_sources_name_the_level_that_won(tmp_path, monkeypatch):
    import ollama_quantpick.hardware as hw_mod

    monkeypatch.setattr(hw_mod, "detect", lambda probe=None: Hardware([], 32 * 2**30, 30 * 2**30))
    c = cfg(tmp_path, '[budget]\nram = "16GB"\n')
    _, b = settings.budget(c, vram="8GB")
    assert b.source["vram"] == "flag" and b.source["ram"] == "config"
    assert b.vram_bytes == 8 * 10**9 and b.ram_bytes == 16 * 10**9
    _, b = settings.budget(None)
    assert b.source["ram"] == "detected" and b.ram_bytes == 30 * 2**30 and b.backend == "cpu"


def test_cpu_alone_and_a_vram_size_from_different_places_follow_the_rule(tmp_path, monkeypatch):
    """A dotfiles config with budget.vram made `--gpu none` exit 2 ("drop one of them"): the
    flag is the higher level and wins, as for every setting; the other way round too."""
    import ollama_quantpick.hardware as hw_mod

    monkeypatch.setattr(hw_mod, "detect", lambda probe=None: Hardware([], 32 * 2**30, 30 * 2**30))
    _, b = settings.budget(cfg(tmp_path, '[budget]\nvram = "24GB"\n'), gpu="none")
    assert b.gpu_free == [] and b.backend == "cpu"
    _, b = settings.budget(cfg(tmp_path, '[budget]\ngpu = "none"\n'), vram="8GB")
    assert b.gpu_free == [8 * 10**9]
    with pytest.raises(InputError, match="drop one of them"):  # one level says both: a mistake
        settings.budget(None, vram="8GB", gpu="none")


def test_cache_mode_flags_and_ttl_from_config(tmp_path):
    from ollama_quantpick import http

    settings.apply_cache(cfg(tmp_path, "[defaults]\ncache_ttl = 60\n"), offline=True)
    assert (http.settings.offline, http.settings.refresh, http.settings.ttl) == (True, False, 60)
    with pytest.raises(InputError, match="contradict"):
        settings.apply_cache(None, offline=True, refresh=True)


def test_config_show_uses_the_same_rule(tmp_path, run, monkeypatch):
    import json

    (tmp_path / "config.toml").write_text('[defaults]\nkv_cache = "q4_0"\n')
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q8_0")
    shown = json.loads(run("config", "show", "--json").stdout)["settings"]
    assert shown["defaults.kv_cache"] == {"value": "q8_0", "source": "env OLLAMA_KV_CACHE_TYPE"}
    assert shown["defaults.min_speed"]["source"] == "default"


def test_the_old_min_speed_key_points_to_the_new_name(tmp_path):
    with pytest.raises(InputError, match="'defaults.min_tokens_per_s' is now called "
                                         "'defaults.min_speed'"):
        cfg(tmp_path, "[defaults]\nmin_tokens_per_s = 3\n")


def test_every_spec_names_a_config_key_the_schema_knows():
    for name, spec in settings.SPECS.items():
        if spec.key:
            section, _, key = spec.key.partition(".")
            assert key in config.SCHEMA[section], name
        if spec.entry:
            assert spec.entry in config.MODEL_KEYS, name


@pytest.mark.parametrize("text,where", [
    ("[defaults]\nctx = 255\n", "config defaults.ctx = 255"),
    ("[defaults]\nctx = 16777217\n", "config defaults.ctx = 16777217"),
    ('[[models]]\nname = "qwen3"\nctx = 100\n', "config [[models]] qwen3: ctx = 100"),
])
def test_a_config_context_is_held_to_the_flags_range(tmp_path, text, where):
    """`--ctx 255` exits 2 (256 to 2^24), but `defaults.ctx = 255` was accepted and planned with.
    Reading the file refuses it now; decision() still holds a Config built without that check."""
    from ollama_quantpick.tomlcompat import tomllib

    with pytest.raises(InputError, match="expected an integer from 256 to 16777216"):
        cfg(tmp_path, text)
    c = config.Config(tmp_path / "c.toml", True, tomllib.loads(text))
    entry = c.models[0] if c.models else None
    with pytest.raises(InputError) as exc:
        settings.decision(c, {}, entry, env={})
    assert str(exc.value) == f"{where} is out of range: a context is 256 to 16777216 tokens"
    # the edges are fine, and a flag wins over a bad config value without reading it
    assert settings.decision(cfg(tmp_path, "[defaults]\nctx = 256\n"), env={}).ctx == 256
    assert settings.decision(c, {"ctx": 4096}, entry, env={}).ctx == 4096


def test_parse_models_keeps_an_explicit_tag_beside_its_bare_name():
    """The tag is checked when the listing is read (a bad one is exit 2), and merged with the
    bare name's rows there: dropping it here hid `qwen3:nosuch`."""
    from ollama_quantpick.settings import parse_models

    assert [r.display for r in parse_models(["qwen3", "qwen3:nosuch", "qwen3"])] == [
        "qwen3", "qwen3:nosuch"]

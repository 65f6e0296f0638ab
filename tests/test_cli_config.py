"""`quantpick config` and the config file: validation, precedence, atomic writes."""

import json
import os
import stat
from pathlib import Path

import pytest

from ollama_quantpick import config
from ollama_quantpick.errors import InputError, QuantpickError

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_shows(path, run, monkeypatch):
    cfg = config.load(path)
    assert cfg.exists and cfg.models
    monkeypatch.setenv("QUANTPICK_CONFIG", str(path))
    shown = json.loads(run("config", "show", "--json").stdout)
    assert shown["path"] == str(path) and shown["models"] == cfg.models
    assert shown["settings"]["defaults.task"]["source"] == "config"


def test_set_then_show(run, tmp_path):
    assert run("config", "set", "defaults.task", "math").exit_code == 0
    shown = json.loads(run("config", "show", "--json").stdout)["settings"]
    assert shown["defaults.task"] == {"value": "math", "source": "config"}
    run("config", "set", "defaults.ctx", "8192")
    assert config.load().get("defaults.ctx") == 8192
    assert run("config", "unset", "defaults.ctx").exit_code == 0
    assert config.load().get("defaults.ctx") is None


@pytest.mark.parametrize("text,message", [
    ('[defaults]\nctx = "big"\n', "'defaults.ctx' = 'big'; expected an integer from 256"),
    ('[defaults]\ntask = "poetry"\n', "'defaults.task' = 'poetry'; expected one of"),
    ('[defaults]\ncolour = "red"\n', "unknown key 'defaults.colour'"),
    ('[budget]\nvram = "lots"\n', "'budget.vram' = 'lots'"),
    ('[wat]\n', "unknown section [wat]"),
    ('[[models]]\ntask = "code"\n', "[[models]] entry 1 has no 'name'"),
    ('[[models]]\nname = "qwen3"\nctx = -1\n', "'models[1].ctx' = -1"),
    ('[defaults\n', "is not valid TOML"),
])
def test_bad_config_is_exit_2_naming_file_and_key(run, tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    result = run("tags", "phi4")
    assert result.exit_code == 2
    assert str(path) in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_set_checks_the_value_and_loses_nothing(run, tmp_path):
    path = tmp_path / "config.toml"
    run("config", "set", "defaults.task", "code")
    before = path.read_text()
    for key, value in [("defaults.task", "poetry"), ("defaults.ctx", "big"), ("nope.key", "1"),
                       ("budget.vram", "lots")]:
        result = run("config", "set", key, value)
        assert result.exit_code == 2 and path.read_text() == before


def test_a_commented_file_keeps_its_comments(run, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('# my settings\n[defaults]\ntask = "chat"   # for the laptop\n')
    result = run("config", "set", "defaults.task", "math")
    assert result.exit_code == 0, result.stderr
    assert path.read_text() == '# my settings\n[defaults]\ntask = "math"   # for the laptop\n'


def test_writes_are_atomic_and_keep_the_mode(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ntask = "chat"\n')
    path.chmod(0o600)
    cfg = config.load(path)
    config.update(cfg, "defaults.prefer", "speed")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.load(path).get("defaults.prefer") == "speed"

    def crash(*_a):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(QuantpickError, match="the file is unchanged"):
        config.update(config.load(path), "defaults.task", "math")
    assert config.load(path).get("defaults.task") == "chat"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left behind


def test_init_never_overwrites_without_force(run, tmp_path):
    assert run("config", "init").exit_code == 0
    path = tmp_path / "config.toml"
    assert config.load(path).get("defaults.task") == "general"
    path.write_text(path.read_text() + "\n# mine\n")
    assert run("config", "init").exit_code == 2 and path.read_text().endswith("# mine\n")
    assert run("config", "init", "--force").exit_code == 0


def test_config_path_follows_xdg(run, monkeypatch, tmp_path):
    monkeypatch.delenv("QUANTPICK_CONFIG")
    (tmp_path / "xdg" / "quantpick").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert run("config", "path").stdout.strip() == str(tmp_path / "xdg" / "quantpick" / "config.toml")


def test_flags_beat_config_beat_defaults(site, run, tmp_path):
    (tmp_path / "config.toml").write_text('[defaults]\ntask = "math"\nctx = 8192\n'
                                          '[budget]\nvram = "52GB"\nram = "64GB"\n'
                                          '[ollama]\nversion = "0.15.5"\n')
    result = run("pick", "llama3.3", "--json")
    choice = json.loads(result.stdout)
    assert choice["task"] == "math" and choice["ctx"] == 8192
    assert choice["name"] == "llama3.3:70b-instruct-q4_K_M"
    flagged = json.loads(run("pick", "llama3.3", "--json", "--task", "chat", "--vram",
                             "80GB").stdout)
    assert flagged["task"] == "chat" and flagged["pick"]["estimate"]["vram_bytes"] > 52e9


def test_unknown_set_key_lists_the_settable_ones():
    with pytest.raises(InputError, match="settable keys: defaults.task"):
        config.parse_value("defaults.colour", "red")


RENAMED_KEY = '# mine\n[defaults]\nmin_tokens_per_s = 5  # old spelling\ntask = "code"\n'


@pytest.mark.parametrize("order", ["unset first", "set first"])
def test_set_and_unset_repair_a_renamed_key(run, tmp_path, order):
    """The error for a renamed key names the commands that fix it, and they do, in either order:
    an edit reads the file without judging it and checks only that it adds no new problem."""
    path = tmp_path / "config.toml"
    path.write_text(RENAMED_KEY)
    shown = run("config", "show")
    assert shown.exit_code == 2 and len(shown.stderr.strip().splitlines()) == 1
    fix = ("quantpick config unset defaults.min_tokens_per_s && "
           "quantpick config set defaults.min_speed 5")
    assert fix in shown.stderr
    steps = [["unset", "defaults.min_tokens_per_s"], ["set", "defaults.min_speed", "5"]]
    for step in steps if order == "unset first" else steps[::-1]:
        result = run("config", *step)
        assert result.exit_code == 0, result.stderr
    assert path.read_text() == '# mine\n[defaults]\ntask = "code"\nmin_speed = 5\n'
    shown = json.loads(run("config", "show", "--json").stdout)["settings"]
    assert shown["defaults.min_speed"] == {"value": 5, "source": "config"}


def test_an_edit_that_leaves_another_problem_writes_and_says_so(run, tmp_path):
    """Two bad keys: removing one must not be refused because of the other (else neither could
    ever be removed); the file changes in that key only, and the one left is named."""
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ncolour = "red"\nctx = "big"   # mine\n')
    result = run("config", "unset", "defaults.colour")
    assert result.exit_code == 0, result.stderr
    assert path.read_text() == '[defaults]\nctx = "big"   # mine\n'
    assert "'defaults.ctx' = 'big'; expected an integer from 256" in result.stderr
    result = run("config", "set", "defaults.ctx", "4096")
    assert result.exit_code == 0 and result.stderr == ""
    assert config.load(path).data == {"defaults": {"ctx": 4096}}


@pytest.mark.parametrize("text", ['[defaults\ntask = "code"\n', 'defaults = 5\n', '\xff'])
@pytest.mark.parametrize("args", [["set", "defaults.task", "math"], ["unset", "defaults.task"]])
def test_an_edit_never_overwrites_what_it_cannot_read(run, tmp_path, text, args):
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("latin-1"))
    result = run("config", *args)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == text.encode("latin-1")


def test_update_checks_the_result_it_would_write(tmp_path):
    """update() itself refuses an edit that adds a problem (parse_value is not its only guard),
    and the file stays as it was."""
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ntask = "chat"\n')
    with pytest.raises(InputError, match="'defaults.ctx' = 'big'; expected an integer from 256"):
        config.update(config.load(path), "defaults.ctx", "big")
    assert path.read_text() == '[defaults]\ntask = "chat"\n'


@pytest.mark.parametrize("host,why", [("http://[::1", "is not host:port"),
                                      ("127.0.0.1:99999", "is not host:port"),
                                      ("😀", "is not a host name"),
                                      ("ftp://127.0.0.1", "is not an http(s) address")])
def test_set_checks_an_ollama_host_as_the_daemon_does(run, tmp_path, host, why):
    """`config set ollama.host` refuses what daemon.parse_host refuses (it used to write it, and
    every later command blamed a --host flag nobody gave); the file is not touched."""
    path = tmp_path / "config.toml"
    path.write_text('[ollama]\nhost = "127.0.0.1:11434"  # mine\n')
    result = run("config", "set", "ollama.host", host)
    assert result.exit_code == 2 and why in result.stderr and "ollama.host" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_text() == '[ollama]\nhost = "127.0.0.1:11434"  # mine\n'
    assert run("config", "set", "ollama.host", "http://[::1]:11434").exit_code == 0
    assert config.load(path).get("ollama.host") == "http://[::1]:11434"


@pytest.mark.parametrize("args", [["pick", "phi4", "--vram", "0", "--ram", "64GB"], ["tags", "phi4"],
                                  ["config", "show"]])
def test_a_bad_configured_host_names_the_key_and_the_file(run, tmp_path, args, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    path = tmp_path / "config.toml"
    path.write_text('[ollama]\nhost = "http://me:s3cret@[::1"\n')
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert f"ollama.host in {path} 'http://***@[::1' is not host:port" in result.stderr
    assert "--host" not in result.stderr and "s3cret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["config", "show"], ["config", "set", "defaults.task", "math"],
                                  ["tags", "phi4"]])
def test_toml_nested_too_deeply_is_one_line(run, tmp_path, args):
    """tomllib recurses per nesting level: past Python's limit it raised RecursionError, not
    TOMLDecodeError, and the user saw a traceback."""
    path = tmp_path / "config.toml"
    path.write_text("a = " + "[" * 100_000 + "\n")
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path} is not valid TOML (nested too deeply)\n"
    assert path.read_text() == "a = " + "[" * 100_000 + "\n"


def test_a_hosts_credentials_are_written_never_shown(run, tmp_path, monkeypatch):
    """README: credentials in a URL are sent, never printed; `config set` echoed them and
    `config show` (text and --json) printed them, from the file and from OLLAMA_HOST."""
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    path = tmp_path / "config.toml"
    result = run("config", "set", "ollama.host", "http://me:s3cret@127.0.0.1:9")
    assert result.exit_code == 0
    assert result.stdout == f"ollama.host = http://***@127.0.0.1:9 in {path}\n"
    assert config.load(path).get("ollama.host") == "http://me:s3cret@127.0.0.1:9"
    for env in ({}, {"OLLAMA_HOST": "http://me:envs3cret@127.0.0.1:9"}):
        text, js = run("config", "show", env=env).stdout, run("config", "show", "--json", env=env).stdout
        assert "s3cret" not in text + js and "http://***@127.0.0.1:9" in text
        assert json.loads(js)["settings"]["ollama.host"]["value"] == "http://***@127.0.0.1:9"


@pytest.mark.parametrize("raw", ["255", "99999999", "0", "-1", "8192.0"])
def test_set_ctx_takes_the_range_of_ctx_flag(run, tmp_path, raw):
    """A ctx that `pick` would refuse is refused when set, with the range --ctx takes."""
    from ollama_quantpick.settings import CTX_MAX, CTX_MIN

    path = tmp_path / "config.toml"
    run("config", "set", "defaults.task", "code")
    before = path.read_text()
    result = run("config", "set", "--", "defaults.ctx", raw)  # `--`: "-1" is no option
    assert result.exit_code == 2 and path.read_text() == before
    assert f"expected an integer from {CTX_MIN} to {CTX_MAX}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ['[defaults]\nctx = 99999999\n', '[[models]]\nname = "qwen3"\nctx = 255\n'])
def test_hand_written_ctx_out_of_range_names_the_range(tmp_path, text):
    from ollama_quantpick.settings import CTX_MAX, CTX_MIN

    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=f"expected an integer from {CTX_MIN} to {CTX_MAX}"):
        config.load(path)


def test_set_ctx_at_the_limits_is_kept(run, tmp_path):
    from ollama_quantpick.settings import CTX_MAX, CTX_MIN

    for value in (CTX_MIN, CTX_MAX):
        assert run("config", "set", "defaults.ctx", str(value)).exit_code == 0
        assert config.load().get("defaults.ctx") == value


@pytest.mark.parametrize("first,second", [
    (("budget.vram", "24GB"), ("budget.gpu", "none")),
    (("budget.vram", "24GB"), ("budget.gpu", "NONE")),
    (("budget.gpu", "None"), ("budget.vram", "24GB")),
])
def test_set_refuses_gpu_none_with_a_vram(run, tmp_path, first, second):
    """budget.gpu = none with a VRAM budget is refused by every planning command (`hw` exit 2),
    so the edit that makes the file say both is refused: one line naming both keys, file kept."""
    path = tmp_path / "config.toml"
    assert run("config", "set", *first).exit_code == 0
    before = path.read_text()
    result = run("config", "set", *second)
    assert result.exit_code == 2 and path.read_text() == before
    assert "'budget.gpu'" in result.stderr and "'budget.vram'" in result.stderr
    assert "drop one of them" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert run("hw").exit_code != 2  # the file as kept is one the planning commands take


def test_gpu_none_with_zero_vram_is_no_problem(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[budget]\ngpu = "none"\nvram = 0\n')
    assert config.load(path).get("budget.gpu") == "none"


def test_hand_written_gpu_none_with_vram_is_one_line_naming_the_file(run, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[budget]\nvram = "24GB"\ngpu = "none"\n')
    result = run("hw")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: ")
    assert "'budget.gpu'" in result.stderr and "'budget.vram'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_renamed_key_beside_its_new_name_is_only_removed(run, tmp_path):
    """With min_speed set after the old min_tokens_per_s, the advice was to unset the old key and
    set min_speed to the OLD value, overwriting the 6 just set. Now it says only to unset it, and
    following it keeps the 6."""
    path = tmp_path / "config.toml"
    path.write_text("[defaults]\nmin_tokens_per_s = 4.0\n")
    result = run("config", "set", "defaults.min_speed", "6")
    assert result.exit_code == 0, result.stderr
    shown = run("config", "show")
    assert shown.exit_code == 2 and len(shown.stderr.strip().splitlines()) == 1
    assert "quantpick config unset defaults.min_tokens_per_s" in shown.stderr
    assert "config set" not in shown.stderr and "4.0" not in shown.stderr
    assert "config set" not in result.stderr  # the warning after the set says the same
    assert run("config", "unset", "defaults.min_tokens_per_s").exit_code == 0
    assert config.load(path).get("defaults.min_speed") == 6


def test_renamed_key_beside_its_new_name_in_another_file_is_told_to_remove_it(tmp_path):
    path = tmp_path / "other.toml"  # not QUANTPICK_CONFIG: `quantpick config` edits another file
    path.write_text("[defaults]\nmin_tokens_per_s = 4.0\nmin_speed = 6\n")
    with pytest.raises(InputError) as exc:
        config.load(path)
    assert str(exc.value).endswith("'defaults.min_speed' is set too: remove the old key")

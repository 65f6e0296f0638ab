"""Config edits keep hand-written files: comments, order, layout, symlinks, the old file on
failure, and every update when many processes write at once."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

import world
from ollama_quantpick import config
from ollama_quantpick.errors import InputError, QuantpickError

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


def comments(text: str) -> list[str]:
    """Every comment as written, whole-line or inline."""
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def test_init_set_unset_round_trip(run, tmp_path):
    path = tmp_path / "config.toml"
    assert run("config", "init").exit_code == 0
    starter = path.read_text()
    assert run("config", "set", "defaults.task", "math").exit_code == 0
    assert run("config", "set", "defaults.ctx", "16384").exit_code == 0
    assert run("config", "set", "budget.vram", "24GB").exit_code == 0
    edited = path.read_text()
    assert comments(edited) == comments(starter)  # all of them, in order
    assert config.load(path).data["defaults"] == {"task": "math", "prefer": "balanced",
                                                   "ctx": 16384}
    # the new key sits with the table's keys, not after the comments that follow them
    lines = edited.splitlines()
    assert lines.index("ctx = 16384") == lines.index('prefer = "balanced"       # quality, '
                                                     'balanced, speed') + 1
    assert run("config", "unset", "defaults.ctx").exit_code == 0
    assert run("config", "unset", "budget.vram").exit_code == 0
    assert run("config", "set", "defaults.task", "general").exit_code == 0
    assert path.read_text() == starter  # back to the byte


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_stay_commented(example, run, tmp_path):
    path = tmp_path / "config.toml"
    original = example.read_text()
    path.write_text(original)
    assert run("config", "set", "defaults.prefer", "speed").exit_code == 0
    assert run("config", "set", "ollama.host", "http://10.0.0.2:11434").exit_code == 0
    edited = path.read_text()
    assert comments(edited) == comments(original)
    gone = Counter(original.splitlines()) - Counter(edited.splitlines())
    added = Counter(edited.splitlines()) - Counter(original.splitlines())
    assert all(line.startswith(("prefer =", "host =")) for line in gone)  # only the two keys
    assert all(line.startswith(("prefer =", "host =", "[ollama]")) or not line for line in added)
    assert config.load(path).get("ollama.host") == "http://10.0.0.2:11434"
    assert config.load(path).get("defaults.prefer") == "speed"
    assert config.load(path).models == config.load(example).models
    assert run("config", "unset", "ollama.host").exit_code == 0
    assert config.load(path).get("ollama.host") is None and comments(path.read_text()) == \
        comments(original)


def test_unset_of_a_missing_key_is_exit_2(run, tmp_path):
    (tmp_path / "config.toml").write_text("[defaults]\ntask = \"chat\"\n")
    result = run("config", "unset", "defaults.ctx")
    assert result.exit_code == 2 and "'defaults.ctx' is not set" in result.stderr


def test_set_writes_through_a_symlink(run, tmp_path, monkeypatch):
    dotfiles = tmp_path / "dotfiles" / "quantpick"
    dotfiles.mkdir(parents=True)
    real = dotfiles / "config.toml"
    real.write_text("# from my dotfiles repo\n[defaults]\ntask = \"chat\"\n")
    link = tmp_path / "home" / ".config" / "quantpick" / "config.toml"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    monkeypatch.setenv("QUANTPICK_CONFIG", str(link))
    assert run("config", "set", "defaults.task", "code").exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "# from my dotfiles repo\n[defaults]\ntask = \"code\"\n"
    assert sorted(p.name for p in dotfiles.iterdir()) == ["config.toml"]  # no temp, no lock file
    result = run("config", "init", "--force")
    assert result.exit_code == 0 and "through the link" in result.stdout
    assert link.is_symlink() and real.read_text() == config.STARTER


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_a_failed_write_is_exit_1_and_keeps_the_old_file(run, tmp_path, monkeypatch, code):
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ntask = "chat"\n')
    if code == errno.ENOSPC:  # the disk fills while the new copy is written
        def full(_fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "fsync", full)
    else:  # the folder refuses new files (root ignores chmod, so the refusal is played)
        real_mkstemp = tempfile.mkstemp

        def refuse(*a, **k):
            if Path(k.get("dir", "")) != tmp_path:  # the cache (data files parsed on first use)
                return real_mkstemp(*a, **k)
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    for args in (("config", "set", "defaults.task", "math"), ("config", "init", "--force")):
        result = run(*args)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "the file is unchanged" in result.stderr
        assert os.strerror(code) in result.stderr
        assert path.read_text() == '[defaults]\ntask = "chat"\n'
        assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == ["config.toml"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_really_read_only_folder(run, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "config.toml").write_text('[defaults]\ntask = "chat"\n')
    folder.chmod(0o555)
    try:
        result = run("config", "set", "defaults.task", "math", env={
            "QUANTPICK_CONFIG": str(folder / "config.toml")})
        assert result.exit_code == 1 and "the file is unchanged" in result.stderr
        assert (folder / "config.toml").read_text() == '[defaults]\ntask = "chat"\n'
    finally:
        folder.chmod(0o755)


def test_a_nix_store_config_gets_one_clear_line():
    err = config._write_error(Path("/nix/store/abc123-home-manager-files/config.toml"),
                              OSError(errno.EROFS, os.strerror(errno.EROFS)))
    assert isinstance(err, QuantpickError) and err.exit_code == 1
    assert "read-only store" in str(err) and "home-manager" in str(err) and "\n" not in str(err)


def test_a_config_that_is_not_utf8_is_exit_2(run, tmp_path):
    (tmp_path / "config.toml").write_bytes(b'[defaults]\ntask = "caf\xe9"\n')
    for args in (("config", "show"), ("config", "set", "defaults.task", "math")):
        result = run(*args)
        assert result.exit_code == 2 and "is not UTF-8" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_sync_with_a_missing_config_is_exit_2(run, tmp_path):
    result = run("sync", "--config", tmp_path / "missing.toml")
    assert result.exit_code == 2 and "missing.toml does not exist" in result.stderr


def test_twenty_concurrent_sets_all_land(tmp_path):
    """10 keys, each set by two of 20 processes started together: every key lands. The processes
    are forks of one that has imported the CLI (a forkserver), so the 20 start in a few ms
    instead of an interpreter start and the imports each (~0.1 s of CPU apiece)."""
    path = tmp_path / "config.toml"
    path.write_text("# shared\n[defaults]\ntask = \"chat\"\n")
    # budget.gpu is never "none": with a budget.vram set, that edit is refused
    values = [("defaults.task", "math", "code"), ("defaults.ctx", "4096", "8192"),
              ("defaults.prefer", "speed", "quality"), ("defaults.kv_cache", "q8_0", "q4_0"),
              ("defaults.min_speed", "3", "7.5"), ("defaults.cache_ttl", "60", "120"),
              ("budget.vram", "8GB", "12GB"), ("budget.ram", "16GB", "32GB"),
              ("budget.gpu", "RTX 4090", "auto"), ("ollama.host", "http://a:1", "http://b:2")]
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["ollama_quantpick.cli", "ollama_quantpick.commands.config",
                                "world"])  # what `config set` imports
    procs = [ctx.Process(target=world.run_cli,
                         args=({"QUANTPICK_CONFIG": str(path)}, ["config", "set", key, v]))
             for key, *vs in values for v in vs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cfg = config.load(path)
    for key, a, b in values:
        assert str(cfg.get(key)) in (a, b), key
    assert path.read_text().startswith("# shared\n")


def test_the_lock_without_fcntl_uses_a_lock_file(tmp_path, monkeypatch):
    """Where fcntl does not exist (Windows), an O_EXCL lock file serializes writers and goes away."""
    import threading

    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` now raises ImportError
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ntask = "chat"\n')
    lock = tmp_path / ".config.toml.lock"
    order: list[str] = []

    def second() -> None:
        with config.locked(path):
            order.append("second")

    with config.locked(path):
        assert lock.exists()
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # it waits for the first holder
        order.append("first")
    waiter.join(5)
    assert order == ["first", "second"] and not lock.exists()
    config.update(config.load(path), "defaults.task", "math")
    assert config.load(path).get("defaults.task") == "math" and not lock.exists()


# One `config set` in its own process. Writer A holds the lock in a slow write until B, started
# after A is inside, has reached the lock; so a B that does not wait reads the file before A wrote
# it, and A's write then drops B's key (a lost update), every time rather than by chance.
SLOW_SET = """
import sys, time
from pathlib import Path
from ollama_quantpick import config
path, key, value, role, signals = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])
if role == "A":
    real_write = config.write_atomic
    def slow_write(p, text):
        (signals / "a-holds-the-lock").touch()
        deadline = time.monotonic() + 5
        while not (signals / "b-at-the-lock").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # B is at the lock now: it must wait for this write
        real_write(p, text)
    config.write_atomic = slow_write
else:
    real_locked = config.locked
    def at_the_lock(p):
        (signals / "b-at-the-lock").touch()
        return real_locked(p)
    config.locked = at_the_lock
config.update(config.load(path), key, config.parse_value(key, value))
"""


def test_the_first_write_locks_like_every_later_one(tmp_path):
    """The config folder does not exist yet (a dotfiles bootstrap running several `config set`s
    at once): the process that creates it and one that finds it take the same lock, so both keys
    land. Before, the first took a lock file and the second flock, and one key was lost."""
    import subprocess

    path = tmp_path / "dotfiles" / "quantpick" / "config.toml"
    signals = tmp_path / "signals"
    signals.mkdir()

    def start(role: str, key: str, value: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", SLOW_SET, str(path), key, value, role,
                                 str(signals)], stderr=subprocess.PIPE, text=True)

    a = start("A", "defaults.task", "code")
    deadline = time.monotonic() + 10
    while not (signals / "a-holds-the-lock").exists():
        assert a.poll() is None and time.monotonic() < deadline, a.stderr and a.stderr.read()
        time.sleep(0.01)
    b = start("B", "budget.vram", "24GB")
    for proc in (a, b):
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
    cfg = config.load(path)
    assert (cfg.get("defaults.task"), cfg.get("budget.vram")) == ("code", "24GB")
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]  # no lock file left


@pytest.mark.parametrize("args", [["config", "init"], ["config", "init", "--force"],
                                  ["config", "set", "defaults.task", "math"],
                                  ["config", "unset", "defaults.task"], ["config", "show"],
                                  ["tags", "phi4"], ["pick", "phi4", "--vram", "0", "--ram", "64GB"],
                                  ["sync", "--dry-run"]])
def test_a_directory_at_the_config_path_is_one_clear_line(run, tmp_path, args):
    """It was 'already exists; use --force', then 'Is a directory; the file is unchanged — run it
    again' (exit 1), which no rerun can help."""
    path = tmp_path / "config.toml"
    path.mkdir()
    (path / "mine").write_text("kept")
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (f"Error: {path} is a directory, not a file: set QUANTPICK_CONFIG to a "
                             "file path or remove it\n")
    assert [p.name for p in path.iterdir()] == ["mine"]


def test_a_directory_given_as_another_config_is_named_so(tmp_path):
    """A path other than `quantpick config path`'s (a file passed in): QUANTPICK_CONFIG is no fix."""
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(InputError) as err:
        config.load(tmp_path / "dir.toml")
    assert str(err.value) == f"{tmp_path / 'dir.toml'} is a directory, not a file: give the path of a file"


def test_sync_without_a_config_file_says_how_to_make_one(run, tmp_path):
    """It said the (missing) file 'has no [[models]] entries', exit 1."""
    result = run("sync", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {tmp_path / 'config.toml'} does not exist; create it with "
                             "'quantpick config init' and add [[models]] entries\n")


WINDOWS = '# mine\r\n[defaults]\r\ntask = "chat"   # laptop\r\n\r\n[[models]]\r\nname = "qwen3"\r\n'


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["crlf", "bom+crlf"])
def test_set_and_unset_keep_windows_line_endings(run, tmp_path, bom):
    """README: the layout stays, only that key changes. The file was read with universal newlines,
    so one `config set` turned every CRLF into LF (and tomlkit writes new lines with LF)."""
    path = tmp_path / "config.toml"
    path.write_bytes((bom + WINDOWS).encode())
    steps = [(["set", "defaults.task", "math"], WINDOWS.replace('"chat"', '"math"')),
             (["set", "defaults.prefer", "speed"],
              WINDOWS.replace('"chat"', '"math"').replace('laptop\r\n', 'laptop\r\nprefer = "speed"\r\n')),
             (["set", "budget.vram", "24GB"], None),
             (["unset", "budget.vram"], None),
             (["unset", "defaults.prefer"], WINDOWS.replace('"chat"', '"math"')),
             (["set", "defaults.task", "chat"], WINDOWS)]
    for args, expected in steps:
        result = run("config", *args)
        assert result.exit_code == 0, result.stderr
        raw = path.read_bytes().decode()
        assert raw.startswith(bom) and raw.count("\n") == raw.count("\r\n"), (args, raw)
        if expected is not None:
            assert raw == bom + expected, args
    assert json.loads(run("config", "show", "--json").stdout)["models"] == [{"name": "qwen3"}]


@pytest.mark.parametrize("text,args,expected", [
    ('[defaults]\ntask = "chat"', ["set", "defaults.prefer", "speed"],
     '[defaults]\ntask = "chat"\nprefer = "speed"'),
    ('[defaults]\r\ntask = "chat"', ["set", "defaults.task", "math"], '[defaults]\r\ntask = "math"'),
    ('[defaults]\r\ntask = "chat"\r\nprefer = "speed"', ["unset", "defaults.prefer"],
     '[defaults]\r\ntask = "chat"'),
    # mixed endings: the lines not edited keep theirs
    ('# a\r\n[defaults]\ntask = "chat"\r\n', ["set", "defaults.task", "math"],
     '# a\r\n[defaults]\ntask = "math"\r\n'),
])
def test_an_edit_keeps_the_final_newline_or_its_lack(run, tmp_path, text, args, expected):
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode())
    result = run("config", *args)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes().decode() == expected


def test_a_byte_order_mark_is_read_past_and_kept(run, tmp_path):
    """Windows editors write a UTF-8 BOM and tomllib refuses it: 'Invalid statement (at line 1,
    column 1)' said nothing of why. The file is read past it, and an edit writes it back."""
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbf[defaults]\ntask = "math"\n')
    shown = run("config", "show", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["settings"]["defaults.task"] == {"value": "math", "source": "config"}
    assert run("config", "set", "defaults.task", "code").exit_code == 0
    assert path.read_bytes() == b'\xef\xbb\xbf[defaults]\ntask = "code"\n'
    assert config.load(path).get("defaults.task") == "code"


def test_a_file_with_bare_cr_line_endings_says_so(run, tmp_path):
    """TOML ends lines with LF or CRLF; the file is now read as written (CRLF kept), so a classic
    Mac OS file gets its own line rather than 'Expected newline … (at line 1, column 11)'."""
    path = tmp_path / "config.toml"
    path.write_bytes(b'[defaults]\rtask = "math"\r')
    for args in (["config", "show"], ["config", "set", "defaults.task", "code"]):
        result = run(*args)
        assert result.exit_code == 2
        assert result.stderr == (f"Error: {path} is not valid TOML: a line ends in a bare CR (classic "
                                 "Mac OS); save it with LF or CRLF line endings\n")
    assert path.read_bytes() == b'[defaults]\rtask = "math"\r'


@pytest.mark.parametrize("args", [["config", "init"], ["config", "set", "defaults.task", "math"],
                                  ["config", "show"], ["tags", "phi4"]])
def test_a_file_where_the_config_folder_should_be_is_one_clear_line(run, tmp_path, monkeypatch, args):
    """init said 'cannot write …: File exists; the file is unchanged — run it again' (exit 1) and
    the others 'cannot read …: Not a directory', without what to do."""
    (tmp_path / "dotfiles").write_text("kept")
    path = tmp_path / "dotfiles" / "config.toml"
    monkeypatch.setenv("QUANTPICK_CONFIG", str(path))
    result = run(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (f"Error: {tmp_path / 'dotfiles'} is a file, not a folder, so {path} "
                             "cannot exist: set QUANTPICK_CONFIG to another path or move that file away\n")
    assert (tmp_path / "dotfiles").read_text() == "kept"


@pytest.mark.parametrize("text", [
    'defaults.task = "code"\ndefaults.prefer = "speed"\n',  # dotted keys: tomlkit gives a proxy
    '[defaults]\ntask = "code"\n[ollama]\nversion = "0.15.5"\n[defaults.x]\n',  # a split table
    'defaults = {task = "code", prefer = "speed"}\n',
])
def test_edits_of_tables_written_other_ways(run, tmp_path, text):
    """Dotted keys and a table split in two made `unset` and `set` of a new key a traceback
    (AttributeError: 'dict' object has no attribute 'body')."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    expected = config._toml(text, path)
    for args in (["set", "defaults.ctx", "4096"], ["set", "defaults.task", "math"],
                 ["unset", "defaults.task"], ["unset", "defaults.ctx"]):
        result = run("config", *args)
        assert result.exit_code == 0, result.stderr
        assert result.stderr in ("", f"warning: {path}: unknown key 'defaults.x' (known: task, ctx, "
                                     "prefer, kv_cache, min_speed, cache_ttl)\n")
    expected["defaults"].pop("task")
    assert config._toml(path.read_text(), path) == expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("args", [["config", "init", "--force"], ["config", "init"]])
def test_an_edit_never_replaces_a_device_or_pipe(run, tmp_path, args):
    """QUANTPICK_CONFIG=/dev/null reads as an empty config; `init --force` (or a `set`) renamed a
    regular file over it, which as root replaces the system's /dev/null. A FIFO stands in for it."""
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {path} is not a regular file (a device, pipe or socket): set "
                             "QUANTPICK_CONFIG to a file path\n")
    assert stat.S_ISFIFO(path.lstat().st_mode)


def test_write_atomic_refuses_a_device(tmp_path, monkeypatch):
    """The check sits in write_atomic itself, which `config set` reaches after reading /dev/null
    as an empty file; shown with a FIFO standing in for the device."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "null"
    os.mkfifo(path)
    with pytest.raises(InputError, match="is not a regular file"):
        config.write_atomic(path, "[defaults]\n")
    assert stat.S_ISFIFO(path.lstat().st_mode)

"""Hardening, round two: numbers, hosts and URLs, hostile servers and registries, secrets.

Every case is driven the way a user's machine meets it: through the CLI (one line on stderr, the
README's exit code, no traceback), a real subprocess or a hostile server on loopback.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import sys
import time
import tracemalloc

import pytest

import world
from ollama_quantpick import gguf, hardware, http, library, pages, registry
from ollama_quantpick.tagname import parse_model_ref

BUDGET = ["--vram", "24GB", "--ram", "64GB"]


def one_line_error(result, code: int, needle: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# ---- sizes and numbers --------------------------------------------------------------------------

NUMBERS = [
    ({}, ["pick", "phi4", "--vram", "9" * 400, "--ram", "64GB"], "is beyond any machine's memory"),
    ({}, ["pick", "phi4", "--vram", "24GB", "--ram", "1" + "0" * 30 + "GB"], "beyond any machine"),
    ({}, ["pick", "phi4", "--vram", "²GB", "--ram", "64GB"], "'²GB' is not a size"),
    ({"OLLAMA_NUM_PARALLEL": "²"}, ["pick", "phi4", *BUDGET], "OLLAMA_NUM_PARALLEL='²' is not"),
    ({"OLLAMA_NUM_PARALLEL": "9" * 400}, ["pick", "phi4", *BUDGET], "OLLAMA_NUM_PARALLEL="),
    ({"OLLAMA_GPU_OVERHEAD": "²"}, ["pick", "phi4", *BUDGET], "OLLAMA_GPU_OVERHEAD='²' is not"),
    ({"OLLAMA_GPU_OVERHEAD": "1e9"}, ["hw"], "OLLAMA_GPU_OVERHEAD='1e9' is not"),
    ({}, ["pick", "phi4", *BUDGET, "--min-speed", "nan"], "'nan' is not a number >= 0"),
    ({}, ["pick", "phi4", *BUDGET, "--min-speed", "inf"], "'inf' is not a number >= 0"),
    ({}, ["tags", "phi4", *BUDGET, "--min-speed", "-1"], "'-1' is not a number >= 0"),
    ({}, ["pick", "phi4", *BUDGET, "--ctx", "9" * 400], "--ctx"),
    ({}, ["fit", "phi4:14b-q8_0", *BUDGET, "--ctx", "9" * 400], "--ctx"),
    ({}, ["config", "set", "defaults.ctx", "²"], "'defaults.ctx' = '²'; expected an integer from 256"),
    ({}, ["config", "set", "defaults.ctx", "9" * 400], "'defaults.ctx' = '99999"),
    ({}, ["config", "set", "defaults.min_speed", "nan"], "expected a number >= 0"),
    ({}, ["config", "set", "defaults.min_speed", "1.5e400"], "expected a number >= 0"),
    ({}, ["config", "set", "budget.vram", "9" * 400], "expected a size"),
]


@pytest.mark.parametrize("env,args,needle", NUMBERS, ids=lambda x: str(x)[:30])
def test_numbers_beyond_reason_are_one_line_exit_2(site, run, monkeypatch, env, args, needle):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    one_line_error(run(*args), 2, needle)


@pytest.mark.parametrize("toml", ["min_speed = nan", "min_speed = inf",
                                  "ctx = 99999999999999999"])
def test_config_file_with_nan_or_huge_numbers_is_refused(site, run, tmp_path, toml):
    (tmp_path / "config.toml").write_text(f"[defaults]\n{toml}\n")
    one_line_error(run("pick", "phi4", *BUDGET), 2, "expected")


def test_min_speed_nan_no_longer_turns_the_filter_off(site, run):
    """Before: nan compared false with every speed, so nothing was ever "too slow"."""
    slow = run("pick", "llama3.3", "--gpu", "none", "--ram", "64GB", "--min-speed", "5")
    assert slow.exit_code == 3
    one_line_error(run("pick", "llama3.3", "--gpu", "none", "--ram", "64GB", "--min-speed", "nan"),
                   2, "nan")


def _fake_tool(tmp_path, monkeypatch, name: str, stdout: bytes) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "out").write_bytes(stdout)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\ncat '{bin_dir / 'out'}'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(hardware.Probe, "load_nvml", lambda self: None)


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script plays nvidia-smi")
def test_nvidia_smi_printing_latin1_is_a_note(tmp_path, monkeypatch):
    _fake_tool(tmp_path, monkeypatch, "nvidia-smi",
               b"0, NVIDIA GeForce RTX 4090 \xe9dition, 24564, 1, 24000, GPU-a\n")
    notes: list[str] = []
    gpus = hardware.nvidia(hardware.Probe(env={}), notes)
    assert [g.vram_bytes for g in gpus] == [24564 * hardware.MiB]
    assert any("not UTF-8" in n for n in notes)


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script plays nvidia-smi")
@pytest.mark.parametrize("line", [b"0, RTX, inf, 0, inf, GPU-a", b"0, RTX, nan, 0, nan, GPU-a",
                                  b"0, RTX, 1e400, 0, 1e400, GPU-a", b"\xb2, RTX, 8, 0, 8, GPU-a",
                                  b"0, RTX, -5, 0, -5, GPU-a"])
def test_nvidia_smi_printing_inf_is_a_note(tmp_path, monkeypatch, line):
    _fake_tool(tmp_path, monkeypatch, "nvidia-smi", line + b"\n")
    hw = hardware.detect(hardware.Probe(env={}))
    assert hw.gpus == []
    assert any("cannot read" in n for n in hw.notes)


def test_proc_meminfo_with_odd_digits_is_skipped():
    probe = hardware.Probe(run=lambda argv: None, env={},
                           read={"/proc/meminfo": "MemTotal: ² kB\nMemAvailable: 1024 kB\n"}.get)
    assert hardware.system_ram(probe) == (None, 1024 * 1024)


# ---- hosts, URLs and names ----------------------------------------------------------------------

HOSTS = ["127.0.0.1:notaport", "127.0.0.1:99999", "http://[::1", "http://user:s3cr3t@h:99999",
         # httpx: a traceback (InvalidURL) and a false "not as Ollama's API does"
         "😀", "xn--zz:11434", "a..b"]


@pytest.mark.parametrize("host", HOSTS)
def test_bad_ollama_host_is_exit_2(site, run, monkeypatch, host):
    monkeypatch.setenv("OLLAMA_HOST", host)
    result = run("pull", "phi4", *BUDGET, "--yes")
    one_line_error(result, 2, "OLLAMA_HOST '")
    assert "s3cr3t" not in result.stderr


@pytest.mark.parametrize("var", ["QUANTPICK_LIBRARY_URL", "QUANTPICK_REGISTRY_URL", "QUANTPICK_HF_URL"])
@pytest.mark.parametrize("url", ["http://[::1", "http://h:notaport", "ftp://h", "https://",
                                 "https://u:s3cr3t@h:99999"])
def test_bad_service_url_is_exit_2(site, run, monkeypatch, var, url):
    monkeypatch.setenv(var, url)
    model = "hf.co/unsloth/Qwen3-8B-GGUF" if var == "QUANTPICK_HF_URL" else "phi4"
    result = run("pick", model, *BUDGET)
    one_line_error(result, 2, f"{var}=")
    assert "s3cr3t" not in result.stderr


@pytest.mark.parametrize("name", ["user\n/model", "user\t/model", "phi4:14b\n-q8_0", "phi\x1b[31m4"])
def test_model_name_with_control_characters_is_one_line_exit_2(site, run, name):
    result = run("pick", name, *BUDGET)
    one_line_error(result, 2, "is not a valid Ollama model name")
    assert "\x1b" not in result.stderr


@pytest.fixture
def daemon(httpserver, monkeypatch):
    """A server where Ollama should be; each test says how it answers."""
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    return httpserver


def test_ollama_host_answering_html_is_exit_1(site, run, daemon):
    page = "<html><body><h1>Welcome to nginx!</h1></body></html>"
    daemon.expect_request("/api/tags").respond_with_data(page, content_type="text/html")
    one_line_error(run("pull", "phi4", *BUDGET, "--yes"), 1,
                   "answered, but not as Ollama's API does")


def test_ollama_host_answering_html_404_is_exit_1(site, run, daemon):
    daemon.expect_request("/api/tags").respond_with_data(
        "<html><body>\n<h1>Not Found</h1>\n</body></html>", status=404, content_type="text/html")
    one_line_error(run("pull", "phi4", *BUDGET, "--yes"), 1, "not as Ollama's API does")


def test_pull_stream_that_is_not_json_is_exit_1(site, run, daemon, monkeypatch, tmp_path):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(2 * 10**12, 10**12, 10**12))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    daemon.expect_request("/api/tags").respond_with_json({"models": []})
    daemon.expect_request("/api/pull", method="POST").respond_with_data(
        '{"status": "pulling manifest"}\n<html>502 Bad Gateway</html>\n',
        content_type="application/x-ndjson")
    result = run("pull", "phi4", *BUDGET, "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "not as Ollama's API does" in result.stderr.strip().splitlines()[-1]


def test_ollama_error_with_newlines_and_escapes_stays_one_line(site, run, daemon):
    daemon.expect_request("/api/tags").respond_with_json(
        {"error": "boom\nsecond line\x1b[2J"}, status=500)
    result = run("pull", "phi4", *BUDGET, "--yes")
    one_line_error(result, 1, "boom\\nsecond line")
    assert "\x1b" not in result.stderr


# ---- registry sanity: no silent wrong answer ----------------------------------------------------

def _serve_manifest(monkeypatch, tag: str, text: str) -> None:
    real = world.respond

    def respond(url, headers, served, lib=world.LIB, reg=world.REG):
        if url.endswith(f"/v2/library/phi4/manifests/{tag}"):
            served.calls.append(url)
            return 200, {"Content-Type": registry.MANIFEST_ACCEPT}, text
        return real(url, headers, served, lib, reg)
    monkeypatch.setattr(world, "respond", respond)


def _fp16_manifest(**change) -> str:
    data = json.loads(world.find("phi4", "14b-fp16").manifest_text)
    data.update(change)
    return json.dumps(data)


def _with_layer_size(size) -> str:
    data = json.loads(world.find("phi4", "14b-fp16").manifest_text)
    data["layers"][0]["size"] = size
    return json.dumps(data).replace('"__SIZE__"', str(size)) if isinstance(size, str) else \
        json.dumps(data)


BAD_MANIFESTS = {
    "no layers": (_fp16_manifest(layers=[]), "a manifest with no layers"),
    "negative size": (_with_layer_size(-29_000_000_000),
                      "a manifest with a layer of -29000000000 bytes"),
    "size past float": (_with_layer_size(10**400), "a manifest with a layer of 1000000000"),
    "size 1e400": (_with_layer_size(1.5).replace("1.5", "1e400"), "cannot read"),
    "no model layer": (_fp16_manifest(layers=json.loads(_fp16_manifest())["layers"][1:]),
                       "a manifest with no model layer"),
    # json.loads raises RecursionError, not ValueError, past Python's nesting limit
    "nested past the limit": ("[" * 100_000, "cannot read"),
}


@pytest.mark.parametrize("case", BAD_MANIFESTS)
def test_insane_manifest_falls_back_to_the_page_size_marked_estimated(site, run, monkeypatch,
                                                                      case):
    """Before: a manifest without layers made phi4's 29 GB fp16 'run fully on the GPU' of a
    16 GB card (zero bytes of weights)."""
    text, why = BAD_MANIFESTS[case]
    _serve_manifest(monkeypatch, "14b-fp16", text)
    result = run("tags", "phi4", "--vram", "16GB", "--ram", "64GB", "--json")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"warning: phi4:14b-fp16: the registry sent {why}" in result.stderr \
        or (why == "cannot read" and "manifest quantpick cannot read" in result.stderr)
    assert "its size is the page's (estimated)" in result.stderr
    rows = json.loads(result.stdout)["rows"]
    fp16 = next(r for r in rows if r["tag"] == "14b-fp16")
    assert fp16["download_bytes"] == 29_000_000_000  # the page's "29GB"
    assert fp16["estimate"]["placement"] != "gpu"
    assert fp16["estimate"]["source"] == "fallback"
    other = next(r for r in rows if r["tag"] == "14b-q8_0")
    assert other["estimate"]["source"] in ("header", "scaled")  # sane manifests still used


def _gguf(kv: list[tuple[str, int, bytes]], tensors: list[tuple[str, list[int], int]]) -> bytes:
    """A GGUF v3 header written by hand (the gguf package refuses to write hostile ones)."""
    out = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(kv))]
    for key, vtype, payload in kv:
        k = key.encode()
        out += [struct.pack("<Q", len(k)), k, struct.pack("<I", vtype), payload]
    for name, shape, ttype in tensors:
        n = name.encode()
        out += [struct.pack("<Q", len(n)), n, struct.pack("<I", len(shape)),
                struct.pack(f"<{len(shape)}Q", *shape), struct.pack("<IQ", ttype, 0)]
    return b"".join(out)


def _s(text: str) -> bytes:
    return struct.pack("<Q", len(text.encode())) + text.encode()


LLAMA_KV = [("general.architecture", 8, _s("llama")), ("llama.block_count", 4, struct.pack("<I", 2)),
            ("llama.embedding_length", 4, struct.pack("<I", 4096)),
            ("llama.attention.head_count", 4, struct.pack("<I", 32))]


@pytest.mark.parametrize("shape", [[2**32, 2**32, 2**32], [2**63, 2], [2**64 - 1, 2**64 - 1]])
def test_tensor_dims_that_overflow_are_refused(shape):
    with pytest.raises(gguf.GGUFError, match="overflows"):
        gguf.parse_header(_gguf(LLAMA_KV, [("blk.0.attn_q.weight", shape, 1)]))


def test_header_whose_tensors_outgrow_the_blob_falls_back_with_a_warning(site, run, monkeypatch,
                                                                        real_headers):
    """A header listing more tensor bytes than the blob holds is a lie: not used for the fit."""
    a = world.find("phi4", "14b-fp16")
    big = _gguf(LLAMA_KV, [("blk.0.attn_q.weight", [2**20, 2**20, 2**10], 1)])  # 2 TiB of f16
    real = world.respond

    def respond(url, headers, served, lib=world.LIB, reg=world.REG):
        if url.endswith(a.blob_digest):
            return 206, {}, big
        return real(url, headers, served, lib, reg)
    monkeypatch.setattr(world, "respond", respond)
    result = run("fit", "phi4:14b-fp16", "--vram", "16GB", "--ram", "64GB", "--json")
    assert result.exit_code in (0, 3), result.stderr
    assert "bytes of tensors in a" in result.stderr and "not trusted" in result.stderr
    assert "Traceback" not in result.stderr


def test_page_sizes_beyond_float_range_are_ignored(site):
    page = (world.FIXTURES / "library" / "phi4.tags.html").read_text()
    huge = page.replace("29GB", "9" * 400 + "GB").replace("16K", "9" * 400 + "K")
    site.tags_html["phi4"] = huge
    tags, _ = library.fetch_tags(parse_model_ref("phi4"))
    fp16 = next(t for t in tags if t.tag == "14b-fp16")
    assert fp16.size_bytes is None and fp16.context is None
    assert pages.parse_page_size("1" + "0" * 30 + "GB") is None


# ---- cache entries of the wrong types -----------------------------------------------------------

WRONG = [{"fetched_at": "yesterday", "status": 200, "text": "x"},
         {"fetched_at": float("nan"), "status": 200, "text": "x"},
         {"fetched_at": time.time(), "status": "200", "text": "x"},
         {"fetched_at": time.time(), "status": True, "text": "x"},
         {"fetched_at": time.time(), "status": 200, "text": ["<html>"]},
         {"fetched_at": time.time(), "status": 99999, "text": "x"},
         ["a", "list"]]


@pytest.mark.parametrize("entry", WRONG, ids=[f"wrong{i}" for i in range(len(WRONG))])
def test_cache_entry_of_wrong_types_is_refetched(site, entry):
    url = library.tags_url(parse_model_ref("phi4"))
    key = http.redact(url) + "|{}"
    path = http._cache_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry))
    tags, page = library.fetch_tags(parse_model_ref("phi4"))
    assert not page.from_cache and len(tags) == 5
    assert json.loads(path.read_text())["status"] == 200  # rewritten with the fresh page


@pytest.mark.parametrize("info", [{"block_count": "40"}, {"layer_bytes": "lots"},
                                  {"head_count_kv": [1, "x"]}, {"context_length": 1e400},
                                  {"architecture": None}, {"pooling": 1}])
def test_gguf_cache_entry_of_wrong_types_is_reread(site, info, real_headers):
    a = world.find("phi4", "latest")
    first = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    key = f"gguf-info|{a.blob_digest}"
    entry = json.loads(http._cache_path(key).read_text())
    entry["info"].update(info)
    http._cache_path(key).write_text(json.dumps(entry))
    site.ranges.clear()
    assert registry.gguf_info(parse_model_ref("phi4"), a.blob_digest) == first
    assert site.ranges  # read from the registry again, not from the mistyped entry


@pytest.mark.parametrize("older", ["no schema", "a field it did not have yet"])
def test_a_header_cached_by_an_older_quantpick_is_read_again(site, older, real_headers):
    """Headers are cached forever (blobs never change), but what quantpick reads from them grows:
    an entry from before `layer_expert_bytes` read as a dense model, silently, until --refresh."""
    a = world.find("phi4", "latest")
    first = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    path = http._cache_path(f"gguf-info|{a.blob_digest}")
    entry = json.loads(path.read_text())
    if older == "no schema":
        del entry["schema"]
    else:
        del entry["info"]["layer_expert_bytes"]
    path.write_text(json.dumps(entry))
    site.ranges.clear()
    assert registry.gguf_info(parse_model_ref("phi4"), a.blob_digest) == first
    assert site.ranges  # read from the registry again
    assert json.loads(path.read_text())["schema"] == registry.HEADER_SCHEMA


def _portal_once(httpserver, monkeypatch, path: str) -> None:
    """The fixture world, where a hotel WiFi's login page answers `path` once (200, HTML)."""
    base, _ = world.serve_http(httpserver)
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", base)
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", base)
    httpserver.expect_oneshot_request(path).respond_with_data(
        "<html><body><form>Log in to Hotel WiFi</form></body></html>", content_type="text/html")


def test_a_captive_portals_page_is_not_kept_for_a_day(httpserver, run, monkeypatch):
    """A hotel WiFi answers 200 with its login page where ollama.com should be. That answer was
    cached: after logging in, every command still failed from the cache for a day."""
    _portal_once(httpserver, monkeypatch, "/library/phi4/tags")
    first = run("pick", "phi4", *BUDGET)
    assert first.exit_code == 1 and "page layout" in first.stderr, first.stderr
    second = run("pick", "phi4", *BUDGET)  # logged in: ollama.com answers again
    assert second.exit_code == 0, second.stderr
    assert second.stdout.startswith("phi4:")
    assert sum(1 for r, _ in httpserver.log if r.path == "/library/phi4/tags") == 2


def test_a_captive_portals_model_page_is_not_kept_either(httpserver, run, monkeypatch):
    """The model page (description, badges) read any HTML as a page with no description: the
    portal's stayed in the cache, and `tags gemma3` showed an empty description for a day."""
    _portal_once(httpserver, monkeypatch, "/library/gemma3")
    first = run("tags", "gemma3", *BUDGET)
    assert first.exit_code == 0, first.stderr  # the page only decorates the answer
    second = run("tags", "gemma3", *BUDGET)
    assert "[vision" in second.stdout.splitlines()[0]  # the real page, read again
    assert sum(1 for r, _ in httpserver.log if r.path == "/library/gemma3") == 2


# ---- secrets ------------------------------------------------------------------------------------

def test_credentials_in_urls_never_reach_messages_or_cache_names(httpserver, run, monkeypatch,
                                                                 tmp_path, settle_threads):
    base, served = world.serve_http(httpserver)
    secret = "pa55w0rd-xyz"
    authed = base.replace("http://", f"http://quant:{secret}@")
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", authed)
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", authed)
    monkeypatch.setenv("OLLAMA_HOST", f"http://ollama:{secret}@127.0.0.1:9")
    outputs = []
    for args in (["pick", "phi4", *BUDGET], ["pick", "nosuchmodel", *BUDGET],
                 ["pull", "phi4", *BUDGET, "--yes"], ["-v", "pull", "phi4", *BUDGET, "--yes"],
                 ["tags", "phi4", *BUDGET, "--json"]):
        result = run(*args)
        outputs.append(result.stdout + result.stderr)
    served.tags_html["phi4"] = "<html><body>changed layout</body></html>"
    result = run("tags", "phi4", *BUDGET, "--refresh")
    outputs.append(result.stderr)
    assert "layout was not understood" in result.stderr and "***@" in result.stderr
    assert all(secret not in out for out in outputs), [o for o in outputs if secret in o]
    assert "cannot reach Ollama at http://127.0.0.1:9" in outputs[2]
    settle_threads()  # the model page the failed command left fetching: written, then read here
    cache = tmp_path / "cache"
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert secret not in str(p) and secret not in p.read_text(errors="replace")
    # the secret was sent, as HTTP basic auth, to the server it belongs to
    assert any(r.authorization and r.authorization.password == secret
               for r, _ in httpserver.log)


def test_redirect_location_with_a_token_is_not_shown():
    import responses

    with responses.RequestsMock() as rsps:
        rsps.get(f"{world.REG}/v2/library/phi4/blobs/sha256:{'c' * 64}", status=307,
                 headers={"Location": "http://user:tok@storage.example/blob?X-Amz-Signature=abc"})
        with pytest.raises(http.QuantpickError) as err:
            registry.gguf_info(parse_model_ref("phi4"), "sha256:" + "c" * 64)
    assert "tok" not in str(err.value) and "abc" not in str(err.value)


@pytest.mark.parametrize("given,shown", [
    ("me:s3cret@gpu-box.example:11434", "***@gpu-box.example:11434"),  # Ollama's scheme-less form
    ("  me:s3cret@gpu-box.example", "  ***@gpu-box.example"),
    ("http://me:s3cret@gpu-box.example:11434", "http://***@gpu-box.example:11434"),
    ("gpu-box.example:11434", "gpu-box.example:11434"),  # host:port has no user
    ("[::1]:11434", "[::1]:11434"),
    ("gpu-box.example:11434/api@v1", "gpu-box.example:11434/api@v1"),  # an '@' in a path
    ("http://gpu-box.example/a@b", "http://gpu-box.example/a@b"),
    ("gpu-box.example?k=a@b", "gpu-box.example?…"),  # in a query: the query goes anyway
])
def test_redact_hides_userinfo_with_or_without_a_scheme(given, shown):
    from ollama_quantpick.paths import redact

    assert redact(given) == shown


def test_a_scheme_less_host_with_a_password_is_never_shown(run, monkeypatch, tmp_path):
    """`config set ollama.host me:s3cret@…` printed the password, and so did `config show`."""
    secret = "s3cret-pw"
    host = f"me:{secret}@gpu-box.example:11434"
    results = [run("config", "set", "ollama.host", host)]
    assert results[0].exit_code == 0
    assert "***@gpu-box.example:11434" in results[0].stdout
    results += [run("config", "show"), run("config", "show", "--json")]
    (tmp_path / "config.toml").unlink()
    monkeypatch.setenv("OLLAMA_HOST", f"me:{secret}@127.0.0.1:9")
    results += [run("config", "show"), run("config", "show", "--json")]
    assert all(r.exit_code == 0 for r in results)
    assert all(secret not in r.stdout + r.stderr for r in results)
    assert json.loads(results[-1].stdout)["settings"]["ollama.host"]["value"] == "***@127.0.0.1:9"


def test_scrub_knows_the_password_of_a_scheme_less_ollama_host(monkeypatch):
    from ollama_quantpick.paths import scrub

    monkeypatch.setenv("OLLAMA_HOST", "me:s3cret-pw@127.0.0.1:9")
    said = scrub("cannot reach 127.0.0.1:9 as me:s3cret-pw (s3cret-pw)")
    assert said == "cannot reach 127.0.0.1:9 as *** (***)"


# ---- GGUF headers: bounded and resumable --------------------------------------------------------

def test_millions_of_keys_are_refused_at_once():
    """A header claiming 3 million keys (real ones hold ~50) is refused before any is read."""
    n = 3_000_000
    entry = _s("k") + struct.pack("<IB", 0, 1)
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, n) + entry * 1000
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(gguf.GGUFError, match="3000000 keys; not trusted"):
        gguf.parse_header(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.monotonic() - started < 1 and peak < 10 * 2**20


def _wide_header(n_keys: int, vocab: int) -> bytes:
    """`n_keys` distinct small keys (the most a header may claim) and a `vocab`-string array."""
    keys = [(f"x.{i:06d}", 4, struct.pack("<I", i)) for i in range(n_keys)]
    tokens = ("tokenizer.ggml.tokens", 9,
              struct.pack("<IQ", 8, vocab) + b"".join(_s(f"t{i}") for i in range(vocab)))
    return _gguf([*LLAMA_KV, tokens, *keys], [("blk.0.attn_q.weight", [4096, 4096], 1),
                                              ("blk.1.attn_q.weight", [4096, 4096], 1)])


def test_big_header_parses_in_pieces_once_within_bounds():
    data = _wide_header(gguf.MAX_KV - len(LLAMA_KV) - 1, 250_000)
    whole_started = time.perf_counter()
    whole = gguf.parse_header(data)
    whole_s = time.perf_counter() - whole_started

    def in_pieces() -> gguf.HeaderParser:
        return world.feed_in_pieces(data, 64 * 1024)

    started = time.perf_counter()
    parser = in_pieces()
    pieces_s = time.perf_counter() - started
    tracemalloc.start()  # apart from the timing: tracing slows allocation-heavy code ~20x
    in_pieces()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parser.info == whole and whole.vocab_size == 250_000
    assert parser.consumed == len(data)
    # Each piece resumes where the last stopped: at most one item per piece is begun twice, and
    # feeding ~200 pieces costs about one pass, not the sum of every prefix.
    assert parser.restarts <= len(data) // (64 * 1024) + 1
    assert pieces_s < 5 and pieces_s < 3 * whole_s + 0.5, (pieces_s, whole_s)
    # 7.2 MiB measured; keeping the 250,000 vocabulary strings would add ~16.5 MiB
    assert peak < 16 * 2**20


def test_registry_reads_a_header_in_range_steps_without_reparsing(site, monkeypatch, real_headers):
    """The range reader feeds the parser as bytes arrive and stops when the table ends."""
    a = world.find("phi4", "latest")
    fed = []
    real_feed = gguf.HeaderParser.feed

    def feed(self, data):
        fed.append(len(data))
        return real_feed(self, data)
    monkeypatch.setattr(gguf.HeaderParser, "feed", feed)
    monkeypatch.setattr(registry, "FIRST_RANGE", 64 * 1024)
    info = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    header = world.gguf_header("phi4", "14b", "q4_K_M")
    assert info.header_bytes == len(header)
    assert sum(fed) < len(header) + 256 * 1024  # every byte fed once, nothing re-read
    assert len(site.ranges) >= 3  # it did take several Range steps


# ---- the tags-page parser: linear ---------------------------------------------------------------

def test_tags_page_parser_is_linear():
    """Before: each link's ancestor walk searched the whole row list (2,000 rows: ~50 s)."""
    ref = parse_model_ref("phi4")
    small, big = world.big_tags_page("phi4", 1000), world.big_tags_page("phi4", 5000)
    started = time.process_time()
    tags = pages.parse_tags_page(big, ref)
    first = time.process_time() - started  # the first of the two timed runs of the big page
    assert len(tags) == 5000
    assert tags[1].size_bytes == 2 * 10**9 and tags[1].context == 131072
    assert tags[0].digest is not None and tags[0].updated == "11 months ago"
    t_small = world.best_cpu_time(lambda: pages.parse_tags_page(small, ref), 3)
    t_big = min(first, world.best_cpu_time(lambda: pages.parse_tags_page(big, ref), 1))
    assert t_big < 2  # bench/hardening.py: ~0.4 s of CPU
    assert t_big < 10 * t_small, (t_small, t_big)  # 5x the rows; quadratic would be 25x


def test_hostile_nesting_stays_linear():
    page = (world.FIXTURES / "library" / "phi4.tags.html").read_text()
    hostile = "<div>" * 50_000 + "</span>" * 50_000 + page + "<a href='/library/phi4:x" * 10_000
    started = time.perf_counter()
    tags = pages.parse_tags_page(hostile, parse_model_ref("phi4"))
    assert time.perf_counter() - started < 5
    assert {t.tag for t in tags} >= {"14b", "14b-q8_0", "14b-fp16"}


# ---- stalls and Ctrl-C --------------------------------------------------------------------------

@pytest.fixture
def scaled_stall(monkeypatch):
    """The stall rules scaled down ~30x, so a test waits 1 s instead of 30. Five tries of 0.5 s
    would take 2.5 s: a run that did not stop at the budget takes over 2.2 s and fails."""
    monkeypatch.setattr(http, "TIMEOUT", (0.25, 0.5))
    monkeypatch.setattr(http, "RETRIES", 5)
    monkeypatch.setattr(http, "STALL_BUDGET_S", 1.0)
    return 1.0


def test_stalled_library_costs_one_budget_and_says_so(run, monkeypatch, silent, scaled_stall):
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", silent.url)
    started = time.monotonic()
    result = run("pick", "phi4", *BUDGET)
    waited = time.monotonic() - started
    assert result.exit_code == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"note: 127.0.0.1:{silent.port} is not answering; retrying for up to 1 s"
    assert lines[-1].startswith(f"Error: 127.0.0.1:{silent.port} is not answering")
    assert "Traceback" not in result.stderr and len(lines) == 2
    assert scaled_stall - 0.1 <= waited <= scaled_stall + 1.2, waited
    assert silent.accepted < http.RETRIES  # the budget, not the tries, ended the wait


def test_a_stall_that_is_over_costs_nothing_later(monkeypatch):
    """One slow answer (a timeout, then the retry answers) starts the stall clock; the answer
    stops it. Past the budget, a request to the healthy host is still sent (it was refused)."""
    monkeypatch.setattr(http, "TIMEOUT", (0.1, 0.2))  # scaled down further than scaled_stall
    monkeypatch.setattr(http, "STALL_BUDGET_S", 0.4)
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        slowed = False

        def do_GET(self):
            if self.path == "/slow-once" and not Handler.slowed:
                Handler.slowed = True
                time.sleep(0.3)  # past the 0.2 s read timeout, once
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert http.get_text(base + "/slow-once").text == "ok"
        assert Handler.slowed and http.stalls.noted  # it did stall once
        time.sleep(http.STALL_BUDGET_S + 0.1)
        assert http.get_text(base + "/healthy").text == "ok"
    finally:
        server.shutdown()
        server.server_close()


def test_quiet_drops_the_stall_note_from_the_worker_threads_not_the_error(
        httpserver, run, monkeypatch, silent, scaled_stall):
    """-q: "No notes". The stall is noticed in a worker thread, outside Click's context; the
    answer and its warning about the missing manifests stay."""
    base, _ = world.serve_http(httpserver)
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", base)
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", silent.url)
    result = run("-q", "pick", "phi4", *BUDGET)
    assert result.exit_code == 0, result.stderr
    assert "note:" not in result.stderr and "retrying" not in result.stderr
    assert "the registry gave no manifest for phi4 (" in result.stderr  # the warning says why
    assert silent.accepted >= 1  # it did stall (without -q, the next test's note)


def test_stalled_registry_with_workers_waiting_costs_one_budget(httpserver, run, monkeypatch,
                                                                 silent, scaled_stall):
    """Three manifest requests stall at once in the thread pool: the clock is shared, the wait
    said once, and the answer falls back to the page's sizes."""
    base, _ = world.serve_http(httpserver)
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", base)
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", silent.url)
    started = time.monotonic()
    result = run("pick", "phi4", *BUDGET)
    waited = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().startswith("phi4:")
    assert result.stderr.count("is not answering; retrying") == 1
    assert "the registry gave no manifest for phi4" in result.stderr
    assert scaled_stall - 0.1 <= waited <= scaled_stall + 1.2, waited
    assert silent.accepted >= 3  # the workers did wait in parallel


def test_default_stall_rules_fit_the_35_second_promise():
    """A stalled attempt begun just before the clock ran out ends within one read timeout, and
    no attempt starts after it: the worst case is the budget plus nothing."""
    assert http.STALL_BUDGET_S + 0.05 <= 35 and max(http.TIMEOUT) <= http.STALL_BUDGET_S


def test_ctrl_c_while_workers_wait_exits_130_within_a_second(httpserver, silent, tmp_path):
    """A real process, a real SIGINT, three worker threads blocked on a registry that never
    answers (before: Python's exit joined them, 91 s with the old timeouts)."""
    import signal
    import subprocess

    base, _ = world.serve_http(httpserver)
    env = dict(os.environ, QUANTPICK_LIBRARY_URL=base, QUANTPICK_REGISTRY_URL=silent.url,
               QUANTPICK_CACHE_DIR=str(tmp_path / "c"), QUANTPICK_CONFIG=str(tmp_path / "none"),
               OLLAMA_HOST="127.0.0.1:9", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([*world.python_with_sigint(), "-m", "ollama_quantpick", "pick",
                             "phi4", *BUDGET], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while silent.accepted < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert silent.accepted >= 3, "the workers never reached the registry"
        time.sleep(0.2)  # let them block in their reads
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert took < 1.0, took
    assert "interrupted" in err and "Traceback" not in err


def test_redirect_allow_list_admits_only_the_listed_hosts():
    """For hosts whose files live on a CDN (Hugging Face): an explicit list, not 'anywhere'."""
    import responses

    src = "https://hub.example/org/repo/resolve/main/m.gguf"
    with responses.RequestsMock() as rsps:
        rsps.get(src, status=302, headers={"Location": "https://cdn-lfs.hub.example/x?sig=1"})
        rsps.get("https://cdn-lfs.hub.example/x", body=b"GGUF")
        with http.open_stream(src, allow_hosts=[".hub.example"]) as r:
            assert r.status_code == 200
        rsps.replace("GET", src, status=302, headers={"Location": "https://evil.example/x"})
        with pytest.raises(http.QuantpickError, match=r"another host \(evil.example\)"), \
                http.open_stream(src, same_host=False, allow_hosts=["cdn-lfs.hub.example"]):
            pass


def test_bearer_token_stays_with_its_host_and_out_of_messages(run, monkeypatch):
    """HF_TOKEN goes to the Hub, not to the CDN it redirects to, and never into a message."""
    import responses

    token = "hf_s3cr3tT0kenValue"
    monkeypatch.setenv("HF_TOKEN", token)
    src = "https://hub.example/org/repo/resolve/main/m.gguf"
    seen = {}

    def cdn(request):
        seen["auth"] = request.headers.get("Authorization")
        return 200, {}, b"GGUF"

    with responses.RequestsMock() as rsps:
        rsps.get(src, status=302, headers={"Location": "https://cdn.hub.example/x?sig=1"})
        rsps.add_callback("GET", "https://cdn.hub.example/x", callback=cdn)
        with http.open_stream(src, {"Authorization": f"Bearer {token}"},
                              allow_hosts=[".hub.example"]) as r:
            assert r.status_code == 200
        assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {token}"
    assert seen["auth"] is None
    from ollama_quantpick.cli import one_line
    assert token not in one_line(f"the Hub refused Bearer {token}")


def test_malformed_ollama_host_is_exit_2_for_pick_too(site, run, monkeypatch):
    """pick asks the running Ollama for its release; a host that cannot be parsed is refused."""
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:notaport")
    one_line_error(run("pick", "phi4", *BUDGET), 2, "OLLAMA_HOST '127.0.0.1:notaport'")


def test_a_trickling_blob_cannot_renew_the_header_deadline(httpserver, monkeypatch):
    """One deadline for every Range step of a header, so a server sending a little at a time
    cannot stretch the wait step by step."""
    from werkzeug import Response

    header = world.gguf_header("phi4", "14b", "q4_K_M")

    def trickle(request):
        start, end = (int(x) for x in request.headers["Range"][6:].split("-"))

        def body():
            for i in range(start, min(end + 1, len(header)), 16384):
                time.sleep(0.025)
                yield header[i:min(i + 16384, end + 1)]
        return Response(body(), status=206)

    httpserver.expect_request("/blob").respond_with_handler(trickle)
    monkeypatch.setattr(registry, "FIRST_RANGE", 8 * 1024)
    monkeypatch.setattr(registry, "RANGE_DEADLINE_S", 0.5)
    started = time.monotonic()
    with pytest.raises(http.QuantpickError, match="took over"):
        registry.read_header(httpserver.url_for("/blob"))
    # One deadline: 0.5 s. A deadline per step would end in the 7th step, after ~1.3 s
    # (8 KiB, 16 KiB, ... 256 KiB at 16 KiB per 25 ms, then 0.5 s of the 512 KiB step).
    assert 0.5 <= time.monotonic() - started < 1.0


@pytest.mark.parametrize("tag", ["9" * 400 + "b", "9" * 40 + "x7b", "8b-a" + "9" * 400 + "b",
                                 "e" + "9" * 400 + "b", "0b"])
def test_tag_names_with_absurd_sizes_are_no_sizes(site, run, tag):
    """A page row named `999…9b` made params inf, which overflowed the ranking."""
    page = (world.FIXTURES / "library" / "phi4.tags.html").read_text()
    site.tags_html["phi4"] = page.replace("/library/phi4:14b-fp16", f"/library/phi4:{tag}")
    result = run("tags", "phi4", *BUDGET)
    assert result.exit_code == 0 and "Traceback" not in result.stderr, result.stderr
    result = run("pick", "phi4", *BUDGET, "--size", tag.split("-")[0][:60])
    assert result.exit_code in (0, 2) and "Traceback" not in result.stderr, result.stderr

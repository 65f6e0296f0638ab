"""Hostile and unlucky inputs: fuzzed parsers, racing cache writers, redirects, endless bodies."""

import contextlib
import json
import multiprocessing
import time
import tracemalloc

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import world
from ollama_quantpick import gguf, http, library, pages, registry
from ollama_quantpick.errors import InputError, QuantpickError
from ollama_quantpick.tagname import parse_model_ref, parse_tag

FUZZ = settings(max_examples=300, deadline=2000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.text(max_size=80))
def test_tag_parser_never_fails(text):
    info = parse_tag(text)
    assert info.params_b is None or info.params_b >= 0


@FUZZ
@given(st.text(max_size=120))
def test_model_ref_is_valid_or_refused(text):
    try:
        ref = parse_model_ref(text)
    except InputError:
        return
    for part in (ref.model, ref.namespace or "x", ref.tag or "x"):
        assert "/" not in part and ".." not in part and " " not in part


PAGE = (world.FIXTURES / "library" / "phi4.tags.html").read_text()


@FUZZ
@given(st.data())
def test_html_parser_on_mutated_real_pages(data):
    start = data.draw(st.integers(0, len(PAGE)))
    end = data.draw(st.integers(start, min(len(PAGE), start + 2000)))
    junk = data.draw(st.text(max_size=200))
    html = PAGE[:start] + junk + PAGE[end:]
    try:
        tags = pages.parse_tags_page(html, parse_model_ref("phi4"))
    except QuantpickError:
        return
    assert len({t.tag for t in tags}) == len(tags)


HEADER = world.gguf_header("phi4", "14b", "q4_K_M")[:300_000]


@FUZZ
@given(st.data())
def test_gguf_reader_on_mutated_real_headers(data):
    buf = bytearray(HEADER)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 8))
        buf[pos:pos + 8] = data.draw(st.binary(min_size=8, max_size=8))
    cut = data.draw(st.integers(0, len(buf)))
    tracemalloc.start()
    started = time.monotonic()
    try:
        gguf.parse_header(bytes(buf[:cut]))
    except (gguf.GGUFError, gguf.NeedMore):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 10 * len(HEADER) + 2**20  # nothing allocated beyond what the input justifies


@FUZZ
@given(st.binary(max_size=4096))
def test_gguf_reader_on_random_bytes(data):
    with contextlib.suppress(gguf.GGUFError, gguf.NeedMore):
        gguf.parse_header(b"GGUF" + data)


def test_two_processes_filling_the_same_cache_leave_it_valid(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=world.hammer_cache, args=(str(tmp_path), 200, t)) for t in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    import os
    os.environ["QUANTPICK_CACHE_DIR"] = str(tmp_path)
    entry = http.read_cache("shared-key")
    assert entry is not None and entry["text"] in ("1-199" * 500, "2-199" * 500)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_registry_redirect_to_another_host_is_refused_for_manifests():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{world.REG}/v2/library/phi4/manifests/latest", status=302,
                 headers={"Location": "https://evil.example/manifest"})
        with pytest.raises(QuantpickError, match="redirected to another host"):
            registry.manifest(parse_model_ref("phi4"), "latest")


def test_https_downgrade_is_refused_even_for_blobs():
    digest = "sha256:" + "c" * 64
    with responses.RequestsMock() as rsps:
        rsps.get(f"{world.REG}/v2/library/phi4/blobs/{digest}", status=307,
                 headers={"Location": "http://storage.example/blob"})
        with pytest.raises(QuantpickError, match="redirected to plain http"):
            registry.gguf_info(parse_model_ref("phi4"), digest)


def test_blob_redirect_to_a_storage_host_is_followed_with_its_range(real_headers):
    """The real registry sends blobs from a storage host; the Range header must go along."""
    a = world.find("phi4", "latest")
    header = world.gguf_header("phi4", "14b", "q4_K_M")
    seen = []

    def storage(request):
        seen.append(request.headers.get("Range"))
        start, end = (int(x) for x in request.headers["Range"].removeprefix("bytes=").split("-"))
        return 206, {}, header[start:end + 1]

    with responses.RequestsMock() as rsps:
        rsps.get(f"{world.REG}/v2/library/phi4/blobs/{a.blob_digest}", status=307,
                 headers={"Location": "https://storage.example/blob?sig=1"})
        rsps.add_callback("GET", "https://storage.example/blob", callback=storage)
        info = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    assert info.block_count == 40 and seen and seen[0].startswith("bytes=0-")


def test_slow_endless_page_is_cut_off_by_time(httpserver, monkeypatch):
    from werkzeug import Response

    def trickle():
        while True:
            time.sleep(0.02)
            yield b"<p>" * 10

    httpserver.expect_request("/library/phi4/tags").respond_with_handler(
        lambda r: Response(trickle()))
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setattr(http, "BODY_DEADLINE_S", 0.2)
    monkeypatch.setattr(http, "RETRIES", 1)
    started = time.monotonic()
    with pytest.raises(QuantpickError, match="took over"):
        library.fetch_tags(parse_model_ref("phi4"))
    assert 0.2 <= time.monotonic() - started < 5


def test_page_without_charset_is_read_as_utf8(site):
    site.rsps.replace("GET", site.rsps.registered()[0].url,
                      body=PAGE.encode("utf-8"), content_type="text/html")
    tags, _ = library.fetch_tags(parse_model_ref("phi4"))
    assert {t.context for t in tags} == {16384}


# Every user-facing error of the CLI, once: its wording and its exit code.
ERRORS = [
    (["pick", "llama33"], 2, "Error: no model 'llama33' in the Ollama library; did you mean"),
    (["pick", "../x"], 2, "Error: '../x' is not a valid Ollama model name;"),
    (["pick", "quay.io/org/model"], 2, "Error: 'quay.io/org/model' names another registry;"),
    (["pick", "hf.co/org"], 2, "Error: 'hf.co/org' is not a valid Hugging Face model name;"),
    (["pick", "phi4", "--vram", "lots"], 2,
     "Error: --vram 'lots' is not a size; use a form like 24GB, 24 GB, 24GiB, 16g, 8000MiB or 0"),
    (["pick", "phi4", "--task", "poetry"], 2, "Error: Invalid value for '--task'"),
    (["pick", "llama3.3", "--vram", "8GB", "--ram", "16GB"], 3,
     "nothing fits 8.0 GB VRAM + 16.0 GB RAM: the one to consider, llama3.3:70b-instruct-q3_K_M"),
    (["pick", "phi4", "--gpu", "none", "--ram", "24GB", "--min-speed", "8"], 3,
     "nothing runs fast enough on CPU only, 24.0 GB RAM"),
    (["pick", "gpt-oss:20b-cloud"], 2, "Error: gpt-oss:20b-cloud is a cloud tag"),
    (["fit", "phi4"], 2, "Error: fit needs MODEL:TAG"),
    (["fit", "phi4:99b"], 2, "Error: phi4:99b is not a tag of phi4; tags include"),
    (["tags", "qwen3", "--size", "7b"], 2, "Error: qwen3 has no 7b size; it has"),
    (["tags", "phi4", "--offline", "--refresh"], 2, "Error: --offline and --refresh contradict"),
    (["pull", "llama3.3:70b-instruct-q8_0", "--vram", "24GB", "--ram", "32GB"], 3,
     "use --force to pull it anyway"),
    (["config", "set", "defaults.ctx", "big"], 2, "Error: 'defaults.ctx' = 'big'; expected"),
    (["config", "unset", "defaults.task"], 2, "Error: 'defaults.task' is not set in"),
]


@pytest.mark.parametrize("args,code,message", ERRORS, ids=lambda x: str(x)[:40])
def test_every_error_message(site, run, args, code, message, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    if args[0] == "pull":
        args = [*args, "--dry-run"]
    if "--vram" not in args and "--gpu" not in args and args[0] != "config":
        args = [*args, "--vram", "24GB", "--ram", "64GB"]
    result = run(*args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("Error: ") == (code != 3)  # exit 3 is an answer, not an error
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_corrupt_cache_entry_for_a_gguf_header_is_reread(site):
    a = world.find("phi4", "latest")
    first = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    http.write_cache(f"gguf-info|{a.blob_digest}", {"fetched_at": 1, "info": {"bogus": 1}})
    assert registry.gguf_info(parse_model_ref("phi4"), a.blob_digest) == first
    assert json.loads(http._cache_path(f"gguf-info|{a.blob_digest}").read_text())["info"][
        "block_count"] == 40


def test_gzip_pages_are_decoded(httpserver, monkeypatch):
    import gzip

    from werkzeug import Response

    httpserver.expect_request("/library/phi4/tags").respond_with_handler(
        lambda r: Response(gzip.compress(PAGE.encode()), headers={
            "Content-Encoding": "gzip", "Content-Type": "text/html; charset=utf-8"}))
    monkeypatch.setenv("QUANTPICK_LIBRARY_URL", httpserver.url_for("/").rstrip("/"))
    tags, _ = library.fetch_tags(parse_model_ref("phi4"))
    assert len(tags) == 5

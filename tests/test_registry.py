import time

import pytest
from werkzeug import Response

import world
from ollama_quantpick import gguf, http, registry
from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.tagname import parse_model_ref

LLAMA = parse_model_ref("llama3.3")


def test_manifest_is_exact_and_its_digest_is_what_ollama_list_shows(site):
    m = registry.manifest(LLAMA, "latest")
    a = world.find("llama3.3", "latest")
    assert m.digest == a.digest and m.short_digest == a.digest[:12]
    assert m.model_bytes == a.model_bytes and m.projector_bytes == 0
    assert m.download_bytes == a.download_bytes
    assert registry.manifest(LLAMA, "no-such-tag") is None


def test_vision_manifest_has_a_projector(site):
    m = registry.manifest(parse_model_ref("gemma3"), "27b")
    assert m.projector_bytes == 851_251_104


def test_config_blob(site):
    m = registry.manifest(LLAMA, "70b-instruct-q5_K_M")
    config = registry.config_blob(LLAMA, m.config_digest)
    assert config["file_type"] == "Q5_K_M" and config["model_type"] == "70.6B"


def test_the_default_first_range_reads_a_whole_header_in_one_request(site, real_headers):
    a = world.find("gemma3", "latest")  # a 262k-token vocabulary: the largest header here
    info = registry.gguf_info(parse_model_ref("gemma3"), a.blob_digest)
    assert info.vocab_size == 262144 and len(site.ranges) == 1
    assert len(world.gguf_header("gemma3", "4b", "q4_K_M")) < registry.FIRST_RANGE


def test_header_larger_than_the_first_range_is_read_in_growing_ranges(site, monkeypatch, real_headers):
    monkeypatch.setattr(registry, "FIRST_RANGE", 512 * 1024)
    a = world.find("llama3.3", "latest")
    assert len(world.gguf_header("llama3.3", "70b", "q4_K_M")) > registry.FIRST_RANGE
    info = registry.gguf_info(LLAMA, a.blob_digest)
    assert info.block_count == 80 and info.vocab_size == 128256
    spans = [tuple(int(x) for x in r.removeprefix("bytes=").split("-")) for r in site.ranges]
    assert spans[0] == (0, registry.FIRST_RANGE - 1) and len(spans) >= 2
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start == end + 1  # each request continues where the last one stopped
    header = len(world.gguf_header("llama3.3", "70b", "q4_K_M"))
    assert spans[-1][1] + 1 < 2 * header + 2**20  # read at most about twice the header


def test_header_is_cached_by_digest_forever(site, real_headers):
    a = world.find("phi4", "latest")
    first = registry.gguf_info(parse_model_ref("phi4"), a.blob_digest)
    requests_before = len(site.ranges)
    http.settings.ttl = 0  # even with every page expired, a blob never changes
    assert registry.gguf_info(parse_model_ref("phi4"), a.blob_digest) == first
    assert len(site.ranges) == requests_before


def test_server_that_ignores_range_is_cut_off(httpserver, monkeypatch):
    """A 200 with an endless body: quantpick reads what it needs and hangs up."""
    header = world.gguf_header("phi4", "14b", "q4_K_M")
    sent = []

    def endless():
        yield header
        while True:
            sent.append(1)
            yield b"\0" * 2**20

    httpserver.expect_request("/v2/library/phi4/blobs/sha256:" + "a" * 64).respond_with_handler(
        lambda request: Response(endless(), status=200))
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", httpserver.url_for("/").rstrip("/"))
    started = time.monotonic()
    info = registry.gguf_info(parse_model_ref("phi4"), "sha256:" + "a" * 64)
    assert info.architecture == "phi3" and info.block_count == 40
    assert time.monotonic() - started < 10
    assert len(sent) < 64  # at most a few MiB beyond the header, never the endless rest


def test_blob_that_ends_inside_its_header(httpserver, monkeypatch):
    header = world.gguf_header("phi4", "14b", "q4_K_M")
    httpserver.expect_request("/v2/library/phi4/blobs/sha256:" + "b" * 64).respond_with_data(
        header[:1000], status=206)
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", httpserver.url_for("/").rstrip("/"))
    with pytest.raises(gguf.GGUFError, match="ends inside its header"):
        registry.gguf_info(parse_model_ref("phi4"), "sha256:" + "b" * 64)


def test_garbled_manifest_is_a_clear_error():
    with pytest.raises(QuantpickError, match="manifest quantpick cannot read"):
        registry.parse_manifest('{"layers": [{"mediaType": 1}]}')


def test_a_cached_listing_is_read_in_this_thread_and_only_misses_go_to_the_pool(site, monkeypatch):
    from ollama_quantpick import artifacts

    pooled: list[list] = []
    real = http.parallel_map

    def spy(fn, items, workers):
        items = list(items)
        pooled.append(items)
        return real(fn, items, workers)
    monkeypatch.setattr(http, "parallel_map", spy)
    ref = parse_model_ref("qwen3")
    first = artifacts.load(ref)
    assert pooled and len(pooled[0]) > 1  # cold: the manifests went out together
    fetched = len(site.calls)
    pooled.clear()
    again = artifacts.load(ref)
    assert pooled == [] and len(site.calls) == fetched  # cached: no pool, no request
    assert [a.manifest for a in again.artifacts] == [a.manifest for a in first.artifacts]
    # two entries gone from the cache: only those two are fetched, together
    gone = [a.tag.tag for a in first.artifacts[:2]]
    for tag in gone:
        http._cache_path(f"{registry._base(ref)}/manifests/{tag}|"
                         '{"Accept": "' + registry.MANIFEST_ACCEPT + '"}').unlink()
    artifacts.load(ref)
    assert len(pooled) == 1 and len(pooled[0]) == 2
    assert len(site.calls) == fetched + 2  # the tags page is fresh: two manifests only


def test_a_cold_listing_takes_three_round_trips(tmp_path, monkeypatch, run, real_headers):
    """Requests that do not wait on each other go out together: the tags and model pages, then
    every manifest, then every size's header with the params blob. With a server that takes
    0.5 s per answer, the requests fall into three waves (a fourth would mean a round trip too
    many: the params blob after the headers, or manifests one by one)."""
    base, server = world.serve_threaded(delay_s=0.5)
    try:
        monkeypatch.setenv("QUANTPICK_LIBRARY_URL", base)
        monkeypatch.setenv("QUANTPICK_REGISTRY_URL", base)
        monkeypatch.setenv("QUANTPICK_CACHE_DIR", str(tmp_path / "c"))
        monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
        result = run("tags", "qwen3", "--vram", "24GB", "--ram", "64GB")
        assert result.exit_code == 0, result.stderr
        times = sorted(t for t, _ in server.started)
        waves = 1 + sum(1 for a, b in zip(times, times[1:]) if b - a > 0.3)
        paths = [p for _, p in server.started]
        assert any("/blobs/" in p for p in paths) and len(paths) >= 30
        assert waves == 3, sorted(server.started)
    finally:
        server.shutdown()


def test_merged_facts_live_on_the_artifact_and_the_page_row_stays_as_parsed(site):
    """A row named only `latest`, in the older layout with no context and no digest: the quant and
    size come from the registry's config blob, the context from the header, the digest from the
    manifest; all of it on the artifact, while its `tag` is still exactly the page's row."""
    from ollama_quantpick import artifacts, library

    site.tags_html["qwen3"] = ('<a href="/library/qwen3:latest"><p>latest</p>'
                               '<p>5.2GB · Text · 1 month ago</p></a>')
    ref = parse_model_ref("qwen3")
    (a,) = artifacts.load(ref).artifacts
    artifacts.attach_arch(ref, [a])
    (row,), _ = library.fetch_tags(ref)
    assert a.tag == row  # nothing written back into the page's row
    assert (row.quant, row.params_b, row.context, row.digest) == (None, None, None, None)
    want = world.find("qwen3", "latest")
    assert a.quant == want.quant and a.params_b == pytest.approx(8.2, abs=0.1)
    assert a.context == a.arch.context_length == 40960
    assert a.to_json()["quant"] == a.quant and a.to_json()["digest"] == want.digest[:12]


def test_a_blob_that_is_not_one_is_not_kept_forever(httpserver, monkeypatch):
    """Blobs are cached forever (content-addressed). A transient 404, or a proxy's HTML where
    the JSON should be, was cached forever too: the model's num_ctx lost for good."""
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", httpserver.url_for("").rstrip("/"))
    digest = "sha256:" + "a" * 64
    path = f"/v2/library/qwen3/blobs/{digest}"
    httpserver.expect_ordered_request(path).respond_with_data("not found", status=404)
    httpserver.expect_ordered_request(path).respond_with_data("<html>proxy</html>")
    httpserver.expect_ordered_request(path).respond_with_json({"num_ctx": 32768})
    ref = parse_model_ref("qwen3")
    assert registry.params_blob(ref, digest) == {}
    assert registry.params_blob(ref, digest) == {}
    assert registry.params_blob(ref, digest) == {"num_ctx": 32768}
    assert registry.params_blob(ref, digest) == {"num_ctx": 32768}  # this one is kept
    assert len(httpserver.log) == 3


def test_a_manifest_that_cannot_be_read_is_asked_for_again(httpserver, monkeypatch):
    monkeypatch.setenv("QUANTPICK_REGISTRY_URL", httpserver.url_for("").rstrip("/"))
    path = "/v2/library/phi4/manifests/latest"
    httpserver.expect_ordered_request(path).respond_with_data("<html>Log in to WiFi</html>")
    httpserver.expect_ordered_request(path).respond_with_data(
        world.find("phi4", "latest").manifest_text)
    with pytest.raises(registry.ManifestError):
        registry.manifest(parse_model_ref("phi4"), "latest")
    assert registry.manifest(parse_model_ref("phi4"), "latest").digest
    assert len(httpserver.log) == 2

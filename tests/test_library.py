import json
import os
import time

import pytest

import world
from ollama_quantpick import http, library, pages
from ollama_quantpick.errors import QuantpickError
from ollama_quantpick.tagname import parse_model_ref


def parse(model):
    html = (world.FIXTURES / "library" / f"{model}.tags.html").read_text()
    return pages.parse_tags_page(html, parse_model_ref(model))


@pytest.mark.parametrize("model", list(world.MODELS))
def test_every_row_of_every_fixture_page(model):
    tags = {t.tag: t for t in parse(model)}
    expected = {tag for a in world.artifacts(model) for tag in a.tags} | set(world.MODELS[model][5])
    assert set(tags) == expected  # each tag once, though the plain layout links it twice
    for a in world.artifacts(model):
        size = a.model_bytes + sum(x["size"] for x in a.layers if "projector" in x["mediaType"])
        for tag in a.tags:
            t = tags[tag]
            assert t.name == f"{model}:{tag}" and not t.cloud
            assert abs(t.size_bytes - size) <= 0.06 * size  # the page rounds to 2-3 digits
            if world.MODELS[model][0] == "digest":
                assert t.digest == a.digest[:12] and t.updated == "11 months ago"
            else:
                assert t.digest is None and t.updated == "5 months ago"
            assert t.context == a.arch.ctx
            assert t.inputs == [w.strip().lower() for w in world.MODELS[model][3].split(",")]
    for tag in world.MODELS[model][5]:
        assert tags[tag].cloud and tags[tag].size_bytes is None


def test_latest_badge_marks_the_default_artifact():
    tags = {t.tag: t for t in parse("phi4")}
    assert tags["14b"].latest and tags["14b-q4_K_M"].latest and not tags["14b-q8_0"].latest


def test_info_line_pieces():
    assert pages.parse_page_size("43GB") == 43 * 10**9
    assert pages.parse_page_size("815MB") == 815 * 10**6
    assert pages.parse_page_size("2.0GB") == 2 * 10**9
    assert pages.parse_context("128K") == 131072
    assert pages.parse_context("40K context window") == 40960
    assert pages.parse_context("1M") == 2**20
    assert pages.parse_context("5 months ago") is None


def test_compact_row_with_text_input_words():
    html = ('<a href="/library/llava:7b"><span>llava:7b</span><span>'
            '<span class="font-mono">8dd30f6b0cb1</span> • 4.7GB • 32K context window • '
            'Text, Image input • 1 year ago</span></a>')
    (tag,) = pages.parse_tags_page(html, parse_model_ref("llava"))
    assert (tag.digest, tag.size_bytes, tag.context, tag.inputs, tag.updated) == (
        "8dd30f6b0cb1", 4.7e9, 32768, ["text", "image"], "1 year ago")


def test_digest_layout_row():
    html = ('<a href="/library/llama3.3:70b"><span>70b</span>'
            '<span>a6eb4748fd29 • 43GB • Updated 4 months ago</span></a>')
    (tag,) = pages.parse_tags_page(html, parse_model_ref("llama3.3"))
    assert (tag.digest, tag.size_bytes, tag.updated) == ("a6eb4748fd29", 43 * 10**9,
                                                         "4 months ago")


def test_namespaced_model_rows():
    html = '<a href="/someone/tiny:1b"><p>1b</p><p>1.3GB · 128K context window · Text · now</p></a>'
    (tag,) = pages.parse_tags_page(html, parse_model_ref("someone/tiny"))
    assert tag.name == "someone/tiny:1b" and tag.params_b == 1


@pytest.mark.parametrize("html", [
    "",
    "<html><body><p>Nothing here</p></body></html>",
    # the layout changed: links no longer point at /library/<model>:<tag>
    '<div data-tag="latest">latest 43GB</div><a href="/library/llama3.3">llama3.3</a>',
    # rows found but no size or cloud marker anywhere: not understood either
    '<a href="/library/llama3.3:70b">70b</a>',
])
def test_page_without_rows_is_a_layout_error(html):
    with pytest.raises(QuantpickError, match="layout was not understood"):
        pages.parse_tags_page(html, parse_model_ref("llama3.3"))


def test_cloud_only_page_parses_to_cloud_tags():
    html = ('<a href="/library/kimi-k2:1t-cloud"><p>1t-cloud</p>'
            '<p>Medium Usage · 256K context window · Text · 1 month ago</p></a>')
    (tag,) = pages.parse_tags_page(html, parse_model_ref("kimi-k2"))
    assert tag.cloud and tag.context == 256 * 1024


def test_unknown_model_suggests_close_names(site):
    with pytest.raises(QuantpickError) as err:
        library.fetch_tags(parse_model_ref("llama33"))
    assert str(err.value).startswith(
        "no model 'llama33' in the Ollama library; did you mean 'llama3.3' or")


def test_model_page_description_and_badges(site):
    info = library.fetch_model_info(parse_model_ref("qwen3"))
    assert info.capabilities == ["tools", "thinking"]
    assert "Qwen3" in info.description and "8b" in info.sizes


def test_server_errors_are_retried_then_name_the_host(site):
    site.rsps.replace("GET", site.rsps.registered()[0].url, status=500)
    with pytest.raises(QuantpickError, match="ollama.com answered HTTP 500"):
        library.fetch_tags(parse_model_ref("phi4"))
    assert len(site.rsps.calls) == http.RETRIES


def test_network_down_without_cache():
    import responses
    with responses.RequestsMock(), pytest.raises(QuantpickError,
                                                 match="cannot reach ollama.com"):
        library.fetch_tags(parse_model_ref("phi4"))


def test_network_down_with_an_old_cache_answers_from_it(site):
    library.fetch_tags(parse_model_ref("phi4"))
    url = library.tags_url(parse_model_ref("phi4"))
    key = url + "|{}"
    entry = http.read_cache(key)
    entry["fetched_at"] = time.time() - 3 * 86400
    http.write_cache(key, entry)
    site.rsps.reset()  # the network is gone: every request now fails to connect
    tags, page = library.fetch_tags(parse_model_ref("phi4"))
    assert page.stale and len(tags) == 5 and http.describe_age(page.age_s) == "3 days"


def test_garbled_cache_is_refetched(site):
    ref = parse_model_ref("phi4")
    library.fetch_tags(ref)
    path = http._cache_path(library.tags_url(ref) + "|{}")
    path.write_text('{"url": "x", "text": "<ht')
    tags, page = library.fetch_tags(ref)
    assert not page.from_cache and len(tags) == 5
    assert json.loads(path.read_text())["status"] == 200


def test_a_cache_file_nested_past_the_limit_is_refetched(site):
    """json.loads raises RecursionError, not ValueError, on `[[[[…`: still just a bad entry."""
    ref = parse_model_ref("phi4")
    library.fetch_tags(ref)
    path = http._cache_path(library.tags_url(ref) + "|{}")
    path.write_text("[" * 100_000)
    tags, page = library.fetch_tags(ref)
    assert not page.from_cache and len(tags) == 5


def test_a_write_removes_the_temp_files_a_killed_process_left():
    """Ctrl-C during a cold fetch exits without waiting for the threads that write the cache;
    what they left is swept by the next write to that folder, unless it may still be in use."""
    path = http._cache_path("a key")
    path.parent.mkdir(parents=True)
    orphan, live = path.parent / ".tmp-orphan.json", path.parent / ".tmp-live.json"
    orphan.write_text("{")
    live.write_text("{")
    old = time.time() - http.ORPHAN_AGE_S - 60
    os.utime(orphan, (old, old))
    http.write_cache("a key", {"fetched_at": time.time(), "text": "x"})
    assert not orphan.exists() and live.exists()
    assert http.read_cache("a key")["text"] == "x"


def test_offline_without_cache_says_so():
    http.settings.offline = True
    with pytest.raises(QuantpickError, match="not in the cache"):
        library.fetch_tags(parse_model_ref("phi4"))


def test_unwritable_cache_degrades_with_one_warning(site, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir below it fails, even for root
    monkeypatch.setenv("QUANTPICK_CACHE_DIR", str(blocker / "cache"))
    assert len(library.fetch_tags(parse_model_ref("phi4"))[0]) == 5
    assert len(library.fetch_tags(parse_model_ref("llama3.3"))[0]) == 16
    assert capsys.readouterr().err.count("continuing without a cache") == 1


def test_oversized_page_is_cut_off(site, monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY", 10_000)
    site.tags_html["phi4"] = "<html>" + "x" * 50_000
    with pytest.raises(QuantpickError, match="more than"):
        library.fetch_tags(parse_model_ref("phi4"))

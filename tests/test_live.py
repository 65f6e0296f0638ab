"""Opt-in: the real ollama.com and registry (python -m pytest -m live). Checks the parser's
invariants on today's pages, so anyone with internet can confirm the layout still holds."""

import pytest

from ollama_quantpick import artifacts, library
from ollama_quantpick.tagname import parse_model_ref

pytestmark = pytest.mark.live


@pytest.mark.parametrize("model", ["phi4", "llama3.3"])
def test_real_tags_page(model):
    tags, _ = library.fetch_tags(parse_model_ref(model))
    local = [t for t in tags if not t.cloud]
    assert local, "no local tags parsed"
    assert len({t.tag for t in tags}) == len(tags)
    assert any(t.tag == "latest" for t in tags)
    for t in local:
        assert t.size_bytes and 10**8 < t.size_bytes < 10**12, t
        assert t.name == f"{model}:{t.tag}"
    assert sum(t.quant is not None for t in local) >= 2


def test_real_registry_groups_aliases():
    listing = artifacts.load(parse_model_ref("phi4"))
    latest = next(a for a in listing.artifacts if "latest" in a.tags)
    assert latest.manifest is not None and latest.manifest.model_bytes > 10**9
    assert latest.quant is not None and len(latest.tags) >= 2

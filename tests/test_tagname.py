import pytest

import world
from ollama_quantpick.errors import InputError
from ollama_quantpick.tagname import normalise_quant, parse_model_ref, parse_tag

# Every tag name listed in docs/library-pages.md, with what it must say.
RESEARCH_TAGS = {
    "latest": (None, None, (), None),
    "70b": (70, None, (), None),
    "70b-instruct-q4_K_M": (70, None, ("instruct",), "q4_K_M"),
    "8b-instruct-fp16": (8, None, ("instruct",), "fp16"),
    "8b-text-q4_0": (8, None, ("text",), "q4_0"),
    "14b-q8_0": (14, None, (), "q8_0"),
    "27b-it-qat": (27, None, ("it", "qat"), None),
    "4b-it-q4_K_M": (4, None, ("it",), "q4_K_M"),
    "30b-a3b": (30, 3, (), None),
    "30b-a3b-q4_K_M": (30, 3, (), "q4_K_M"),
    "235b-a22b": (235, 22, (), None),
    "8x7b-instruct-v0.1-q4_0": (56, None, ("instruct", "v0.1"), "q4_0"),
    "e2b": (2, None, (), None),
    "e4b-it-q8_0": (4, None, ("it",), "q8_0"),
    "20b": (20, None, (), None),
    "0.6b": (0.6, None, (), None),
    "1.5b": (1.5, None, (), None),
    "270m": (0.27, None, (), None),
    "v1.5-q6_K": (None, None, ("v1.5",), "q6_K"),
    "cloud": (None, None, ("cloud",), None),
    "120b-cloud": (120, None, ("cloud",), None),
}


@pytest.mark.parametrize("tag,expected", RESEARCH_TAGS.items())
def test_research_tag_names(tag, expected):
    info = parse_tag(tag)
    assert (info.params_b, info.active_params_b, info.variant, info.quant) == expected


def test_effective_sizes_are_marked():
    assert parse_tag("e4b").effective and not parse_tag("4b").effective


@pytest.mark.parametrize("model", list(world.MODELS))
def test_every_fixture_tag_parses_to_its_table_entry(model):
    for artifact in world.artifacts(model):
        for tag in artifact.tags:
            info = parse_tag(tag)
            if tag != "latest":
                assert info.params_b is not None, tag
            if any(q in tag for q in ("q4", "q8", "fp16", "q2", "q3", "q5", "q6")):
                assert info.quant == artifact.quant, tag


@pytest.mark.parametrize("word,expected", [
    ("Q4_K_M", "q4_K_M"), ("q4_k_m", "q4_K_M"), ("q8_0", "q8_0"), ("Q3_K_L", "q3_K_L"),
    ("F16", "fp16"), ("fp16", "fp16"), ("BF16", "bf16"), ("IQ2_XS", "iq2_xs"),
    ("MXFP4", "mxfp4"), ("f32", "fp32"), ("instruct", None), ("qat", None), ("q", None),
])
def test_quant_spelling(word, expected):
    assert normalise_quant(word) == expected


def test_model_refs():
    ref = parse_model_ref("llama3.3:70b-instruct-q4_K_M")
    assert (ref.model, ref.tag, ref.namespace, ref.path) == (
        "llama3.3", "70b-instruct-q4_K_M", None, "library/llama3.3")
    user = parse_model_ref("someone/model:tag")
    assert user.path == "someone/model" and user.page_path == "/someone/model"
    assert parse_model_ref("library/phi4").namespace is None


@pytest.mark.parametrize("bad", ["../x", "a b", "a:b:c", "", "llama:", ":tag", "a/b/c",
                                 "quay.io/org/model", "hf.co/org", "hf.co/a/b/c", "-x", "x" * 81, "a/../b"])
def test_invalid_names_are_refused_before_any_request(bad):
    with pytest.raises(InputError):
        parse_model_ref(bad)

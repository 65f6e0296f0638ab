import pytest

from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import format_bytes, parse_size


@pytest.mark.parametrize("text,expected", [
    ("24GB", 24 * 10**9), ("24 GB", 24 * 10**9), ("24GiB", 24 * 2**30), ("16g", 16 * 2**30),
    ("8000MiB", 8000 * 2**20), ("0", 0), ("1.5TB", 1.5e12), ("512mb", 512 * 10**6),
    (" 12 gib ", 12 * 2**30), ("100", 100),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["big", "-1GB", "24 GX", "GB", "1,5GB", ""])
def test_bad_sizes_name_the_accepted_forms(bad):
    with pytest.raises(InputError, match="24GiB"):
        parse_size(bad)


def test_format_is_decimal_like_ollama():
    assert format_bytes(42_520_393_664) == "42.5 GB"
    assert format_bytes(815_000_000) == "815 MB"
    assert format_bytes(None) == "?"

import pytest

from ollama_quantpick.errors import InputError
from ollama_quantpick.sizes import format_bytes, parse_size


@pytest.mark.parametrize("text,expected", [
    ("24GB", 24 * 10**9), ("24 GB", 24 * 10**9), ("24GiB", 24 * 2**30), ("16g", 16 * 2**30),
    ("8000MiB", 8000 * 2**20), ("0", 0), ("1.5TB", 1.5e12), ("512mb", 512 * 10**6),
    (" 12 gib ", 12 * 2**30), ("0.0", 0), ("0GB", 0), ("1MB", 10**6), ("2kib", None),
    ("999999b", None),
])
def test_parse_size(text, expected):
    if expected is None:  # below the least memory a machine has: refused (next test)
        with pytest.raises(InputError):
            parse_size(text)
    else:
        assert parse_size(text) == expected


@pytest.mark.parametrize("text,message", [
    ("24", "'24' has no unit: did you mean 24GB?"),
    ("0.5", "'0.5' has no unit: did you mean 0.5GB?"),
    ("100", "'100' has no unit: did you mean 100GB?"),
    # a byte count written without its unit: said back in bytes, not as gigabytes
    ("24000000000", "'24000000000' has no unit: did you mean 24000000000B (24.0 GB)?"),
    ("24b", "'24b' is 24 B, less memory than any machine has: did you mean 24GB?"),
    ("24B", "'24B' is 24 B, less memory than any machine has: did you mean 24GB?"),
    ("512kb", "'512kb' is 512 kB, less memory than any machine has: did you mean 512MB?"),
])
def test_a_size_without_a_unit_or_of_a_few_bytes_is_a_slip(text, message):
    """`--vram 24` used to plan for 24 bytes of VRAM (exit 0, "runs on the CPU (24 B VRAM ...)"):
    nobody means that. 0 stays valid: no GPU."""
    with pytest.raises(InputError) as exc:
        parse_size(text)
    assert str(exc.value) == message


def test_memory_size_names_the_flag_or_the_config_key():
    from ollama_quantpick.sizes import memory_size

    with pytest.raises(InputError, match=r"^--vram '24' has no unit: did you mean 24GB\?$"):
        memory_size("24", "--vram")
    # an integer in the TOML file has no unit either; the fix is the quoted form
    with pytest.raises(InputError, match=r'^config budget.ram = 64 has no unit: did you mean '
                                         r'budget.ram = "64GB"\?$'):
        memory_size(64, "config budget.ram")
    assert memory_size(0, "config budget.vram") == 0 and memory_size("0", "--vram") == 0
    assert memory_size("16GiB", "--ram") == 16 * 2**30
    assert parse_size(24) == 24  # the Python API: an int is a byte count


@pytest.mark.parametrize("value,meant", [(24000000000, "24000000000B"), ("24000000000", "24000000000B"),
                                         (24, "24GB"), ("24", "24GB"), ("0.5", "0.5GB")])
def test_the_size_a_config_is_told_it_meant_is_one_it_takes(value, meant):
    """`did you mean budget.vram = "24000000000B (24.0 GB)"?` suggested a value that `config set`
    refused; and a quoted "24" got no hint at all while an unquoted 24 did."""
    import re

    from ollama_quantpick.sizes import expected_size, memory_size

    hint = expected_size(value)
    said = re.search(r'did you mean "([^"]+)"', hint).group(1)
    assert said == meant and memory_size(said, "x") > 0
    if isinstance(value, int):
        with pytest.raises(InputError) as err:
            memory_size(value, "config budget.vram")
        assert f'budget.vram = "{meant}"' in str(err.value)
    assert expected_size("lots") == 'a size such as "24GB", "16GiB" or "0"'


@pytest.mark.parametrize("bad", ["big", "-1GB", "24 GX", "GB", "1,5GB", ""])
def test_bad_sizes_name_the_accepted_forms(bad):
    with pytest.raises(InputError, match="24GiB"):
        parse_size(bad)


def test_format_is_decimal_like_ollama():
    assert format_bytes(42_520_393_664) == "42.5 GB"
    assert format_bytes(815_000_000) == "815 MB"
    assert format_bytes(None) == "?"

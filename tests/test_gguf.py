import struct

import gguf as gguf_pkg
import pytest

import world
from ollama_quantpick import gguf


def header(model="llama3.3", size="70b", quant="q4_K_M"):
    return world.gguf_header(model, size, quant)


def test_llama_70b_header():
    info = gguf.parse_header(header())
    assert (info.architecture, info.block_count, info.embedding_length, info.head_count) == (
        "llama", 80, 8192, 64)
    assert info.head_count_kv == [8] * 80 and info.key_length == info.value_length == 128
    assert info.vocab_size == 128256 and info.context_length == 131072
    assert info.file_type == "q4_K_M"
    expected = sum(world.nbytes(t, s) for _, s, t in world.tensors(world.ARCH[("llama3.3", "70b")],
                                                                    "q4_K_M"))
    assert info.tensor_bytes == expected
    assert sum(info.layer_bytes) + info.output_bytes + world.nbytes(
        12, [8192, 128256]) == expected  # token_embd (q4_K) is the only tensor outside both


def test_moe_and_sliding_window_keys():
    moe = gguf.parse_header(header("qwen3", "30b-a3b", "q4_K_M"))
    assert (moe.expert_count, moe.expert_used_count) == (128, 8) and moe.expert_bytes > 0
    g = gguf.parse_header(header("gemma3", "27b", "q4_K_M"))
    assert g.sliding_window == 1024 and g.key_length == 128
    assert g.output_bytes > 0  # tied embeddings: token_embd is the output layer


def test_type_table_matches_the_gguf_package():
    removed = {31, 32, 33}  # the Q4_0 ARM repacks: gone from gguf-py, still in old Hub files
    for type_id, (_, block, size) in gguf.GGML_TYPES.items():
        if type_id in removed:
            assert (block, size) == gguf_pkg.GGML_QUANT_SIZES[gguf_pkg.GGMLQuantizationType.Q4_0]
            continue
        assert gguf_pkg.GGML_QUANT_SIZES[gguf_pkg.GGMLQuantizationType(type_id)] == (block, size)


def test_the_fixture_writer_writes_what_the_gguf_package_writes(tmp_path):
    """tests/world.py packs the vocabulary itself, once per size, for speed: same bytes."""
    import numpy as np

    out = []
    for writer, tokens in ((gguf_pkg.GGUFWriter, [f"t{i}" for i in range(300)]),
                           (world.gguf_writer(), world.vocab(300))):
        w = writer(tmp_path / f"{len(out)}.gguf", "llama")
        w.add_uint32("llama.block_count", 2)
        w.add_array("tokenizer.ggml.tokens", tokens)
        w.add_array("tokenizer.ggml.token_type", [1] * 4)
        w.add_tensor_info("blk.0.attn_q.weight", [64, 64], np.dtype(np.float32), 64 * 64 * 2,
                          raw_dtype=gguf_pkg.GGMLQuantizationType.F16)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        out.append((tmp_path / f"{len(out)}.gguf").read_bytes())
    assert out[0] == out[1] and gguf.parse_header(out[1]).vocab_size == 300


def test_truncated_header_asks_for_more():
    data = header()
    with pytest.raises(gguf.NeedMore) as more:
        gguf.parse_header(data[: len(data) // 2])
    assert more.value.needed > len(data) // 2


def _kv_header(key: bytes, vtype: int, payload: bytes, n_kv=1, n_tensors=0, version=3) -> bytes:
    return (b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)
            + struct.pack("<Q", len(key)) + key + struct.pack("<I", vtype) + payload)


def test_huge_array_length_is_refused_without_allocating():
    hostile = _kv_header(b"tokenizer.ggml.tokens", 9, struct.pack("<IQ", 0, 2**40))
    with pytest.raises(gguf.GGUFError, match="not trusted"):
        gguf.parse_header(hostile)


@pytest.mark.parametrize("data,match", [
    (b"NOPE" + b"\0" * 40, "bad magic"),
    (b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "version 1"),
    (b"GGUF" + struct.pack("<IQQ", 3, 2**40, 1), "not trusted"),
    (_kv_header(b"k", 42, b""), "unknown type"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40), "not trusted"),
    (_kv_header(b"general.name", 8, struct.pack("<Q", 3) + b"abc"), "architecture"),
])
def test_hostile_headers_raise_the_projects_error(data, match):
    with pytest.raises(gguf.GGUFError, match=match):
        gguf.parse_header(data)


def _moe_header(tmp_path, tensors, name="m") -> bytes:
    """A two-layer llama with 8 experts (2 used), f16 tensors of the given shapes."""
    import numpy as np

    path = tmp_path / f"{name}.gguf"
    w = gguf_pkg.GGUFWriter(path, "llama")
    w.add_block_count(2)
    w.add_context_length(4096)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_feed_forward_length(128)
    w.add_expert_count(8)
    w.add_expert_used_count(2)
    w.add_array("tokenizer.ggml.tokens", ["a", "b"])
    for tname, shape in tensors:
        n = int(np.prod(shape)) * 2
        w.add_tensor_info(tname, shape, np.dtype(np.float16), n)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    return path.read_bytes()


def test_one_tensor_per_expert_is_read_as_an_moe(tmp_path):
    # Older Mixtral files store blk.N.ffn_gate.E.weight per expert (Ollama's GraphSize has a
    # branch for them; llama.cpp's loader merges them into ffn_*_exps): the same experts,
    # named apart, must weigh the same as the merged file, and run as fast.
    from ollama_quantpick.budget import Budget, GiB
    from ollama_quantpick.estimators import base, fit
    from ollama_quantpick.quants import lookup

    common = [("token_embd.weight", (2, 64)), ("output.weight", (2, 64))]
    common += [(f"blk.{i}.attn_q.weight", (64, 64)) for i in range(2)]
    common += [(f"blk.{i}.ffn_gate_inp.weight", (8, 64)) for i in range(2)]
    merged = common + [(f"blk.{i}.ffn_{p}_exps.weight", (8, 128, 64))
                       for i in range(2) for p in ("gate", "up", "down")]
    split = common + [(f"blk.{i}.ffn_{p}.{e}.weight", (128, 64))
                      for i in range(2) for p in ("gate", "up", "down") for e in range(8)]
    a = gguf.parse_header(_moe_header(tmp_path, merged, "merged"))
    b = gguf.parse_header(_moe_header(tmp_path, split, "split"))
    assert b.expert_bytes == a.expert_bytes == 2 * 3 * 8 * 128 * 64 * 2
    assert b.layer_expert_bytes == a.layer_expert_bytes and b.layer_bytes == a.layer_bytes
    budget = Budget([8 * GiB], 16 * 10**9, "cuda", 936.0, 51.2)
    speed = [fit.estimate(base.Model(i, i.tensor_bytes), lookup("fp16"), budget,
                          base.Run(4096)).tokens_per_s for i in (a, b)]
    assert speed[1] == speed[0]
    # a dense file with the same names (no expert_count) has no experts
    dense = gguf.parse_header(_moe_header(tmp_path, split, "dense").replace(
        b"llama.expert_count", b"llama.expert_cOunt"))
    assert dense.expert_count == 0 and dense.expert_bytes == 0


@pytest.mark.parametrize("idx", ["\u00b2", "\u0661", "1e"])
def test_a_block_index_that_is_not_ascii_digits_is_not_a_layer(tmp_path, idx):
    # '²'.isdigit() is true and int('²') raises; '١' (Arabic-indic one) would count as layer 1
    data = _moe_header(tmp_path, [("blk.0.attn_q.weight", (64, 64)),
                                  (f"blk.{idx}.attn_q.weight", (64, 64))])
    info = gguf.parse_header(data)
    assert info.layer_bytes == [64 * 64 * 2, 0]
    assert info.tensor_bytes == 2 * 64 * 64 * 2


def test_legacy_sizes_a_per_expert_mixtral_graph_with_ollamas_8x7b_line(tmp_path):
    # fs/ggml/ggml.go GraphSize, llama: `blk.0.ffn_gate.0.weight` present → full and partial
    # from its ne1 (n_ff), not the plain llama line.
    from ollama_quantpick.estimators import legacy

    common = [("token_embd.weight", (2, 64)), ("output.weight", (2, 64))]
    split = common + [(f"blk.{i}.ffn_{p}.{e}.weight", (128, 64))
                      for i in range(2) for p in ("gate", "up", "down") for e in range(8)]
    info = gguf.parse_header(_moe_header(tmp_path, split, "split"))
    assert info.split_gate_ff == 128 and info.gate_exps_bytes == 0
    ctx, kv = 4096, 1000
    b, c, e, h, hkv, dh, f1 = 512, 4096, 64, 4, 4, 16, 128
    full = 4 * b * (2 + 3 * e + c * (1 + h) + 2 * hkv + f1)
    partial = max(4 * b * (3 + dh * hkv + e + c * (1 + h) + f1) + (e * e + 3 * e * hkv * f1) * 9 // 16,
                  4 * b * (1 + 2 * e + c * (1 + h)) + e * (6 * c * hkv // h + e * 9 // 16))
    assert legacy.graph_size(info, ctx, kv) == (partial, full)

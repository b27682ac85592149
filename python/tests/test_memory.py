"""A loaded BF16 model costs about its file size in resident memory, and a
second load of the same model shares the mapped weights."""
import os

import pytest

import streamgauge as sg
from conftest import SHARED, resident_bytes


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("bf16")
    # As tests/engine/memory_test.cpp: 6 layers, d 768, MLP 3072, vocab 16384 (~134 MB).
    sg._write_synthetic_model(str(d), n_layers=6, d_model=768, n_heads=12, d_mlp=3072, vocab_size=16384,
                              dtype="BF16", seed=7)
    return d


def test_bf16_model_costs_about_its_file_size(bf16_model):
    file = os.path.getsize(bf16_model / "model.safetensors")
    seq = [i * 37 % 16384 for i in range(64)]
    # Warm up: OpenMP's threads, numpy's C API, the allocator's arenas.
    sg.load(SHARED / "golden/models/neox_parallel").run_with_cache([1, 2, 3])
    before = resident_bytes()
    m = sg.load(bf16_model)
    m.run_with_cache(seq, names_filter="ln_final.hook_out", logits=False)
    grown = resident_bytes() - before
    # The engine test's bound (file + widened weight panels + activations + 4 MB)
    # plus room for the Python side (arrays, imports): far below a float32 copy (3x).
    widened = 2 * 32 * 3072 * 4 * os.cpu_count()
    activations = 16 * 64 * 3072 * 4
    assert grown < file + widened + activations + 16 * 2**20, f"file {file / 1e6:.1f} MB, grown {grown / 1e6:.1f} MB"

    # A second load of the same directory shares the mapping.
    before = resident_bytes()
    m2 = sg.load(bf16_model)
    m2.run_with_cache(seq, names_filter="ln_final.hook_out", logits=False)
    grown2 = resident_bytes() - before
    assert grown2 < 0.25 * file, f"second load grew {grown2 / 1e6:.1f} MB for a {file / 1e6:.1f} MB file"
    del m, m2

"""The Model API: load, config, capture points, tokenize/decode, run_with_cache
(shapes, filters, single vs several sequences, the same numbers as the CLI's
capture), streaming observation, exceptions."""
import json
import os
import shutil

import numpy as np
import pytest

import streamgauge as sg
from conftest import SHARED, STORIES, read_safetensors, run_cli

NEOX = SHARED / "golden/models/neox_parallel"


@pytest.fixture(scope="module")
def stories():
    return sg.load(str(STORIES))


def test_done_when_example(stories):
    # The "Done when" one-liner.
    logits, cache = stories.run_with_cache("Once upon a time")
    T = len(stories.tokenize("Once upon a time"))
    assert cache["blocks.0.hook_resid_post"].shape == (T, 64)
    assert logits.shape == (T, stories.config["vocab_size"])
    assert logits.dtype == np.float32


def test_config_and_capture_points(stories):
    c = stories.config
    assert c["family"] == "llama"
    assert (c["n_layers"], c["d_model"], c["n_heads"], c["n_kv_heads"], c["d_head"]) == (5, 64, 8, 4, 8)
    assert c["rho"] == pytest.approx(8 / 8)
    assert len(c["layers"]) == 5
    inspect = json.loads(run_cli("inspect", STORIES, "--json").stdout)
    assert {k: v for k, v in c.items() if k != "family"} == inspect
    assert stories.capture_points() == json.loads(run_cli("inspect", STORIES, "--points", "--json").stdout)


def test_tokenize_decode(stories):
    ids = stories.tokenize("Once upon a time")
    assert ids[0] == 1  # BOS, as HF's tokenizer(text)
    assert stories.tokenize("Once upon a time", add_special=False) == ids[1:]
    assert stories.decode(ids[1:]) == "Once upon a time"


def test_same_numbers_as_cli_capture(tmp_path):
    m = sg.load(str(NEOX))
    seqs = [[5, 17, 3, 200], [9, 9]]
    out = tmp_path / "acts.safetensors"
    run_cli("capture", NEOX, "--ids", "5,17,3,200", "--ids", "9,9", "--hooks", "blocks.*.hook_attn_out,logits",
            "--out", out)
    ref = read_safetensors(out)
    logits, cache = m.run_with_cache(seqs, names_filter=["blocks.*.hook_attn_out", "logits"])
    for s in range(2):
        for layer in range(4):
            name = f"blocks.{layer}.hook_attn_out"
            np.testing.assert_array_equal(cache[name][s], ref[f"seq{s}.{name}"])
        np.testing.assert_array_equal(logits[s], ref[f"seq{s}.logits"])


def test_shapes_filters_and_single_inputs():
    m = sg.load(str(NEOX))
    d, V = 64, m.config["vocab_size"]
    logits, cache = m.run_with_cache([[1, 2, 3], [4, 5]], names_filter="blocks.1.*")
    assert [x.shape for x in logits] == [(3, V), (2, V)]
    assert all(k.startswith("blocks.1.") for k in cache)
    assert [x.shape for x in cache["blocks.1.hook_resid_post"]] == [(3, d), (2, d)]
    assert [x.shape for x in cache["blocks.1.attn.hook_pattern"]] == [(4, 3, 3), (4, 2, 2)]
    # A single id list (or numpy array) gives single arrays.
    logits, cache = m.run_with_cache(np.array([1, 2, 3]), names_filter=lambda n: n.endswith("hook_mlp_out"))
    assert logits.shape == (3, V)
    assert sorted(cache) == [f"blocks.{i}.hook_mlp_out" for i in range(4)]
    assert cache["blocks.2.hook_mlp_out"].shape == (3, d)
    # logits=False: no head, and the same activations.
    none, cache2 = m.run_with_cache([1, 2, 3], names_filter="blocks.*.hook_mlp_out", logits=False)
    assert none is None
    for k in cache:
        np.testing.assert_array_equal(cache[k], cache2[k])
    # Forward order; every point by default.
    _, everything = m.run_with_cache([7])
    assert list(everything) == m.capture_points()


def test_arrays_own_their_memory():
    m = sg.load(str(NEOX))
    _, cache = m.run_with_cache([[1, 2, 3]], names_filter="blocks.0.hook_resid_post")
    a = cache["blocks.0.hook_resid_post"][0]
    kept = a.copy()
    del cache
    m.run_with_cache([[9, 8, 7, 6]])  # reuses the engine's buffers
    np.testing.assert_array_equal(a, kept)
    assert a.flags.writeable and a.base is not None and not a.flags.owndata  # a capsule owns the buffer


def test_observer_sees_each_point_once_per_sequence():
    m = sg.load(str(NEOX))
    seqs = [[1, 2, 3], [4, 5], [6]]
    seen = []
    norms = {}

    def on_resid(name, i, a):
        assert not a.flags.writeable
        seen.append((name, i))
        norms[(name, i)] = np.linalg.norm(a, axis=-1)

    patterns = []
    m.run(seqs, observe={"blocks.*.hook_resid_post": on_resid,
                         "blocks.3.attn.hook_pattern": lambda n, i, a: patterns.append((n, i, a.shape))})
    expected = [(f"blocks.{layer}.hook_resid_post", i) for layer in range(4) for i in range(3)]
    assert sorted(seen) == sorted(expected) and len(seen) == len(expected)
    assert patterns == [("blocks.3.attn.hook_pattern", i, (4, len(s), len(s))) for i, s in enumerate(seqs)]
    _, cache = m.run_with_cache(seqs, names_filter="blocks.*.hook_resid_post")
    for (name, i), n in norms.items():
        np.testing.assert_allclose(n, np.linalg.norm(cache[name][i], axis=-1), rtol=0, atol=0)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        sg.load(str(tmp_path / "no-such-dir"))
    with pytest.raises(FileNotFoundError):
        sg.load("no-such-org/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        sg.load(str(tmp_path / "empty"))
    # A broken model: streamgauge.Error (a ValueError) with the CLI's one-line message.
    broken = tmp_path / "broken"
    shutil.copytree(NEOX, broken)
    cfg = json.loads((broken / "config.json").read_text())
    cfg["model_type"] = "no_such_family"
    (broken / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(sg.Error) as e:
        sg.load(str(broken))
    assert isinstance(e.value, ValueError)
    r = run_cli("inspect", broken, check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == f"streamgauge: error: {e.value}"

    m = sg.load(str(NEOX))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        m.run_with_cache([1, 2, 100000])
    with pytest.raises(ValueError, match="matches no capture point"):
        m.run_with_cache([1, 2], names_filter="blocks.99.*")
    with pytest.raises(ValueError, match="matches no capture point"):
        m.run([1, 2], observe={"nothing*": print})
    with pytest.raises(ValueError):
        m.run_with_cache([])
    with pytest.raises(TypeError):
        m.run_with_cache([1.5, 2])
    with pytest.raises(TypeError):
        m.run_with_cache([1, 2], names_filter=3)
    with pytest.raises(ValueError, match="no tokenizer"):
        m.run_with_cache("text needs a tokenizer")

    # An exception in an observer propagates as itself; the model stays usable.
    class Stop(Exception):
        pass

    def stop(name, i, a):
        raise Stop(name)

    with pytest.raises(Stop, match="blocks.1.hook_mlp_out"):
        m.run([1, 2, 3], observe={"blocks.1.hook_mlp_out": stop})
    logits, _ = m.run_with_cache([1, 2, 3], names_filter="logits")
    assert logits.shape == (3, m.config["vocab_size"])


def test_second_load_shares_the_model():
    a = sg.load(str(NEOX))
    b = sg.load(str(NEOX), fast=True)
    assert b.fast and not a.fast
    la, _ = a.run_with_cache([1, 2, 3], names_filter="logits")
    lb, _ = b.run_with_cache([1, 2, 3], names_filter="logits")  # F32 weights: fast has no effect
    np.testing.assert_array_equal(la, lb)


def test_model_path_like_and_repr():
    m = sg.load(NEOX)  # a pathlib.Path
    assert "neox_parallel" in repr(m) and m.name == "neox_parallel"
    assert os.path.samefile(m.path, NEOX)

"""run_with_cache on every golden model matches the float64 reference within
the golden README's tolerance (section 9), logits argmax exact."""
import numpy as np
import pytest

import streamgauge as sg
from conftest import SHARED, close_message, read_safetensors

CASES = sorted(p.name for p in (SHARED / "golden" / "models").iterdir() if p.is_dir()) + ["stories260k"]


def model_dir(name):
    return SHARED / ("models" if name == "stories260k" else "golden/models") / name


@pytest.mark.parametrize("name", CASES)
def test_run_with_cache_matches_golden(name):
    try:
        m = sg.load(str(model_dir(name)))
    except sg.Error as e:
        if "does not support" in str(e):
            pytest.skip(f"not supported by this build: {e}")
        raise
    golden = read_safetensors(SHARED / "golden/expected" / name / "golden.safetensors")
    seqs = [golden[f"seq{i}.input_ids"].tolist() for i in range(3)]
    logits, cache = m.run_with_cache(seqs)  # one ragged batch
    assert len(logits) == 3
    learned_positions = "hook_pos_embed" in cache
    failures = []
    checked = 0

    def check(golden_name, array):
        nonlocal checked
        msg = close_message(f"{name} {golden_name}", array, golden[golden_name])
        if msg:
            failures.append(msg)
        checked += 1

    n_layers = m.config["n_layers"]
    for s in range(3):
        S = f"seq{s}."
        check(S + "embed", cache["blocks.0.hook_resid_pre"][s])
        if not learned_positions:
            check(S + "embed", cache["hook_embed"][s])
        for layer in range(n_layers):
            G, B = f"{S}layer{layer}.", f"blocks.{layer}."
            check(G + "resid_pre", cache[B + "hook_resid_pre"][s])
            check(G + "attn_in", cache[B + "ln1.hook_out"][s])
            check(G + "attn_out", cache[B + "hook_attn_out"][s])
            check(G + "mlp_in", cache[B + "ln2.hook_out"][s])
            check(G + "mlp_out", cache[B + "hook_mlp_out"][s])
            check(G + "resid_post", cache[B + "hook_resid_post"][s])
            for raw, ours in (("attn_out_raw", "attn.hook_out"), ("mlp_out_raw", "mlp.hook_out")):
                if G + raw in golden:
                    assert B + ours in cache, f"{name}: {B + ours} missing"
                    check(G + raw, cache[B + ours][s])
        check(S + "final_norm", cache["ln_final.hook_out"][s])
        check(S + "logits", logits[s])
        assert cache["logits"][s] is logits[s]
        np.testing.assert_array_equal(logits[s].argmax(axis=1), golden[S + "logits"].argmax(axis=1))
    assert not failures, "\n".join(failures)
    assert checked >= 3 * (4 + 6 * n_layers) - 3

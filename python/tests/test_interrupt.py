"""Ctrl-C during a forward stops it between layers with KeyboardInterrupt and
leaves the model usable."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import streamgauge as sg


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("slow")
    sg._write_synthetic_model(str(d), n_layers=16, d_model=256, n_heads=8, d_mlp=1024, vocab_size=1024, seed=3)
    return sg.load(d)


def test_ctrl_c_interrupts_a_forward(slow_model):
    seq = [i % 1000 for i in range(512)]
    probe = seq[:8]
    before, _ = slow_model.run_with_cache(probe, names_filter="logits")
    forward = float("inf")
    for _ in range(2):
        t0 = time.monotonic()
        slow_model.run_with_cache(seq, names_filter="ln_final.hook_out", logits=False)
        forward = min(forward, time.monotonic() - t0)

    timer = threading.Timer(forward / 8, os.kill, (os.getpid(), signal.SIGINT))
    finished = False
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        slow_model.run_with_cache(seq, names_filter="ln_final.hook_out", logits=False)
        finished = True
        time.sleep(10 * forward)  # the signal came after the forward: the check below fails
    interrupted = time.monotonic() - t0
    timer.join()
    assert not finished, "the forward ended before the signal came"
    assert interrupted < 0.9 * forward, f"interrupted after {interrupted:.2f} s of a {forward:.2f} s forward"
    after, _ = slow_model.run_with_cache(probe, names_filter="logits")
    np.testing.assert_array_equal(before, after)

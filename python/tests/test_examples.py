"""The examples in examples/ run (on the trained stories260k model)."""
import subprocess
import sys

from conftest import SOURCE_DIR, STORIES

EXAMPLES = SOURCE_DIR / "examples"


def run(tmp_path, script, *args):
    r = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_seed000_figure(tmp_path):
    out = run(tmp_path, "seed000_gains.py", STORIES, tmp_path / "fig.png")
    assert "hypothesis confirmed" in out
    png = (tmp_path / "fig.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50000


def test_cache_exploration(tmp_path):
    out = run(tmp_path, "cache_exploration.py", STORIES, "Once upon a time")
    assert "next" in out and "attends most" in out and "layer 4:" in out


def test_stream_norms(tmp_path):
    out = run(tmp_path, "stream_norms.py", STORIES)
    assert len(out.strip().splitlines()) == 1 + 5

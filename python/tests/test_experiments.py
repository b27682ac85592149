"""sg.gains, sg.weights, sg.residual, sg.align and sg.compare return what the
CLI writes (gains.json, weights.json, residual.json, align.json, compare.json)
for the same inputs: same keys, same numbers; only the command line, the time
and durations differ."""
import json

import pytest

import streamgauge as sg
from conftest import SHARED, STORIES, run_cli

def strip(doc):
    """The document without its command line, creation time, durations and whether
    the weight norms were computed or read from the cache."""
    if isinstance(doc, dict):
        return {k: strip(v) for k, v in doc.items()
                if k not in ("command_line", "created_utc", "date", "weight_norms_source")
                and not k.endswith("seconds")}
    if isinstance(doc, list):
        return [strip(v) for v in doc]
    return doc


@pytest.fixture(scope="module")
def ids_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ids") / "ids.jsonl"
    path.write_text("[1, 403, 407, 261, 378]\n[1, 20, 30, 40, 50, 60, 70]\n[1, 5, 9]\n")
    return path


def cli_json(tmp_path, command, *args, name):
    run_cli(command, *args, "--out", tmp_path)
    return json.loads((tmp_path / name).read_text())


def test_gains_equals_cli_on_an_ids_file(tmp_path, ids_file):
    expected = cli_json(tmp_path, "gains", STORIES, "--ids-file", ids_file, "--no-figures", "--bootstrap", "200",
                        "--skip-first", name="gains.json")
    got = sg.gains(str(STORIES), ids=str(ids_file), bootstrap=200, skip_first=True)
    assert strip(got) == strip(expected)


def test_gains_equals_cli_on_the_default_preset(tmp_path):
    m = sg.load(STORIES)
    expected = cli_json(tmp_path, "gains", STORIES, "--no-figures", "--no-weights", name="gains.json")
    got = sg.gains(m, weights=False)
    assert strip(got) == strip(expected)


def test_gains_on_a_golden_model(tmp_path, ids_file):
    model = SHARED / "golden/models/gemma2"  # post-normed: module_output_gains too
    ids = tmp_path / "ids.jsonl"
    ids.write_text("[5, 17, 3, 200]\n[9, 9, 1]\n")
    expected = cli_json(tmp_path, "gains", model, "--ids-file", ids, "--no-figures", name="gains.json")
    assert strip(sg.gains(model, ids=ids)) == strip(expected)


def test_gains_from_python_lists():
    m = sg.load(STORIES)
    texts = ["Once upon a time", "The cat sat on the mat"]
    by_text = sg.gains(m, prompts=texts, bootstrap=0, weights=False)
    by_ids = sg.gains(m, ids=[m.tokenize(t) for t in texts], bootstrap=0, weights=False)
    assert by_text["attention"] == by_ids["attention"] and by_text["mlp"] == by_ids["mlp"]
    assert by_text["n_prompts"] == 2
    assert len(by_text["attention"]["gains"]) == m.config["n_layers"]


def test_gains_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ids-file"):
        sg.gains(str(STORIES), ids=str(tmp_path / "missing.jsonl"))
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        sg.gains(str(STORIES), prompts="no-such-preset")
    with pytest.raises(ValueError, match="not both"):
        sg.gains(str(STORIES), prompts=["a"], ids=[[1, 2]])
    with pytest.raises(TypeError):
        sg.gains(3)


def test_weights_equals_cli(tmp_path):
    for model in (STORIES, SHARED / "golden/models/neox_parallel"):  # gated and ungated (W_gate None)
        expected = cli_json(tmp_path, "weights", model, name="weights.json")
        assert strip(sg.weights(str(model))) == strip(expected)


def test_gains_fast_on_a_bf16_model(tmp_path):
    model = SHARED / "golden/models/neox_parallel_bf16"
    ids = tmp_path / "ids.jsonl"
    ids.write_text("[5, 17, 3, 200]\n[9, 9, 1]\n")
    expected = cli_json(tmp_path, "gains", model, "--ids-file", ids, "--no-figures", "--fast", name="gains.json")
    assert strip(sg.gains(sg.load(model, fast=True), ids=ids)) == strip(expected)  # fast: the Model's
    assert strip(sg.gains(model, ids=ids, fast=True)) == strip(expected)
    assert "BF16 matrix products" in expected["provenance"]["compute_precision"]


def test_residual_equals_cli(tmp_path):
    neox = SHARED / "golden/models/neox_parallel"
    ids_file = tmp_path / "ids.jsonl"  # within both vocabularies
    ids_file.write_text("[1, 20, 30, 40, 50, 60, 70]\n[1, 5, 9]\n")
    expected = cli_json(tmp_path, "residual", STORIES, neox, "--ids-file", ids_file, "--no-figures",
                        name="residual.json")
    got = sg.residual([str(STORIES), str(neox)], ids=str(ids_file))
    assert strip(got) == strip(expected)
    # The default prompts (preset canonical) through the tokenizer, one model given as a Model.
    expected = cli_json(tmp_path, "residual", STORIES, "--no-figures", name="residual.json")
    assert strip(sg.residual(sg.load(STORIES))) == strip(expected)


def test_align_equals_cli(tmp_path):
    expected = cli_json(tmp_path, "align", STORIES, "--preset", "zh-en-math", "--n", "20", "--perms", "20",
                        "--drop-top-dims", "2", "--no-figures", name="align.json")
    got = sg.align(str(STORIES), n=20, perms=20, drop_top_dims=2)
    assert strip(got) == strip(expected)
    with pytest.raises(FileNotFoundError):
        sg.align(str(STORIES), pairs=tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="perms"):
        sg.align(str(STORIES), perms=0)


def test_compare_equals_cli(tmp_path, ids_file):
    run_cli("gains", STORIES, "--ids-file", ids_file, "--no-figures", "--bootstrap", "0", "--out", tmp_path / "g")
    gains_file = tmp_path / "g" / "gains.json"
    expected = cli_json(tmp_path / "c", "compare", gains_file, "pythia-1.4b", "pythia-6.9b", "--predict", "12e9",
                        "--no-figures", name="compare.json")
    got = sg.compare([str(gains_file), "pythia-1.4b", "pythia-6.9b"], predict=[12e9])
    assert strip(got) == strip(expected)
    # sg.gains' dict in place of the file: the same study, the source named by position.
    from_dict = sg.compare([sg.gains(str(STORIES), ids=str(ids_file), bootstrap=0), "pythia-1.4b", "pythia-6.9b"],
                           predict=[12e9])
    assert from_dict["models"][0]["source"] == "results[0]"
    for doc in (from_dict, expected):  # the only difference: the first input's source
        for part in (doc["models"][0], doc["segmentation"]["models"][0], doc["provenance"]["inputs"][0]):
            part.pop("source")
            part.pop("sha256", None)
    assert strip(from_dict) == strip(expected)
    with pytest.raises(ValueError):
        sg.compare([{"model": "x"}])
    with pytest.raises(TypeError):
        sg.compare("pythia-1.4b")

#!/usr/bin/env python3
"""Writes a `tokenizers` tokenizer.json for a vocab.json + merges.txt (+ tokenizer_config.json)
directory, with the pipeline transformers builds for its class (GPT2Tokenizer or
Qwen2Tokenizer), so HuggingFace's Rust tokenizers can load the same tokenizer.
Benchmark helper only.  usage: make_tokenizer_json.py DIR OUT.json"""
import json
import os
import sys

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def main(src, out):
    vocab = json.load(open(os.path.join(src, "vocab.json"), encoding="utf-8"))
    merges = [line for i, line in enumerate(open(os.path.join(src, "merges.txt"), encoding="utf-8").read().split("\n"))
              if line and not (i == 0 and line.startswith("#version"))]
    config_path = os.path.join(src, "tokenizer_config.json")
    config = json.load(open(config_path, encoding="utf-8")) if os.path.exists(config_path) else {}
    qwen2 = config.get("tokenizer_class", "").startswith("Qwen2")
    added = []
    for key, t in config.get("added_tokens_decoder", {}).items():
        added.append({"id": int(key), "content": t["content"], "single_word": t.get("single_word", False),
                      "lstrip": t.get("lstrip", False), "rstrip": t.get("rstrip", False),
                      "normalized": t.get("normalized", True), "special": t.get("special", False)})
    if not qwen2 and "<|endoftext|>" in vocab and not added:
        added.append({"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": True, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": not qwen2}
    pre = ({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
        byte_level]} if qwen2 else byte_level)
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "normalizer": {"type": "NFC"} if qwen2 else None, "pre_tokenizer": pre,
           "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
           "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                     "vocab": vocab, "merges": merges}}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

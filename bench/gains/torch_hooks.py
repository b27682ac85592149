#!/usr/bin/python3
"""The route users take today (seed 000): PyTorch eager, a GPT-NeoX written as
HF's module tree, forward hooks on input_layernorm, attention,
post_attention_layernorm and mlp keeping output.detach(), one batch-1 forward
per prompt, no LM head. Prints JSON: seconds (median of --repeats), peak RSS,
per-layer gains (seed 000's formula) for cross-checking streamgauge.

Benchmark only (Debian's python3-torch under /usr/bin/python3); never a
dependency of streamgauge.
"""
import argparse, json, math, resource, statistics, struct, time

import numpy as np
import torch
import torch.nn as nn


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        if t["dtype"] == "F32":
            arr = np.memmap(path, dtype=np.float32, mode="r", offset=base + b, shape=tuple(t["shape"]))
            out[name] = torch.from_numpy(np.array(arr))
        elif t["dtype"] in ("BF16", "F16"):
            arr = np.memmap(path, dtype=np.int16, mode="r", offset=base + b, shape=tuple(t["shape"]))
            out[name] = torch.from_numpy(np.array(arr)).view(torch.bfloat16 if t["dtype"] == "BF16" else torch.float16)
        else:
            raise SystemExit(f"unsupported dtype {t['dtype']}")
    return out


class Attention(nn.Module):
    def __init__(self, d, heads, rotary_pct, base, dtype):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.r = int(self.hd * rotary_pct)
        self.query_key_value = nn.Linear(d, 3 * d, dtype=dtype)
        self.dense = nn.Linear(d, d, dtype=dtype)
        inv = 1.0 / (base ** (torch.arange(0, self.r, 2).float() / self.r))
        self.register_buffer("inv_freq", inv)

    def rot(self, x, cos, sin):
        r = self.r
        xr, xp = x[..., :r], x[..., r:]
        x1, x2 = xr[..., : r // 2], xr[..., r // 2:]
        rotated = torch.cat((-x2, x1), dim=-1)
        return torch.cat((xr * cos + rotated * sin, xp), dim=-1)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.query_key_value(x).view(b, t, self.h, 3 * self.hd)
        q, k, v = qkv[..., : self.hd], qkv[..., self.hd: 2 * self.hd], qkv[..., 2 * self.hd:]
        q, k, v = (y.permute(0, 2, 1, 3) for y in (q, k, v))
        pos = torch.arange(t, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        q, k = self.rot(q, cos, sin), self.rot(k, cos, sin)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        scores = scores.masked_fill(mask, float("-inf"))
        z = torch.softmax(scores.float(), dim=-1).to(x.dtype) @ v
        z = z.permute(0, 2, 1, 3).reshape(b, t, d)
        return (self.dense(z), None)


class MLP(nn.Module):
    def __init__(self, d, m, dtype):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(d, m, dtype=dtype)
        self.dense_4h_to_h = nn.Linear(m, d, dtype=dtype)

    def forward(self, x):
        return self.dense_4h_to_h(torch.nn.functional.gelu(self.dense_h_to_4h(x)))


class Layer(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        d = cfg["hidden_size"]
        self.input_layernorm = nn.LayerNorm(d, eps=cfg["layer_norm_eps"], dtype=dtype)
        self.post_attention_layernorm = nn.LayerNorm(d, eps=cfg["layer_norm_eps"], dtype=dtype)
        self.attention = Attention(d, cfg["num_attention_heads"], cfg["rotary_pct"], cfg["rotary_emb_base"], dtype)
        self.mlp = MLP(d, cfg["intermediate_size"], dtype)

    def forward(self, x):
        a = self.attention(self.input_layernorm(x))[0]
        m = self.mlp(self.post_attention_layernorm(x))
        return x + a + m


class GPTNeoX(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        self.embed_in = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"], dtype=dtype)
        self.layers = nn.ModuleList(Layer(cfg, dtype) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, ids):
        x = self.embed_in(ids)
        for layer in self.layers:
            x = layer(x)
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("ids_file")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = json.load(open(f"{args.model_dir}/config.json"))
    dtype = getattr(torch, args.dtype)
    with torch.no_grad():
        model = GPTNeoX(cfg, dtype)
    weights = load_safetensors(f"{args.model_dir}/model.safetensors")
    state = {k[len("gpt_neox."):]: v.to(dtype) for k, v in weights.items() if k.startswith("gpt_neox.")}
    state = {k: v for k, v in state.items() if k != "final_layer_norm.weight" and k != "final_layer_norm.bias"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("inv_freq")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing[:3]} unexpected {unexpected[:3]}")
    del weights, state
    model.eval()

    acts = {}
    hooks = []
    for i, layer in enumerate(model.layers):
        def keep(name, idx, first=False):
            def hook(module, inp, out):
                acts[(idx, name)] = (out[0] if first else out).detach()
            return hook
        hooks.append(layer.input_layernorm.register_forward_hook(keep("attn_input", i)))
        hooks.append(layer.attention.register_forward_hook(keep("attn_output", i, True)))
        hooks.append(layer.post_attention_layernorm.register_forward_hook(keep("mlp_input", i)))
        hooks.append(layer.mlp.register_forward_hook(keep("mlp_output", i)))

    prompts = [json.loads(line) for line in open(args.ids_file) if line.strip()]
    L = cfg["num_hidden_layers"]
    times, all_gains = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        gains = []
        with torch.no_grad():
            for ids in prompts:
                acts.clear()
                model(torch.tensor([ids]))
                g = []
                for l in range(L):
                    n = lambda key: torch.norm(acts[(l, key)].float(), dim=-1).mean().item()
                    g.append((n("attn_output") / (n("attn_input") + 1e-10), n("mlp_output") / (n("mlp_input") + 1e-10)))
                gains.append(g)
        times.append(time.perf_counter() - t0)
        all_gains = gains
    attn = [statistics.fmean(p[l][0] for p in all_gains) for l in range(L)]
    mlp = [statistics.fmean(p[l][1] for p in all_gains) for l in range(L)]
    print(json.dumps({"seconds": statistics.median(times), "all_seconds": times,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "attn_gains": attn, "mlp_gains": mlp}))


if __name__ == "__main__":
    main()

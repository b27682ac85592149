#!/usr/bin/python3
"""PyTorch at its best on a research-scale workload, for bench/scale/scale.py.

The route users take today (seed 000): PyTorch eager, the model written as HF's
module tree (GPT-NeoX, or Llama / Qwen2: RMSNorm, rotate-half rotary, grouped
query attention, SwiGLU), forward hooks on the attention and MLP inputs and
outputs keeping output.detach(), per-layer gains ||out|| / ||in|| per prompt
(mean over its tokens). Unlike bench/gains/torch_hooks.py (one batch-1
forward per prompt, seed 000's own loop), prompts run in batches, right-padded
with an attention mask, which is PyTorch's best on many prompts; with
--batch-sizes the script tries each on the first prompts and keeps the fastest.

Prints JSON: seconds of the whole workload's forwards (best of --repeats),
the batch size, peak RSS and the per-layer gains (mean over prompts) for
cross-checking streamgauge. Benchmark only (Debian's python3-torch under
/usr/bin/python3); never a dependency of streamgauge.
"""
import argparse, json, math, resource, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

META = {"device": "meta"}  # modules are built without storage; the checkpoint's tensors become their parameters


def load_safetensors(path, dtype):
    """The checkpoint's tensors in `dtype` (one at a time: peak memory ~ the model in dtype)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    base, out = 8 + n, {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, _ = t["data_offsets"]
        shape = tuple(t["shape"])
        if t["dtype"] == "F32":
            arr = np.memmap(path, dtype=np.float32, mode="r", offset=base + b, shape=shape)
            out[name] = torch.from_numpy(np.array(arr)).to(dtype)
        elif t["dtype"] in ("BF16", "F16"):
            arr = np.memmap(path, dtype=np.int16, mode="r", offset=base + b, shape=shape)
            v = torch.from_numpy(np.array(arr)).view(torch.bfloat16 if t["dtype"] == "BF16" else torch.float16)
            out[name] = v.to(dtype)
        else:
            raise SystemExit(f"unsupported dtype {t['dtype']}")
    return out


def rotate(x, cos, sin, r):
    """Rotate-half rotary on the first r dims of each head."""
    xr, xp = x[..., :r], x[..., r:]
    x1, x2 = xr[..., : r // 2], xr[..., r // 2:]
    return torch.cat((xr * cos + torch.cat((-x2, x1), dim=-1) * sin, xp), dim=-1)


def rope_tables(inv_freq, t, dtype):
    freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def llama3_inv_freq(cfg, hd):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2).float() / hd))
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) != "llama3":
        return inv
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    smooth = (old / wavelen - low) / (high - low)
    scaled = torch.where(wavelen > old / low, inv / factor, inv)
    mid = (1 - smooth) * inv / factor + smooth * inv
    return torch.where((wavelen >= old / high) & (wavelen <= old / low), mid, scaled)


def attend(q, k, v, mask, hd):
    """q [b,h,t,hd], k/v [b,kv,t,hd]; mask [b,t] (1 = token). Causal + padding mask."""
    group = q.shape[1] // k.shape[1]
    if group > 1:
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    t = q.shape[2]
    allowed = torch.tril(torch.ones(t, t, dtype=torch.bool))[None, None] & mask[:, None, None, :].bool()
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v


class NeoXAttention(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        d = cfg["hidden_size"]
        self.h, self.hd = cfg["num_attention_heads"], d // cfg["num_attention_heads"]
        self.r = int(self.hd * cfg["rotary_pct"])
        self.query_key_value = nn.Linear(d, 3 * d, dtype=dtype, **META)
        self.dense = nn.Linear(d, d, dtype=dtype, **META)
        base = cfg["rotary_emb_base"]
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, self.r, 2).float() / self.r)))

    def forward(self, x, mask):
        b, t, d = x.shape
        qkv = self.query_key_value(x).view(b, t, self.h, 3 * self.hd).permute(0, 2, 1, 3)
        q, k, v = qkv[..., : self.hd], qkv[..., self.hd: 2 * self.hd], qkv[..., 2 * self.hd:]
        cos, sin = rope_tables(self.inv_freq, t, x.dtype)
        q, k = rotate(q, cos, sin, self.r), rotate(k, cos, sin, self.r)
        z = attend(q, k, v, mask, self.hd).permute(0, 2, 1, 3).reshape(b, t, d)
        return self.dense(z)


class NeoXMLP(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        d, m = cfg["hidden_size"], cfg["intermediate_size"]
        self.dense_h_to_4h = nn.Linear(d, m, dtype=dtype, **META)
        self.dense_4h_to_h = nn.Linear(m, d, dtype=dtype, **META)

    def forward(self, x):
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))


class NeoXLayer(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.input_layernorm = nn.LayerNorm(d, eps=eps, dtype=dtype, **META)
        self.post_attention_layernorm = nn.LayerNorm(d, eps=eps, dtype=dtype, **META)
        self.attention = NeoXAttention(cfg, dtype)
        self.mlp = NeoXMLP(cfg, dtype)
        self.parallel = cfg.get("use_parallel_residual", True)

    def forward(self, x, mask):
        a = self.attention(self.input_layernorm(x), mask)
        if self.parallel:
            return x + a + self.mlp(self.post_attention_layernorm(x))
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x))


class RMSNorm(nn.Module):
    def __init__(self, d, eps, dtype):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d, dtype=dtype, **META))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class LlamaAttention(nn.Module):
    def __init__(self, cfg, dtype, bias):
        super().__init__()
        d = cfg["hidden_size"]
        self.h = cfg["num_attention_heads"]
        self.kv = cfg.get("num_key_value_heads", self.h)
        self.hd = cfg.get("head_dim") or d // self.h
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=bias, dtype=dtype, **META)
        self.k_proj = nn.Linear(d, self.kv * self.hd, bias=bias, dtype=dtype, **META)
        self.v_proj = nn.Linear(d, self.kv * self.hd, bias=bias, dtype=dtype, **META)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False, dtype=dtype, **META)
        self.register_buffer("inv_freq", llama3_inv_freq(cfg, self.hd))

    def forward(self, x, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        cos, sin = rope_tables(self.inv_freq, t, x.dtype)
        q, k = rotate(q, cos, sin, self.hd), rotate(k, cos, sin, self.hd)
        z = attend(q, k, v, mask, self.hd).transpose(1, 2).reshape(b, t, self.h * self.hd)
        return self.o_proj(z)


class LlamaMLP(nn.Module):
    def __init__(self, cfg, dtype):
        super().__init__()
        d, m = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, m, bias=False, dtype=dtype, **META)
        self.up_proj = nn.Linear(d, m, bias=False, dtype=dtype, **META)
        self.down_proj = nn.Linear(m, d, bias=False, dtype=dtype, **META)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, cfg, dtype, bias):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RMSNorm(d, eps, dtype)
        self.post_attention_layernorm = RMSNorm(d, eps, dtype)
        self.self_attn = LlamaAttention(cfg, dtype, bias)
        self.mlp = LlamaMLP(cfg, dtype)

    def forward(self, x, mask):
        x = x + self.self_attn(self.input_layernorm(x), mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """The layers of either family (no final norm, no LM head: the gains need neither)."""

    def __init__(self, cfg, dtype):
        super().__init__()
        d, V, L = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
        self.neox = cfg["model_type"] == "gpt_neox"
        self.embed = nn.Embedding(V, d, dtype=dtype, **META)
        bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
        self.layers = nn.ModuleList(NeoXLayer(cfg, dtype) if self.neox else LlamaLayer(cfg, dtype, bias)
                                    for _ in range(L))

    def forward(self, ids, mask):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x


def build(model_dir, dtype):
    cfg = json.load(open(f"{model_dir}/config.json"))
    if cfg["model_type"] not in ("gpt_neox", "llama", "qwen2"):
        raise SystemExit(f"torch_batched.py: model_type {cfg['model_type']} not written here")
    model = Decoder(cfg, dtype)
    prefix = "gpt_neox." if model.neox else "model."
    unexpected = []
    for k, v in load_safetensors(f"{model_dir}/model.safetensors", dtype).items():
        if not k.startswith(prefix):
            continue
        k = k[len(prefix):]
        k = {"embed_in.weight": "embed.weight", "embed_tokens.weight": "embed.weight"}.get(k, k)
        if k.startswith(("final_layer_norm", "norm.")):
            continue
        owner, _, leaf = k.rpartition(".")
        try:
            module = model.get_submodule(owner)
        except AttributeError:
            unexpected.append(k)
            continue
        if leaf not in module._parameters or module._parameters[leaf].shape != v.shape:
            unexpected.append(k)
            continue
        module._parameters[leaf] = nn.Parameter(v, requires_grad=False)
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing[:3]} unexpected {unexpected[:3]}")
    return cfg, model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("ids_file")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--batch-sizes", default="1,4,16,64", help="tried on the first prompts; the fastest runs all")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    cfg, model = build(args.model_dir, dtype)
    L = cfg["num_hidden_layers"]

    acts = {}
    for i, layer in enumerate(model.layers):
        att = layer.attention if model.neox else layer.self_attn

        def keep(key, idx):
            def hook(module, inp, out):
                acts[(idx, key)] = out.detach()
            return hook
        layer.input_layernorm.register_forward_hook(keep("attn_in", i))
        att.register_forward_hook(keep("attn_out", i))
        layer.post_attention_layernorm.register_forward_hook(keep("mlp_in", i))
        layer.mlp.register_forward_hook(keep("mlp_out", i))

    prompts = [json.loads(line) for line in open(args.ids_file) if line.strip()]

    def run(batch_size, subset):
        """Seconds for the prompts in batches; per-prompt gains [prompt][layer] = (attn, mlp)."""
        gains = []
        t0 = time.perf_counter()
        with torch.no_grad():
            for s in range(0, len(subset), batch_size):
                batch = subset[s: s + batch_size]
                t = max(len(p) for p in batch)
                ids = torch.zeros(len(batch), t, dtype=torch.long)
                mask = torch.zeros(len(batch), t, dtype=torch.long)
                for j, p in enumerate(batch):
                    ids[j, : len(p)] = torch.tensor(p)
                    mask[j, : len(p)] = 1
                acts.clear()
                model(ids, mask)
                m = mask.float()
                count = m.sum(-1)

                def norm(l, key):  # mean over each prompt's own tokens of ||x_t||
                    return (torch.norm(acts[(l, key)].float(), dim=-1) * m).sum(-1) / count
                g = [(norm(l, "attn_out") / (norm(l, "attn_in") + 1e-10),
                      norm(l, "mlp_out") / (norm(l, "mlp_in") + 1e-10)) for l in range(L)]
                for j in range(len(batch)):
                    gains.append([(a[j].item(), b[j].item()) for a, b in g])
        return time.perf_counter() - t0, gains

    sizes = [b for b in (int(x) for x in args.batch_sizes.split(",")) if b <= len(prompts)] or [1]
    trial = prompts[: max(sizes)]  # each size once on the same prompts
    best = min(sizes, key=lambda b: run(b, trial)[0]) if len(sizes) > 1 else sizes[0]
    times, gains = [], None
    for _ in range(args.repeats):
        secs, gains = run(best, prompts)
        times.append(secs)
    n = len(gains)
    print(json.dumps({"seconds": min(times), "all_seconds": times, "batch_size": best,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "attn_gains": [sum(p[l][0] for p in gains) / n for l in range(L)],
                      "mlp_gains": [sum(p[l][1] for p in gains) / n for l in range(L)]}))


if __name__ == "__main__":
    main()

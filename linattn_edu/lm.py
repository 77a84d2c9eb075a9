"""A small byte-level causal language model whose attention can be swapped (notebook 11).

The model is a pre-LayerNorm GPT (token + learned position embeddings, ``n_layers`` blocks of
causal self-attention and a 4x GELU MLP, a final LayerNorm and an untied output layer) over bytes
(vocabulary 256). Every attention layer calls a function ``attention(q, k, v) -> out`` with
q, k, v: (B, H, n, d_head); the default is the library's ``softmax_attention(..., causal=True)``,
so swapping softmax for a linear method is passing another function, layer by layer:

    model(idx)                                    # softmax everywhere
    model(idx, attention=[f0, None, f2])          # layer 0 and 2 swapped, layer 1 softmax

The corpus is the running Python's own standard library (``Lib/*.py``, sorted by name, no download):
every 10th file is validation, the rest training. Because another Python ships other files, the
validation bytes the committed weights were scored on are stored next to them
(``models/stdlib_lm/val_slice.bin``) and the tests score exactly those.

Glossary: B batch, n context length, d_model width, H heads, d_head = d_model / H, idx (B, n) byte ids.
"""
import hashlib
import pathlib
import sysconfig

import torch
from torch import nn
from torch.nn import functional as F

from . import torch as lt

__all__ = ["LMConfig", "ByteLM", "softmax_causal", "stdlib_files", "corpus", "windows", "random_windows",
           "loss_on", "loss_per_window", "load", "MODEL_DIR"]

MODEL_DIR = pathlib.Path(__file__).resolve().parent.parent / "models" / "stdlib_lm"
VAL_EVERY = 10          # every 10th file of the sorted list is validation


class LMConfig(dict):
    """The model's hyper-parameters (a dict, so it is stored as JSON next to the weights)."""

    DEFAULTS = dict(n_layers=3, d_model=64, n_heads=4, n_ctx=128, vocab=256)

    def __init__(self, **kw):
        unknown = set(kw) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown LMConfig fields {sorted(unknown)} (known: {sorted(self.DEFAULTS)})")
        super().__init__({**self.DEFAULTS, **kw})
        if self["d_model"] % self["n_heads"]:
            raise ValueError(f"d_model must be a multiple of n_heads (got d_model = {self['d_model']}, "
                             f"n_heads = {self['n_heads']})")

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def softmax_causal(q, k, v):
    """The trained model's attention: causal softmax with scale 1/sqrt(d_head).  (B, H, n, d) -> (B, H, n, d)."""
    return lt.softmax_attention(q, k, v, causal=True)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def split(self, x):
        """x: (B, n, d_model) -> q, k, v each (B, H, n, d_head)."""
        B, n, d = x.shape
        qkv = self.qkv(x).view(B, n, 3, self.n_heads, d // self.n_heads)     # (B, n, 3, H, d_head)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                                   # 3 x (B, H, n, d_head)
        return q, k, v

    def forward(self, x, attention=None):
        q, k, v = self.split(x)
        out = (attention or softmax_causal)(q, k, v)                           # (B, H, n, d_head)
        B, H, n, dh = out.shape
        return self.proj(out.transpose(1, 2).reshape(B, n, H * dh))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model))

    def forward(self, x, attention=None):
        x = x + self.attn(self.ln1(x), attention)
        return x + self.mlp(self.ln2(x))


class ByteLM(nn.Module):
    """Byte-level causal transformer; ``forward(idx, attention=None) -> logits (B, n, 256)``."""

    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = cfg = LMConfig(**(cfg or {}))
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def _attention_list(self, attention):
        L = self.cfg.n_layers
        if attention is None or callable(attention):
            return [attention] * L
        attention = list(attention)
        if len(attention) != L:
            raise ValueError(f"attention must be one function or a list of {L} (one per layer; None = softmax), "
                             f"got a list of {len(attention)}")
        return attention

    def embed(self, idx):
        if idx.ndim != 2 or idx.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"idx must be (B, n) byte ids with n <= n_ctx = {self.cfg.n_ctx} (got {tuple(idx.shape)})")
        return self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))

    def forward(self, idx, attention=None):
        x = self.embed(idx)
        for block, f in zip(self.blocks, self._attention_list(attention)):
            x = block(x, f)
        return self.head(self.ln_f(x))

    def qkv(self, idx, attention=None):
        """The q, k, v every layer sees, [(q, k, v) per layer] each (B, H, n, d_head), under ``attention``."""
        x, out = self.embed(idx), []
        for block, f in zip(self.blocks, self._attention_list(attention)):
            out.append(block.attn.split(block.ln1(x)))
            x = block(x, f)
        return out


def loss_on(model, data, attention=None, batch_size=64):
    """Mean next-byte cross-entropy (nats per byte) on windows data: (N, n+1) uint8/long, no gradient."""
    data = torch.as_tensor(data).long()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            chunk = data[i:i + batch_size]
            logits = model(chunk[:, :-1], attention)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1),
                                     reduction="sum").item()
            count += chunk[:, 1:].numel()
    return total / count


def loss_per_window(model, data, attention=None, batch_size=64):
    """Mean next-byte cross-entropy of each window (nats per byte): data (N, n+1) -> (N,) float64, no gradient.

    Its mean is loss_on's value; its spread gives the standard error of a difference between two
    attention choices on the same windows (a paired comparison).
    """
    data = torch.as_tensor(data).long()
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            chunk = data[i:i + batch_size]
            logits = model(chunk[:, :-1], attention)                                       # (b, n, 256)
            nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")  # (b, n)
            out.append(nll.double().mean(-1))
    return torch.cat(out)


# ---------------------------------------------------------------- the corpus: Python's own stdlib

def stdlib_files(root=None):
    """The sorted top-level ``*.py`` files of the running Python's standard library."""
    root = pathlib.Path(root or sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"), key=lambda p: p.name)
    if not files:
        raise FileNotFoundError(f"no *.py files under {root}")
    return files


def corpus(split, root=None):
    """(bytes, [file names]) of the training or validation files (every VAL_EVERY-th file is validation)."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val' (got {split!r})")
    files = [f for i, f in enumerate(stdlib_files(root)) if (i % VAL_EVERY == 0) == (split == "val")]
    return b"".join(f.read_bytes() for f in files), [f.name for f in files]


def windows(data, n_ctx, count, stride=None):
    """``count`` evenly spaced windows of n_ctx + 1 bytes: (count, n_ctx + 1) uint8 (deterministic)."""
    arr = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    stride = stride or (len(arr) - n_ctx - 1) // count
    if stride * (count - 1) + n_ctx + 1 > len(arr):
        raise ValueError(f"{count} windows of {n_ctx + 1} bytes do not fit in {len(arr)} bytes")
    starts = torch.arange(count) * stride
    return torch.stack([arr[s:s + n_ctx + 1] for s in starts.tolist()])


def random_windows(data, n_ctx, batch_size, generator):
    """A random batch of windows (batch_size, n_ctx + 1) as long, drawn with a torch.Generator."""
    arr = data if isinstance(data, torch.Tensor) else torch.frombuffer(bytearray(data), dtype=torch.uint8)
    starts = torch.randint(0, len(arr) - n_ctx - 1, (batch_size,), generator=generator)
    return torch.stack([arr[s:s + n_ctx + 1] for s in starts.tolist()]).long()


def sha256(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def load(directory=None):
    """(model, meta, val_slice) from a weights folder written by benchmarks/train_lm.py.

    val_slice: (N, n_ctx + 1) uint8, the stored validation windows meta["val_slice_loss"] was measured on.
    """
    import json
    directory = pathlib.Path(directory or MODEL_DIR)
    meta = json.loads((directory / "meta.json").read_text())
    model = ByteLM(meta["config"])
    model.load_state_dict(torch.load(directory / "weights.pt", map_location="cpu", weights_only=True))
    model.eval()
    raw = (directory / "val_slice.bin").read_bytes()
    if sha256(raw) != meta["val_slice_sha256"]:
        raise ValueError(f"{directory / 'val_slice.bin'} does not match the sha256 stored in meta.json")
    n1 = meta["config"]["n_ctx"] + 1
    val = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, n1)
    return model, meta, val


def n_params(model):
    return sum(p.numel() for p in model.parameters())



# ---------------------------------------------------------------- recovering a swapped model

class HedgehogMap(nn.Module):
    """Learnable feature map of Hedgehog (Zhang et al. 2024), one per layer, per head:

        phi(x) = [softmax(x W_h), softmax(-x W_h)]  in R^{2m},   W_h: (d_head, m), initialised to I (m = d_head)

    so phi(q).phi(k) > 0 and the map can learn to be spiky like softmax. x: (B, H, n, d) -> (B, H, n, 2m).
    """

    def __init__(self, n_heads, d_head, m=None):
        super().__init__()
        m = m or d_head
        self.W = nn.Parameter(torch.eye(d_head, m).repeat(n_heads, 1, 1))              # (H, d, m)

    def forward(self, x):
        xw = torch.einsum("bhnd,hdm->bhnm", x, self.W)                                   # (B, H, n, m)
        return torch.cat([torch.softmax(xw, -1), torch.softmax(-xw, -1)], -1)            # (B, H, n, 2m)

    def attention(self, q, k, v):
        """The layer's attention function: causal kernel attention with this map."""
        return lt.kernel_attention(q, k, v, self, causal=True)


def hedgehog_maps(model, m=None):
    cfg = model.cfg
    return nn.ModuleList(HedgehogMap(cfg.n_heads, cfg.d_model // cfg.n_heads, m) for _ in range(cfg.n_layers))


def distillation_loss(model, maps, idx):
    """Σ over layers of the mean cross-entropy −Σ_j A_ij log Â_ij between the softmax rows A (teacher,
    on the frozen softmax model's own q, k) and the rows Â of each layer's Hedgehog map."""
    n = idx.shape[1]
    with torch.no_grad():
        qkv = model.qkv(idx)
    eye = torch.eye(n)
    total = 0.0
    for (q, k, _), hh in zip(qkv, maps):
        A = lt.attention_weights(q, k, causal=True)                                      # (B, H, n, n)
        A_hat = lt.kernel_attention(q, k, eye.expand(*q.shape[:-2], n, n), hh, causal=True)
        total = total + -(A * torch.log(A_hat.clamp_min(1e-12))).sum(-1).mean()
    return total


def train_steps(loss_fn, params, data, steps, batch_size, lr, generator, n_ctx):
    """``steps`` AdamW steps of loss_fn(batch) on random windows of ``data``; returns CPU seconds used."""
    import time
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    t0 = time.process_time()
    for _ in range(steps):
        batch = random_windows(data, n_ctx, batch_size, generator)
        loss = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.process_time() - t0


def lm_loss(model, attention):
    """loss_fn(batch) for train_steps: the next-byte cross-entropy under ``attention``."""
    def f(batch):
        logits = model(batch[:, :-1], attention)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    return f

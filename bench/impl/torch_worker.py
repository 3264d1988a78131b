"""PyTorch side of the das-webgpu benchmark: a JSON-lines server on stdin/stdout so the Node harness can
interleave PyTorch runs with its own. Each run is timed here (perf_counter, CUDA synchronised) and the
milliseconds are sent back. Commands: hello, prepare {id, case, device}, run {id, inner}, memory {id}, dispose {id}."""
import json, math, os, re, sys, time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
torch.manual_seed(0)
runners = {}


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def rand(shape, dev, lo=-1.0, hi=1.0):
    return torch.rand(*shape, device=dev) * (hi - lo) + lo


def model_params(m, dev):
    D, F_, V = m["hidden"], m["ffn"], m["vocab"]
    def P(*shape, kind="normal"):
        t = torch.randn(*shape, device=dev) * 0.02 if kind == "normal" else (torch.ones(*shape, device=dev) if kind == "ones" else torch.zeros(*shape, device=dev))
        return t.requires_grad_()
    lin = lambda o, i: {"w": P(o, i), "b": P(o, kind="zeros")}
    norm = lambda: {"w": P(D, kind="ones"), "b": P(D, kind="zeros")}
    return {
        "word": P(V, D), "pos": P(m["maxPositions"], D), "type0": P(D), "embNorm": norm(),
        "layers": [{"q": lin(D, D), "k": lin(D, D), "v": lin(D, D), "o": lin(D, D), "n1": norm(), "f1": lin(F_, D), "f2": lin(D, F_), "n2": norm()} for _ in range(m["layers"])],
        "head": {"dense": lin(D, D), "norm": norm(), "bias": P(V, kind="zeros")},
    }


def leaves(t):
    if isinstance(t, dict):
        return [x for k in t for x in leaves(t[k])]
    if isinstance(t, list):
        return [x for v in t for x in leaves(v)]
    return [t]


def encode(m, p, ids, pos, mask_bias, drop=0.0, gates=None):
    """Post-LN RoBERTa encoder as src/nn/roberta.ts: dropout `drop` on the embeddings, the attention
    probabilities and both sublayer outputs; the DAS gates (head on the probabilities, intermediate before
    GELU, output on the FFN output) when given. [B*T, D]"""
    B, T, D, H = m["batch"], m["seq"], m["hidden"], m["heads"]
    Dh = D // H
    eps = m["eps"]
    lin = lambda x, l: F.linear(x, l["w"], l["b"])
    ln = lambda x, n: F.layer_norm(x, (D,), n["w"], n["b"], eps)
    dr = lambda x: F.dropout(x, drop, True) if drop > 0 else x
    split = lambda x: x.view(B, T, H, Dh).transpose(1, 2)
    x = dr(ln(F.embedding(ids, p["word"]) + F.embedding(pos, p["pos"]) + p["type0"], p["embNorm"]))  # [B*T, D]
    for i, l in enumerate(p["layers"]):
        g = gates[i] if gates is not None else None
        q, k, v = split(lin(x, l["q"])), split(lin(x, l["k"])), split(lin(x, l["v"]))
        probs = dr(torch.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(Dh)) + mask_bias, -1))
        if g is not None:
            probs = probs * g["head"].view(1, H, 1, 1)
        ctx = (probs @ v).transpose(1, 2).reshape(B * T, D)
        h = ln(dr(lin(ctx, l["o"])) + x, l["n1"])
        u = lin(h, l["f1"])
        o = lin(F.gelu(u if g is None else u * g["inter"]), l["f2"])
        x = ln(dr(o if g is None else o * g["out"]) + h, l["n2"])
    return x


def mlm_loss(m, p, ids, pos, mask_bias, li, labels, drop=0.0):
    """Post-LN RoBERTa MLM loss, as src/nn/roberta.ts (dropout off unless `drop`)."""
    D = m["hidden"]
    lin = lambda x, l: F.linear(x, l["w"], l["b"])
    ln = lambda x, n: F.layer_norm(x, (D,), n["w"], n["b"], m["eps"])
    x = encode(m, p, ids, pos, mask_bias, drop)
    hm = ln(F.gelu(lin(x[li], p["head"]["dense"])), p["head"]["norm"])
    return F.cross_entropy(hm @ p["word"].t() + p["head"]["bias"], labels)


def das_step_fn(m, b, dev, das):
    """The DAS training step of bench/impl/das.ts (das=True): L_MLM on the corrupted ids plus 0.25 x the
    contrastive loss of three passes over the original ids (two full with independent dropout, one gated
    by the importance, 0.5 everywhere), tau 0.05, gradients soft-masked by 1 - importance on the paper's
    axes, then AdamW; or the plain MLM step with the same dropout 0.1 (das=False), its denominator."""
    p = model_params(m, dev)
    ps = leaves(p)
    B, T, D, H, F_ = m["batch"], m["seq"], m["hidden"], m["heads"], m["ffn"]
    ids = torch.tensor(b["ids"], device=dev)
    orig = torch.tensor(b["originalIds"], device=dev)
    pos = torch.tensor(b["positions"], device=dev)
    li = torch.tensor(b["labelIndex"], device=dev)
    labels = torch.tensor(b["labels"], device=dev)
    mask_bias = torch.zeros(B, 1, 1, T, device=dev)
    gates = [{"head": torch.full((H,), 0.5, device=dev), "inter": torch.full((F_,), 0.5, device=dev), "out": torch.full((D,), 0.5, device=dev)} for _ in p["layers"]]
    # (param, scale) pairs: 1 - importance broadcast on each gated unit's rows (outputs) or columns (inputs).
    masked = []
    for l, g in zip(p["layers"], gates):
        eta = (1 - g["head"]).repeat_interleave(D // H)
        for name in ("q", "k", "v"):
            masked += [(l[name]["w"], eta.view(D, 1)), (l[name]["b"], eta)]
        masked += [(l["o"]["w"], eta.view(1, D)), (l["f1"]["w"], (1 - g["inter"]).view(F_, 1)), (l["f1"]["b"], 1 - g["inter"]),
                   (l["f2"]["w"], (1 - g["out"]).view(D, 1)), (l["f2"]["b"], 1 - g["out"])]
    opt = torch.optim.AdamW(ps, lr=1e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
    target = torch.arange(B, device=dev)

    def pooled(gs=None):
        return encode(m, p, orig, pos, mask_bias, 0.1, gs).view(B, T, D).mean(1)  # no padding: the masked mean is the mean

    def f():
        loss = mlm_loss(m, p, ids, pos, mask_bias, li, labels, 0.1)
        if das:
            z1, z2, zg = pooled(), pooled(), pooled(gates)
            a = F.normalize(z2, dim=-1, eps=1e-8)
            logits = torch.cat([a @ F.normalize(z1, dim=-1, eps=1e-8).t(), a @ F.normalize(zg, dim=-1, eps=1e-8).t()], 1) / 0.05
            loss = loss + 0.25 * F.cross_entropy(logits, target)
        loss.backward()
        if das:
            with torch.no_grad():
                for w, s in masked:
                    w.grad.mul_(s)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return f


def prepare(c, dev):
    k = c["kind"]
    note = None
    if k == "matmul":
        a, b = rand((c["M"], c["K"]), dev), rand((c["K"], c["N"]), dev)
        f = lambda: a @ b
    elif k == "softmax":
        x = rand((c["R"], c["C"]), dev, -4, 4)
        f = lambda: torch.softmax(x, -1)
    elif k == "layernorm":
        R, C = c["R"], c["C"]
        x, w, b, dy = rand((R, C), dev, -2, 2), rand((C,), dev, 0.5, 1.5), rand((C,), dev), rand((R, C), dev)
        if c["backward"]:
            for t in (x, w, b):
                t.requires_grad_()
            def f():
                y = F.layer_norm(x, (C,), w, b, 1e-5)
                return torch.autograd.grad(y, [x, w, b], dy)
        else:
            f = lambda: F.layer_norm(x, (C,), w, b, 1e-5)
    elif k == "gelu":
        x = rand((c["R"], c["C"]), dev, -3, 3)
        f = lambda: F.gelu(x)
    elif k == "xent":
        R, C = c["R"], c["C"]
        z = rand((R, C), dev, -4, 4)
        y = torch.tensor([(r * 31) % C for r in range(R)], device=dev)
        f = lambda: F.cross_entropy(z, y)
    elif k == "adamw":
        n = c["n"]
        p = torch.nn.Parameter(rand((n,), dev))
        p.grad = rand((n,), dev)
        kw = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        try:
            opt = torch.optim.AdamW([p], fused=True, **kw)
            note = "torch.optim.AdamW(fused=True)"
        except Exception:
            opt = torch.optim.AdamW([p], foreach=True, **kw)
            note = "torch.optim.AdamW(foreach=True): no fused AdamW on this device in this version"
        opt.step()
        f = opt.step
    elif k == "chain":
        x, kk = rand((c["n"],), dev), rand((c["n"],), dev)
        ops = c["ops"]
        def f():
            y = x
            for _ in range(ops):
                y = y + kk
            return y.sum().item()
    elif k == "step":
        m, b = c["model"], c["batch"]
        p = model_params(m, dev)
        ps = leaves(p)
        ids = torch.tensor(b["ids"], device=dev)
        pos = torch.tensor(b["positions"], device=dev)
        li = torch.tensor(b["labelIndex"], device=dev)
        labels = torch.tensor(b["labels"], device=dev)
        mask_bias = torch.zeros(m["batch"], 1, 1, m["seq"], device=dev)
        opt = torch.optim.AdamW(ps, lr=1e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
        def f():
            loss = mlm_loss(m, p, ids, pos, mask_bias, li, labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    elif k == "das_step":
        f = das_step_fn(c["model"], c["batch"], dev, c["das"])
        note = "DAS step: MLM + 3 contrastive passes, soft-masked gradients, AdamW" if c["das"] else "MLM step with dropout 0.1"
    else:
        return None, f"unknown case {k}"
    return f, note


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        op, out = msg["op"], {}
        try:
            if op == "hello":
                cfg = torch.__config__.show()
                found = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
                blas = f"BLAS {found.group(1)}" if found else "BLAS unknown"
                out = {"version": torch.__version__, "threads": torch.get_num_threads(), "blas": blas,
                       "cuda": torch.cuda.is_available(), "cudaName": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
            elif op == "prepare":
                dev = msg["device"]
                f, note = prepare(msg["case"], dev)
                if f is None:
                    out = {"skip": note}
                else:
                    runners[msg["id"]] = (f, dev)
                    if dev == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                    out = {"ok": True, "note": note}
            elif op == "run":
                f, dev = runners[msg["id"]]
                sync(dev)
                t0 = time.perf_counter()
                for _ in range(msg["inner"]):
                    f()
                sync(dev)
                out = {"ms": (time.perf_counter() - t0) * 1000}
            elif op == "memory":
                _, dev = runners[msg["id"]]
                out = {"memory": {"peakAllocatedBytes": torch.cuda.max_memory_allocated()} if dev == "cuda" else {}}
            elif op == "dispose":
                runners.pop(msg["id"], None)
                out = {"ok": True}
        except Exception as e:  # reported to the harness, which records it for this case
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

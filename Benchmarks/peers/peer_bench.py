#!/usr/bin/env python3
"""Times one case of kernel-bench's shapes in JAX or PyTorch on the CPU and prints one JSON line.

    peer_bench.py jax|torch CASE ARG... [--repeat N] [--chunk C]

CASE and its arguments:
    softmax R C | log_softmax R C | logsumexp R C    over the last axis of an R x C float32 matrix
    softmax_topk R C K                               softmax, then the K largest per row
    matmul M N K                                     [M, K] @ [K, N]
    cross_entropy N D V                              mean loss of logits E @ C^T, E [N, D], C [V, D];
                                                     materialised, or with --chunk (JAX only) a scan over
                                                     vocabulary chunks of C rows with an online log-sum-exp
    attention softmax|sigmoid full|causal B H L D    forward; softmax: the library's fused attention
                                                     (torch SDPA, jax.nn.dot_product_attention); sigmoid:
                                                     sigmoid(Q K^T / sqrt(D) - ln L) V, materialised

One process per case (so one case's memory does not slow the next). Inputs are float32 normal
samples scaled so that logits and scores have unit variance. PyTorch writes into preallocated
outputs (out=) wherever the op takes one, as kernel-bench reuses its outputs; JAX has no out=,
and its jitted functions allocate. One warm-up call (JAX compiles there), then --repeat timed
calls on the wall clock; the output gives their median, 20th and 80th percentiles and minimum.
"""
import argparse
import json
import math
import sys
import time

import numpy as np


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lib", choices=["jax", "torch"])
    parser.add_argument("case")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, help="cross_entropy, JAX: vocabulary rows per chunk")
    return parser.parse_args()


def normal(shape, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * np.float32(scale))


def jax_case(case, args, chunk):
    """A function of no arguments running the case once, synchronously."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")

    def timed(fn, *inputs):
        fn = jax.jit(fn)
        inputs = [jnp.asarray(x) for x in inputs]
        return lambda: jax.block_until_ready(fn(*inputs))

    if case in ("softmax", "log_softmax", "logsumexp"):
        rows, cols = map(int, args)
        op = {"softmax": jax.nn.softmax, "log_softmax": jax.nn.log_softmax, "logsumexp": jax.nn.logsumexp}[case]
        return timed(lambda x: op(x, axis=-1), normal((rows, cols)))
    if case == "softmax_topk":
        rows, cols, k = map(int, args)
        return timed(lambda x: jax.lax.top_k(jax.nn.softmax(x, axis=-1), k), normal((rows, cols)))
    if case == "matmul":
        m, n, k = map(int, args)
        return timed(jnp.matmul, normal((m, k)), normal((k, n), seed=1))
    if case == "cross_entropy":
        n, d, v = map(int, args)
        e, c = normal((n, d), d ** -0.25), normal((v, d), d ** -0.25, seed=1)
        targets = np.random.default_rng(2).integers(0, v, n).astype(np.int32)
        if chunk is None:
            def loss(e, c, t):
                logits = e @ c.T
                target = jnp.take_along_axis(logits, t[:, None], axis=1)[:, 0]
                return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - target)
        else:
            if v % chunk:
                raise SystemExit(f"--chunk {chunk} does not divide V {v}")

            def loss(e, c, t):
                def step(state, block):
                    top, total = state
                    z = e @ block.T
                    new_top = jnp.maximum(top, z.max(axis=-1))
                    total = total * jnp.exp(top - new_top) + jnp.exp(z - new_top[:, None]).sum(axis=-1)
                    return (new_top, total), None

                start = (jnp.full((n,), -jnp.inf, jnp.float32), jnp.zeros((n,), jnp.float32))
                (top, total), _ = jax.lax.scan(step, start, c.reshape(v // chunk, chunk, d))
                target = jnp.einsum("nd,nd->n", e, c[t])
                return jnp.mean(top + jnp.log(total) - target)
        return timed(loss, e, c, targets)
    if case == "attention":
        activation, mask, b, h, length, d = args[0], args[1], *map(int, args[2:])
        causal = mask == "causal"
        # PyTorch's inputs, [B, H, L, D], laid out [B, L, H, D] as JAX wants
        q, k, v = (normal((b, h, length, d), seed=seed).transpose(0, 2, 1, 3) for seed in range(3))
        if activation == "softmax":
            return timed(lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=causal), q, k, v)

        def sigmoid_attention(q, k, v):
            p = jax.nn.sigmoid(jnp.einsum("blhd,bmhd->bhlm", q, k) / math.sqrt(d) - math.log(length))
            if causal:
                p = jnp.where(jnp.tril(jnp.ones((length, length), bool)), p, 0)
            return jnp.einsum("bhlm,bmhd->blhd", p, v)
        return timed(sigmoid_attention, q, k, v)
    raise SystemExit(f"unknown case {case}")


def torch_case(case, args, chunk):
    import torch
    import torch.nn.functional as F

    torch.set_grad_enabled(False)
    tensor = lambda *a, **k: torch.from_numpy(normal(*a, **k))
    if chunk is not None:
        raise SystemExit("--chunk: JAX only")
    if case in ("softmax", "log_softmax", "logsumexp"):
        rows, cols = map(int, args)
        x = tensor((rows, cols))
        if case == "logsumexp":
            out = torch.empty(rows)
            return lambda: torch.logsumexp(x, -1, out=out)
        op, out = {"softmax": torch.softmax, "log_softmax": torch.log_softmax}[case], torch.empty_like(x)
        return lambda: op(x, -1, out=out)
    if case == "softmax_topk":
        rows, cols, k = map(int, args)
        x = tensor((rows, cols))
        p, values, indices = torch.empty_like(x), torch.empty(rows, k), torch.empty(rows, k, dtype=torch.long)

        def softmax_topk():
            torch.softmax(x, -1, out=p)
            return torch.topk(p, k, dim=-1, out=(values, indices))
        return softmax_topk
    if case == "matmul":
        m, n, k = map(int, args)
        a, b, c = tensor((m, k)), tensor((k, n), seed=1), torch.empty(m, n)
        return lambda: torch.matmul(a, b, out=c)
    if case == "cross_entropy":
        n, d, v = map(int, args)
        e, c = tensor((n, d), d ** -0.25), tensor((v, d), d ** -0.25, seed=1)
        targets = torch.from_numpy(np.random.default_rng(2).integers(0, v, n))
        logits = torch.empty(n, v)

        def cross_entropy():
            torch.matmul(e, c.T, out=logits)
            return F.cross_entropy(logits, targets)
        return cross_entropy
    if case == "attention":
        activation, mask, b, h, length, d = args[0], args[1], *map(int, args[2:])
        causal = mask == "causal"
        q, k, v = (tensor((b, h, length, d), seed=seed) for seed in range(3))  # [B, H, L, D]
        if activation == "softmax":
            return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        scores, out = torch.empty(b, h, length, length), torch.empty(b, h, length, d)
        dropped = ~torch.ones(length, length, dtype=torch.bool).tril() if causal else None

        def sigmoid_attention():
            torch.matmul(q, k.transpose(-1, -2), out=scores)
            scores.mul_(1 / math.sqrt(d)).sub_(math.log(length))
            torch.sigmoid(scores, out=scores)
            if causal:
                scores.masked_fill_(dropped, 0)
            return torch.matmul(scores, v, out=out)
        return sigmoid_attention
    raise SystemExit(f"unknown case {case}")


def percentile(sorted_values, p):
    """Nearest rank, as kernel-bench's p20 / p80."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def main():
    options = parse()
    if options.lib == "jax":
        import jax
        version, run = jax.__version__, jax_case(options.case, options.args, options.chunk)
    else:
        import torch
        version, run = torch.__version__, torch_case(options.case, options.args, options.chunk)
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    times = []
    for _ in range(options.repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    print(json.dumps({
        "lib": options.lib, "version": version, "case": options.case, "args": options.args,
        "chunk": options.chunk, "median_ms": float(np.median(times)), "p20_ms": percentile(times, 20),
        "p80_ms": percentile(times, 80), "min_ms": times[0], "first_call_ms": first * 1e3,
        "runs": options.repeat}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())

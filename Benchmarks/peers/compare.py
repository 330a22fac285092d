#!/usr/bin/env python3
"""kernel-bench against JAX and PyTorch on the same shapes, interleaved, into Benchmarks/RESULTS.md.

For each round and each case: kernel-bench on the OpenCL device of most compute units (PoCL's
pthread device on a CPU-only machine) and on the CPU path, then JAX, then PyTorch, each in its
own process (peer_bench.py for the peers), so that every library is measured in the same minutes.
A cell is the median of the rounds' medians, with their range. The table replaces what lies
between RESULTS.md's <!-- compare:begin --> and <!-- compare:end --> markers (appended with
them when absent), with the machine and the date above it.

Run by `make compare`, which sets up the venv; by hand:
    .build/peers-venv/bin/python Benchmarks/peers/compare.py --kernel-bench .build/host/release/kernel-bench
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

PEER_BENCH = Path(__file__).with_name("peer_bench.py")
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"

ATTENTION = ["--b", "1", "--h", "8", "--lq", "2048", "--d", "64", "--check", "off"]
PEER_ATTENTION = ["1", "8", "2048", "64"]


def case(name, label, bench, peer, variant=None, jax_only=False):
    """kernel-bench's arguments, the record's variant to take (None: the first record), and
    peer_bench.py's arguments for JAX and PyTorch (None: no such case)."""
    return dict(name=name, label=label, bench=bench, variant=variant, jax=peer, torch=None if jax_only else peer)


CASES = [
    case("softmax", "softmax 4096×4096", ["softmax", "--rows", "4096", "--cols", "4096"],
         ["softmax", "4096", "4096"]),
    case("softmax-long", "softmax 64×1048576", ["softmax", "--rows", "64", "--cols", "1048576"],
         ["softmax", "64", "1048576"]),
    case("log-softmax", "log-softmax 4096×4096", ["softmax", "--kind", "logSoftmax", "--rows", "4096", "--cols", "4096"],
         ["log_softmax", "4096", "4096"]),
    case("lse", "log-sum-exp 4096×4096", ["softmax", "--kind", "logSumExp", "--rows", "4096", "--cols", "4096"],
         ["logsumexp", "4096", "4096"]),
    case("topk", "softmax + top-8, 64×1048576", ["topk", "--rows", "64", "--cols", "1048576", "--k", "8"],
         ["softmax_topk", "64", "1048576", "8"], variant="fused"),
    case("matmul", "matmul 2048³", ["matmul", "--m", "2048", "--n", "2048", "--k", "2048"],
         ["matmul", "2048", "2048", "2048"]),
    case("ce", "cross-entropy N1024 D1024 V65536 forward (peers: logits materialised)",
         ["cross-entropy", "--n", "1024", "--d", "1024", "--v", "65536"], ["cross_entropy", "1024", "1024", "65536"]),
    case("ce-chunked", "cross-entropy, same shape (JAX: 8 chunks of 8192, online log-sum-exp)",
         ["cross-entropy", "--n", "1024", "--d", "1024", "--v", "65536"],
         ["cross_entropy", "1024", "1024", "65536", "--chunk", "8192"], jax_only=True),
    case("attention", "attention B1 H8 L2048 D64, softmax, full, forward",
         ["attention", "--activation", "softmax"] + ATTENTION, ["attention", "softmax", "full"] + PEER_ATTENTION),
    case("attention-causal", "attention, same shape, softmax, causal, forward",
         ["attention", "--activation", "softmax", "--causal"] + ATTENTION,
         ["attention", "softmax", "causal"] + PEER_ATTENTION),
    case("attention-sigmoid", "attention, same shape, sigmoid, full, forward (peers: materialised)",
         ["attention", "--activation", "sigmoid"] + ATTENTION, ["attention", "sigmoid", "full"] + PEER_ATTENTION),
]


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernel-bench", required=True, help="the kernel-bench executable")
    parser.add_argument("--results", default="Benchmarks/RESULTS.md")
    parser.add_argument("--device", default="opencl",
                        help="kernel-bench's OpenCL device (default: the one of most compute units)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per process, every library")
    parser.add_argument("--torch-python", help="a python where torch imports (default: this one, python3, "
                                               "~/peers-env/bin/python: the first that imports it)")
    parser.add_argument("--cases", help="only these cases, comma-separated: " + ", ".join(c["name"] for c in CASES))
    return parser.parse_args()


def run(command, timeout=900):
    """The command's stdout, or None (its stderr's tail printed) when it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  timed out: {' '.join(command)}", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"  failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return done.stdout


def python_with(module, candidates):
    """The first of the candidate interpreters (paths or names on PATH) that imports `module`."""
    for python in filter(None, (shutil.which(os.path.expanduser(c)) for c in candidates)):
        if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0:
            return python
    return None


def kernel_bench(options, arguments, device, variant):
    """The chosen record of `kernel-bench ARGS --device D --json`, or None."""
    out = run([options.kernel_bench] + arguments + ["--device", device, "--repeat", str(options.repeat), "--json"])
    records = [json.loads(line) for line in (out or "").splitlines() if line.startswith("{")]
    records = [r for r in records if variant is None or r["variant"] == variant]
    return records[0] if records else None


def peer(python, options, lib, arguments):
    """peer_bench.py's JSON line, or None."""
    out = run([python, str(PEER_BENCH), lib] + arguments + ["--repeat", str(options.repeat)])
    return json.loads(out.strip().splitlines()[-1]) if out else None


def measure(options, pythons, cases):
    """{(case name, column): [one result per round]}, rounds interleaved case by case; cases with
    the same kernel-bench arguments share its runs."""
    results = {}
    for round_ in range(options.rounds):
        ours = {}
        for c in cases:
            print(f"round {round_ + 1}/{options.rounds}: {c['label']}", file=sys.stderr, flush=True)
            for column, device in (("opencl", options.device), ("cpu", "cpu")):
                key = (tuple(c["bench"]), device)
                if key not in ours:
                    ours[key] = kernel_bench(options, c["bench"], device, c["variant"])
                results.setdefault((c["name"], column), []).append(ours[key])
            for column in ("jax", "torch"):
                if c[column] is not None and pythons[column]:
                    results.setdefault((c["name"], column), []).append(peer(pythons[column], options, column, c[column]))
    return results


def summary(runs):
    """(median of the rounds' medians, low, high), or None when a run failed or none was made."""
    if not runs or any(r is None for r in runs):
        return None
    medians = [r["median_ms"] for r in runs]
    return statistics.median(medians), min(medians), max(medians)


def milliseconds(value):
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def cell(s):
    if s is None:
        return "failed"
    median, low, high = s
    return milliseconds(median) + (f" ({milliseconds(low)}–{milliseconds(high)})" if high > low else "")


def machine():
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = dict(line.split(":", 1) for line in info.split("\n\n")[0].splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    isa = ", ".join(name for flag, name in (("avx2", "AVX2"), ("fma", "FMA"), ("avx512f", "AVX-512F"))
                    if flag in flags) or "no AVX2"
    model = fields.get("model name", platform.processor() or "unknown CPU")
    return f"{model} ({isa}), {os.cpu_count()} threads, {platform.system()} {platform.release()}"


def table(options, pythons, versions, cases, results):
    opencl_name = next((r["device"] for (_, column), runs in results.items() if column == "opencl"
                        for r in runs if r), f"--device {options.device}: not found")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} by `make compare` on {machine()}. kernel-bench on {opencl_name} "
        f"(\"OpenCL\") and on its CPU path; JAX {versions['jax']}; PyTorch {versions['torch']}. "
        f"Rounds: {options.rounds}, interleaved (each case: kernel-bench on both, JAX, PyTorch, then the next case), "
        f"each process one warm-up and {options.repeat} timed runs. Cells: milliseconds, the median of the rounds' "
        f"medians (their range); ratios: the peer's time over our better one, so above 1 means FusedKernels is "
        f"faster. PyTorch writes into preallocated outputs (`out=`) where the op takes one; JAX's jitted functions "
        f"allocate theirs. Both peers run on the CPU.",
        "",
        "| case | OpenCL | CPU path | JAX | PyTorch | JAX / ours | PyTorch / ours |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for c in cases:
        ours = {column: summary(results.get((c["name"], column))) for column in ("opencl", "cpu")}
        best = min((s[0] for s in ours.values() if s), default=None)
        peers = {}
        for column in ("jax", "torch"):
            if c[column] is None:
                peers[column] = ("—", "—")
            elif not pythons[column]:
                peers[column] = ("not installed", "—")
            else:
                s = summary(results.get((c["name"], column)))
                peers[column] = (cell(s), f"{s[0] / best:.2f}" if s and best else "—")
        lines.append(f"| {c['label']} | {cell(ours['opencl'])} | {cell(ours['cpu'])} | {peers['jax'][0]} | "
                     f"{peers['torch'][0]} | {peers['jax'][1]} | {peers['torch'][1]} |")
    return "\n".join(lines)


def write(path, section):
    """Replaces the compare section of `path` (appended when absent)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{section}\n{END}"
    start = text.find(BEGIN)
    stop = text.find(END, start)
    if start >= 0 and stop >= 0:
        text = text[:start] + block + text[stop + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Against JAX and PyTorch\n\n" + block + "\n"
    path.write_text(text)


def main():
    options = parse()
    names = options.cases.split(",") if options.cases else [c["name"] for c in CASES]
    unknown = set(names) - {c["name"] for c in CASES}
    if unknown:
        raise SystemExit(f"unknown cases {', '.join(sorted(unknown))}; cases: {', '.join(c['name'] for c in CASES)}")
    cases = [c for c in CASES if c["name"] in names]
    torch_candidates = [options.torch_python] if options.torch_python else \
        [sys.executable, "python3", "~/peers-env/bin/python"]
    pythons = {"jax": python_with("jax", [sys.executable]), "torch": python_with("torch", torch_candidates)}
    versions = {}
    for lib, python in pythons.items():
        out = python and run([python, "-c", f"import {lib}; print({lib}.__version__)"])
        versions[lib] = out.strip() if out else "not installed"
    print(f"JAX: {pythons['jax'] or 'not installed'}; PyTorch: {pythons['torch'] or 'not installed'}", file=sys.stderr)
    results = measure(options, pythons, cases)
    section = table(options, pythons, versions, cases, results)
    write(Path(options.results), section)
    print(section)


if __name__ == "__main__":
    main()

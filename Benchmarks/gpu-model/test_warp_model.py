#!/usr/bin/env python3
"""The warp model's own tests: toy kernels with known access patterns (toys/toys.cl), run on
Oclgrind with the plugin, must come out with exactly these numbers (`make test` and
`make gpu-model` run this first). Usage: test_warp_model.py PLUGIN.so"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toys")

# kernel -> {dotted path in the record: expected value}
EXPECTED = {
    "coalesced": {"global_load.efficiency": 1, "global_load.warp_accesses": 2, "global_load.sector_bytes": 256,
                  "global_store.efficiency": 1, "barriers": 0},
    "uncoalesced": {"global_load.efficiency": 0.125, "global_load.useful_bytes": 256,
                    "global_load.sector_bytes": 2048, "global_store.efficiency": 1},
    "vector4": {"global_load.efficiency": 1, "global_load.useful_bytes": 1024, "global_load.item_accesses": 64,
                "global_store.sector_bytes": 1024, "fma": 256},
    "conflicting": {"local_store.ways_mean": 32, "local_store.ways_worst": 32, "local_load.ways_mean": 32,
                    "local_load.warp_accesses": 2, "barriers": 1},
    "padded": {"local_store.ways_mean": 1, "local_load.ways_mean": 1, "local_load.ways_worst": 1, "barriers": 1},
    "broadcast": {"local_load.ways_mean": 1, "local_load.item_accesses": 64, "local_store.warp_accesses": 1,
                  "local_store.item_accesses": 1},
    "half_active": {"exp_active": 0.5, "exp_calls": 32},
}


def value(record, path):
    for part in path.split("."):
        record = record[part]
    return record


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    plugin = os.path.abspath(sys.argv[1])
    failures = []
    with tempfile.TemporaryDirectory() as work:
        for kernel, expected in EXPECTED.items():
            out = os.path.join(work, kernel + ".jsonl")
            env = dict(os.environ, OCLGRIND_PLUGINS=plugin, WARP_MODEL_OUT=out)
            run = subprocess.run(["oclgrind-kernel", kernel + ".sim"], cwd=HERE, env=env, capture_output=True, text=True)
            if run.returncode != 0 or not os.path.exists(out):
                failures.append(f"{kernel}: oclgrind-kernel failed: {run.stderr.strip()[-500:]}")
                continue
            records = [json.loads(line) for line in open(out)]
            if len(records) != 1 or records[0]["kernel"] != kernel:
                failures.append(f"{kernel}: expected one record of {kernel}, got {len(records)}")
                continue
            for path, want in expected.items():
                got = value(records[0], path)
                if abs(got - want) > 1e-9:
                    failures.append(f"{kernel}: {path} is {got}, expected {want}")
    for f in failures:
        print("warp model: " + f, file=sys.stderr)
    print(f"warp model: {len(EXPECTED)} toy kernels, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

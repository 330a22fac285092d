#!/usr/bin/env python3
"""gpu-summary.py PREDICTIONS RESULTS_DIR — the GPU check's summary table: for every suite
record the check finished, the measured fraction of the same run's roofline beside what
`make gpu-model` predicted for its kernels on an H100 and an MI250 (the lowest prediction
among the record's kernels: the one that bounds it); then the parity counts."""
import glob
import json
import os
import sys


def lines(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                yield json.loads(line)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    predictions = {r["spec"]: r.get("predicted") or {} for r in lines(sys.argv[1])}
    results = sys.argv[2]

    def predicted(record, machine):
        values = [(predictions[k].get(machine) or {}).get("fraction") for k in record.get("kernels", [])
                  if k in predictions]
        values = [v for v in values if v is not None]
        return f"{min(values):.2f}" if values else "-"

    rows = []
    for path in sorted(glob.glob(os.path.join(results, "suite-*.jsonl"))):
        for r in lines(path):
            if r.get("family") == "roofline" or r.get("fraction_of_roofline") is None:
                continue
            shape = "x".join(str(n) for n in r.get("shape", []))
            rows.append((r["family"], r["op"], r["variant"], shape,
                         f"{r['fraction_of_roofline']:.2f} of {r.get('roofline_source', '?')}",
                         predicted(r, "h100"), predicted(r, "mi250"), r.get("ran_on", "")))
    head = ("family", "op", "variant", "shape", "measured", "pred H100", "pred MI250", "ran on")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
    print("GPU check summary: measured fraction of the run's own roofline; predicted fraction of peak (make gpu-model)")
    for row in [head] + rows:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print(f"  {len(rows)} suite records")
    parity = os.path.join(results, "parity.jsonl")
    if os.path.exists(parity):
        records = list(lines(parity))
        skipped = sum(1 for r in records if r.get("skipped"))
        failed = sum(1 for r in records if not r.get("skipped") and r.get("pass") is not True)
        print(f"  parity: {len(records) - failed - skipped} passed, {failed} failed, {skipped} skipped")


if __name__ == "__main__":
    main()

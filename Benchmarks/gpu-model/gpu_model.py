#!/usr/bin/env python3
"""gpu_model.py — GPU-shape quality of every GPU-preset kernel without a GPU (`make gpu-model`).

Three sources, joined per kernel specialisation (file, entry point, -D defines):
1. A real GPU compiler: clang-15 → LLVM's AMDGPU backend (gfx90a, gfx1100; libclc linked)
   for VGPRs, SGPRs, spills, scratch, LDS and occupancy; its NVPTX backend for the PTX's
   static counts of shared and global accesses, barriers, FMAs and ex2.
2. The warp-level access model (warp_model.cpp, an Oclgrind plugin) on the small `model`
   shapes of `kernel-bench gpu-shapes`.
3. A prediction of the fraction of peak on an H100 and an MI250 from those numbers (the
   model is `predict` below; Benchmarks/NOTES.md states it).

The specialisations come from `kernel-bench gpu-shapes`: the plans' own -D options, at the
suite's shapes (compiled) and at the model shapes (compiled and simulated). A kernel that
does not compile for a target makes the run fail.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys

TARGETS = {
    "gfx90a": ("amdgcn-amd-amdhsa", "/usr/lib/clc/amdgcn--amdhsa.bc"),
    "gfx1100": ("amdgcn-amd-amdhsa", "/usr/lib/clc/amdgcn--amdhsa.bc"),
    "nvptx64": ("nvptx64-nvidia-nvcl", "/usr/lib/clc/nvptx64--nvidiacl.bc"),
}
# LLVM 15's NVPTX backend lowers llvm.exp2/exp/log2/log (libclc's native_exp2 and kin) to
# libm calls it cannot resolve. NVIDIA's compiler maps them to ex2.approx and lg2.approx:
# so does this shim, linked after optimisation.
NVPTX_MATH_SHIM = """target triple = "nvptx64-nvidia-nvcl"
declare float @llvm.nvvm.ex2.approx.f(float)
declare float @llvm.nvvm.lg2.approx.f(float)
define float @exp2f(float %x) { %r = call float @llvm.nvvm.ex2.approx.f(float %x)
  ret float %r }
define float @expf(float %x) { %y = fmul float %x, 0x3FF7154760000000
  %r = call float @llvm.nvvm.ex2.approx.f(float %y)
  ret float %r }
define float @log2f(float %x) { %r = call float @llvm.nvvm.lg2.approx.f(float %x)
  ret float %r }
define float @logf(float %x) { %y = call float @llvm.nvvm.lg2.approx.f(float %x)
  %r = fmul float %y, 0x3FE62E4300000000
  ret float %r }
"""
PTX_COUNTS = {
    "ld.shared": r"ld\.shared", "st.shared": r"st\.shared", "ld.global": r"ld\.global",
    "st.global": r"st\.global", "bar.sync": r"bar\.sync", "fma": r"fma\.rn\.f32", "ex2": r"ex2\.approx",
}

# The machines of the prediction (public specifications; fp32 without packed math; L2
# bandwidth assumed twice DRAM's).
MACHINES = {
    "h100": dict(units=132, clock=1.98e9, fma_per_clk=128, dram=3.35e12, l2=6.7e12, lds_bytes_per_clk=128,
                 issue_per_clk=4, warp=32, regs=65536, max_warps=64, lds=228 * 1024, latency=600e-9),
    "mi250": dict(units=208, clock=1.70e9, fma_per_clk=128, dram=3.2e12, l2=6.4e12, lds_bytes_per_clk=128,
                  issue_per_clk=4, warp=64, regs=None, max_warps=32, lds=64 * 1024, latency=700e-9),
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def gpu_shapes(bench, shapes, device, env, marker=None, filt=None):
    cmd = [bench, "gpu-shapes", "--shapes", shapes, "--device", device]
    if marker:
        cmd += ["--marker-file", marker]
    if filt:
        cmd += ["--filter", filt]
    out = run(cmd, env=env)
    if out.returncode != 0:
        sys.exit(f"gpu-model: {' '.join(cmd)} failed:\n{out.stderr[-4000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def spec_key(file, entry, defines):
    return (file, entry, tuple(sorted(defines.items())))


def compile_kernel(kernels_dir, file, defines, target, work):
    """Compiles one file with its defines for one target; returns (per-entry resources or
    PTX counts, error text)."""
    triple, libclc = TARGETS[target]
    base = os.path.join(work, f"{abs(hash((file, tuple(sorted(defines.items())), target)))}")
    flags = [f"-D{k}={v}" for k, v in sorted(defines.items())]
    cc = ["clang-15", "-cc1", "-triple", triple, "-emit-llvm-bc", "-cl-std=CL1.2", "-finclude-default-header",
          "-I", kernels_dir, "-O3", *flags, os.path.join(kernels_dir, file), "-o", base + ".bc"]
    if target != "nvptx64":
        cc[4:4] = ["-target-cpu", target]
    out = run(cc)
    if out.returncode != 0:
        return None, out.stderr[-2000:]
    out = run(["llvm-link-15", base + ".bc", libclc, "--only-needed", "-o", base + ".l.bc"])
    if out.returncode != 0:
        return None, out.stderr[-2000:]
    # libclc's built-ins are linked after clang optimised: inline and optimise them too
    out = run(["opt-15", "-O3", base + ".l.bc", "-o", base + ".l.bc"])
    if out.returncode != 0:
        return None, out.stderr[-2000:]
    if target == "nvptx64":
        shim = os.path.join(work, "nvptx-math.bc")
        out = run(["llvm-link-15", base + ".l.bc", shim, "-o", base + ".l.bc"])
        if out.returncode != 0:
            return None, out.stderr[-2000:]
        out = run(["llc-15", "-O3", "-mtriple=" + triple, "-mcpu=sm_80", base + ".l.bc", "-o", base + ".ptx"])
        if out.returncode != 0:
            return None, out.stderr[-2000:]
        return ptx_counts(open(base + ".ptx").read()), None
    out = run(["llc-15", "-O3", "-mtriple=" + triple, "-mcpu=" + target,
               "-pass-remarks-analysis=kernel-resource-usage", base + ".l.bc", "-o", base + ".s"])
    if out.returncode != 0:
        return None, out.stderr[-2000:]
    return amd_resources(out.stderr), None


def amd_resources(remarks):
    kernels, current = {}, None
    fields = {"SGPRs": "sgprs", "VGPRs": "vgprs", "AGPRs": "agprs", "ScratchSize [bytes/lane]": "scratch",
              "Occupancy [waves/SIMD]": "occupancy", "SGPRs Spill": "sgpr_spills", "VGPRs Spill": "vgpr_spills",
              "LDS Size [bytes/block]": "lds"}
    for line in remarks.splitlines():
        m = re.search(r"remark: .*?:\s+(Function Name|[A-Za-z\[\]/ ]+?): (\S+)$", line)
        if not m:
            continue
        name, value = m.group(1).strip(), m.group(2)
        if name == "Function Name":
            current = kernels.setdefault(value, {})
        elif current is not None and name in fields:
            current[fields[name]] = int(value)
    return kernels


def ptx_counts(ptx):
    kernels = {}
    for m in re.finditer(r"\.entry (\w+)\((.*?)\n\}", ptx, re.S):
        body = m.group(2)
        counts = {k: len(re.findall(r"^\s+" + p + r"[.\s]", body, re.M)) for k, p in PTX_COUNTS.items()}
        counts["instructions"] = len(re.findall(r"^\s+[@a-z][^\n]*;", body, re.M))
        kernels[m.group(1)] = counts
    return kernels


def parse_options(options):
    return dict(re.findall(r"-D(\w+)=(\S+)", options))


def access_records(path):
    """Warp-model records, each tagged with the case whose marker precedes it."""
    records, case = [], None
    for line in open(path):
        rec = json.loads(line)
        if rec.get("record") == "case":
            case = f"{rec['case']} {rec['shape']}"
        elif rec.get("record") == "warp-model":
            defines = {k: v for k, v in parse_options(rec["options"]).items() if k != "FK_NO_FORCE_INLINE"}
            rec["case"], rec["defines"] = case, defines
            records.append(rec)
    return records


def row_elements(case):
    """Elements of a row-wise case (`softmax.softmax 8x1024`, `topk.topK 8x1024k8`), else None."""
    m = re.search(r"^(softmax|normalizer|topk)\.\S+ (\d+)x(\d+)(k\d+)?$", case or "")
    return int(m.group(2)) * int(m.group(3)) if m else None


def summarise_access(recs):
    """One kernel's access numbers over its launches in the model run."""
    tot = lambda f: sum(f(r) for r in recs)
    elements = [row_elements(r["case"]) for r in recs]
    groups = tot(lambda r: r["groups"])
    gl, gs = (lambda r: r["global_load"]), (lambda r: r["global_store"])
    ll, ls = (lambda r: r["local_load"]), (lambda r: r["local_store"])
    local_warp = tot(lambda r: ll(r)["warp_accesses"] + ls(r)["warp_accesses"])
    local_ways = tot(lambda r: ll(r)["ways_mean"] * ll(r)["warp_accesses"] + ls(r)["ways_mean"] * ls(r)["warp_accesses"])
    local_items = tot(lambda r: ll(r)["item_accesses"] + ls(r)["item_accesses"])
    local_bytes = tot(lambda r: ll(r)["bytes"] + ls(r)["bytes"])
    fma = tot(lambda r: r["fma"])
    items = tot(lambda r: r["groups"] * r["local"][0] * r["local"][1] * r["local"][2])
    ratio = lambda a, b: a / b if b else None
    return {
        "launches": len(recs), "groups": groups, "items": items, "fma": fma,
        "instructions": tot(lambda r: r["instructions"]),
        # executed (optimised) instructions per element of the row-wise families: what the
        # issue rate of a streaming kernel is paid in
        "instructions_per_element": ratio(tot(lambda r: r["instructions"]), sum(elements))
        if all(elements) else None,
        "global_load_eff": ratio(tot(lambda r: gl(r)["useful_bytes"]), tot(lambda r: gl(r)["sector_bytes"])),
        "global_store_eff": ratio(tot(lambda r: gs(r)["useful_bytes"]), tot(lambda r: gs(r)["sector_bytes"])),
        "global_load_bytes_per_item_access": ratio(tot(lambda r: gl(r)["useful_bytes"]),
                                                   tot(lambda r: gl(r)["item_accesses"])),
        "global_sector_bytes": tot(lambda r: gl(r)["sector_bytes"] + gs(r)["sector_bytes"]),
        "global_distinct_bytes": tot(lambda r: r["global_distinct_bytes"]),
        "global_useful_bytes": tot(lambda r: gl(r)["useful_bytes"] + gs(r)["useful_bytes"]),
        "local_ways_mean": ratio(local_ways, local_warp),
        "local_ways_worst": max([max(ll(r)["ways_worst"], ls(r)["ways_worst"]) for r in recs] or [0]),
        "local_warp_accesses": local_warp, "local_bytes": local_bytes,
        "local_per_fma": ratio(local_items, fma),
        "barriers_per_group": ratio(tot(lambda r: r["barriers"]), groups),
        "active": ratio(tot(lambda r: r["active"]), len(recs)),  # the launches' mean
        "exp_active": ratio(tot(lambda r: r["exp_active"]), sum(1 for r in recs if r["exp_calls"] > 0)),
    }


def predict(access, amd, machine):
    """Predicted fraction of the machine's peak: of its fp32 FMA rate for kernels that do
    more than 4 FMAs per distinct global byte, else of its copy bandwidth. Each limiter is a time
    in clocks per SM for the model-shape work; the prediction is the ideal time over the
    largest, times a latency factor from occupancy (Little's law on resident warps)."""
    if not access or not amd:
        return None
    m = MACHINES[machine]
    warp = m["warp"]
    items_per_group = access["items"] / max(access["groups"], 1)
    # Occupancy: resident warps per SM/CU. MI250: the compiler's waves per SIMD x 4.
    # H100: 64 K registers over (VGPRs rounded to 8) x 32 lanes, and shared memory.
    if machine == "mi250":
        warps = amd["occupancy"] * 4
        if amd.get("lds"):  # 64 KiB of LDS per CU: whole groups of 64-lane waves
            warps = min(warps, m["lds"] // amd["lds"] * max(1, -(-items_per_group // 64)))
    else:
        regs = max(8, -(-amd["vgprs"] // 8) * 8)
        warps = min(m["max_warps"], m["regs"] // (regs * 32))
        if amd.get("lds"):
            groups = m["lds"] // amd["lds"]
            warps = min(warps, groups * max(1, -(-items_per_group // 32)))
    warp_instr = access["instructions"] / warp
    issue = warp_instr / m["issue_per_clk"]
    lds = access["local_bytes"] / m["lds_bytes_per_clk"] * (access["local_ways_mean"] or 1)
    fma = access["fma"] / m["fma_per_clk"]
    per_clk = lambda bandwidth: bandwidth / m["units"] / m["clock"]  # bytes per clock per SM/CU
    # DRAM carries the launch's distinct sectors; every warp access's sectors pass through L2
    dram_clk = max(access["global_distinct_bytes"] / per_clk(m["dram"]),
                   access["global_sector_bytes"] / per_clk(m["l2"]))
    compute = access["fma"] > 4 * max(access["global_distinct_bytes"], 1)
    if compute:
        ideal = fma
        latency = min(1.0, warps / 8)  # 2 warps per scheduler hide an FMA's and an LDS read's latency
        bound = max(fma, issue, lds, dram_clk)
        kind = "fma"
    else:
        ideal = access["global_distinct_bytes"] / per_clk(m["dram"])  # each byte once: a copy's time
        # bytes in flight per SM: resident warps x lanes x bytes per load, against BW x latency
        in_flight = warps * warp * (access["global_load_bytes_per_item_access"] or 4)
        latency = min(1.0, in_flight / (m["dram"] * m["latency"] / m["units"]))
        bound = max(dram_clk, issue, lds)
        kind = "copy"
    limiter = max([("fma", fma), ("issue", issue), ("lds", lds), ("memory", dram_clk)], key=lambda x: x[1])[0]
    return {"of": kind, "fraction": round(ideal / bound * latency, 3) if bound else None,
            "limiter": limiter, "warps_per_unit": warps, "latency_factor": round(latency, 3)}


def fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel-bench", required=True)
    ap.add_argument("--kernels", required=True, help="the Kernels/ folder")
    ap.add_argument("--plugin", help="warp_model.so (not needed with --compile-only)")
    ap.add_argument("--work", required=True, help="a folder for compiler outputs and the model's records")
    ap.add_argument("--out", help="JSON lines, one per kernel specialisation")
    ap.add_argument("--filter", help="only gpu-shapes cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--compile-only", action="store_true",
                    help="only compile the model shapes' kernels for every target (make test): no Oclgrind run")
    args = ap.parse_args()
    if not args.compile_only and not args.plugin:
        ap.error("--plugin is needed unless --compile-only")
    os.makedirs(args.work, exist_ok=True)
    compiled = os.path.join(args.work, "compiled")
    shutil.rmtree(compiled, ignore_errors=True)
    os.makedirs(compiled)

    # the kernels compiled here are the ones kernel-bench runs (not its bundled copy)
    env = dict(os.environ, FUSED_KERNELS_KERNELS_DIR=os.path.abspath(args.kernels))
    if args.compile_only:
        suite, accesses = [], []
        model = gpu_shapes(args.kernel_bench, "model", "pthread", env, filt=args.filter)
    else:
        suite = gpu_shapes(args.kernel_bench, "suite", "pthread", env, filt=args.filter)
        marker = os.path.join(args.work, "warp-model.jsonl")
        if os.path.exists(marker):
            os.remove(marker)
        # 64 KiB of __local (Oclgrind's default is 32), as on AMD GPUs: the plans pick the GPU tiles
        model_env = dict(env, OCLGRIND_PLUGINS=args.plugin, WARP_MODEL_OUT=marker,
                         FUSED_KERNELS_SIMULATOR_OPTIMIZE="1", OCLGRIND_LOCAL_MEM_SIZE="65536")
        for k in ("OCLGRIND_DATA_RACES", "OCLGRIND_UNINITIALIZED", "OCLGRIND_CHECK_API"):
            model_env.pop(k, None)
        model = gpu_shapes(args.kernel_bench, "model", "oclgrind", model_env, marker=marker, filt=args.filter)
        accesses = access_records(marker)

    kernels = {}
    for rec in suite + model:
        for k in rec["kernels"]:
            key = spec_key(k["file"], k["entry"], k["defines"])
            entry = kernels.setdefault(key, {"spec": k["spec"], "file": k["file"], "entry": k["entry"],
                                             "defines": k["defines"], "cases": []})
            entry["cases"].append(f"{rec['set']}:{rec['name']} {rec['shape']}")

    shim = os.path.join(compiled, "nvptx-math")
    open(shim + ".ll", "w").write(NVPTX_MATH_SHIM)
    out = run(["llvm-as-15", shim + ".ll", "-o", shim + ".bc"])
    if out.returncode != 0:
        sys.exit("gpu-model: the NVPTX math shim does not assemble:\n" + out.stderr)
    builds = {(k[0], k[2], t) for k in kernels for t in TARGETS}
    results, failures = {}, []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(compile_kernel, args.kernels, f, dict(d), t, compiled): (f, d, t) for f, d, t in builds}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()

    rows = []
    for key, k in sorted(kernels.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        file, entry, defines = key
        record = {"record": "gpu-model", **k, "amd": {}, "ptx": None}
        for t in TARGETS:
            res, err = results[(file, defines, t)]
            if err or res is None or entry not in res:
                failures.append(f"{k['spec']} for {t}: {err or 'kernel missing from the output'}")
                continue
            if t == "nvptx64":
                record["ptx"] = res[entry]
            else:
                record["amd"][t] = res[entry]
        recs = [r for r in accesses if r["kernel"] == entry and r["defines"] == k["defines"]]
        record["access"] = summarise_access(recs) if recs else None
        record["predicted"] = {m: predict(record["access"], record["amd"].get("gfx90a"), m) for m in MACHINES}
        rows.append(record)

    if args.out:
        with open(args.out, "w") as out:
            for r in rows:
                out.write(json.dumps(r, sort_keys=True) + "\n")
    if args.compile_only:
        print(f"gpu-model: {len(rows)} GPU kernel specialisations compiled for {', '.join(TARGETS)}; "
              f"{len(failures)} failed")
    else:
        print_table(rows)
    if failures:
        print("\ngpu-model: kernels that do not compile:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)


def print_table(rows):
    head = ("kernel", "defines", "90a vgpr/sgpr/spill/scr/occ/lds", "1100 vgpr/spill/occ", "ptx sh/gl/bar/fma",
            "ld eff", "B/ld", "st eff", "ways avg/max", "lds/fma", "bar/grp", "active", "instr/elem", "H100", "MI250")
    print(" | ".join(head))
    for r in rows:
        a, b, p, x = r["amd"].get("gfx90a"), r["amd"].get("gfx1100"), r["ptx"], r["access"] or {}
        amd90 = (f"{a['vgprs']}/{a['sgprs']}/{a['sgpr_spills'] + a['vgpr_spills']}/{a['scratch']}/{a['occupancy']}/{a['lds']}"
                 if a else "FAIL")
        amd11 = f"{b['vgprs']}/{b['sgpr_spills'] + b['vgpr_spills']}/{b['occupancy']}" if b else "FAIL"
        ptx = f"{p['ld.shared'] + p['st.shared']}/{p['ld.global']}/{p['bar.sync']}/{p['fma']}" if p else "FAIL"
        pred = lambda m: (f"{r['predicted'][m]['fraction']:.2f} {r['predicted'][m]['of']}"
                          if r["predicted"].get(m) else "-")
        defines = " ".join(f"{k}={v}" for k, v in sorted(r["defines"].items()))
        print(" | ".join([f"{r['file']}:{r['entry']}", defines, amd90, amd11, ptx,
                          fmt(x.get("global_load_eff")), fmt(x.get("global_load_bytes_per_item_access"), "{:.0f}"),
                          fmt(x.get("global_store_eff")), f"{fmt(x.get('local_ways_mean'))}/{fmt(x.get('local_ways_worst'), '{:.0f}')}",
                          fmt(x.get("local_per_fma"), "{:.3f}"), fmt(x.get("barriers_per_group"), "{:.1f}"),
                          fmt(x.get("active")), fmt(x.get("instructions_per_element"), "{:.1f}"), pred("h100"),
                          pred("mi250")]))


if __name__ == "__main__":
    main()

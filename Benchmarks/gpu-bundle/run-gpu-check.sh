#!/bin/bash
# run-gpu-check.sh — the GPU check of the gpu-bundle folder (`make gpu-bundle`): finds the
# machine's OpenCL GPU, then runs kernel-bench's devices, roofline (GPU and CPU kernel shapes),
# parity and suite on it, each command's JSON lines and standard error into a results
# folder, with a summary. No Swift needed; works under `env -i`. See README.txt.
#
# Environment (all optional):
#   OCL_ICD_VENDORS         ICD folder to use as is (else /etc/OpenCL/vendors, else a vendor
#                           library found directly, named in a folder written here)
#   GPU_CHECK_RESULTS       where the results folder goes (default: results/ in this folder)
#   GPU_CHECK_REPEAT        the suite's --repeat (default 3)
#   GPU_CHECK_DEVICE        a kernel-bench --device selector instead of the first GPU
#   GPU_CHECK_SYSTEM_VENDORS  the system ICD folder to look in (default /etc/OpenCL/vendors;
#                           an empty folder simulates a machine without ICD files)
#   GPU_CHECK_VENDOR_LIBS   vendor libraries to look for when there are no ICD files
#                           (default: NVIDIA, AMD and Intel's OpenCL libraries)
#   GPU_CHECK_BUDGET        the whole run's time budget in seconds (default 480; --budget N)
#   GPU_CHECK_PRESET        cpu or gpu: the kernel shape of parity and the suite (default: by
#                           device type, gpu on a GPU; gpu makes a CPU device a stand-in)
set -uo pipefail
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
budget=${GPU_CHECK_BUDGET:-480}
while [ $# -gt 0 ]; do
  case $1 in
    --budget) budget=${2:-}; shift 2 ;;
    --budget=*) budget=${1#*=}; shift ;;
    *) echo "run-gpu-check: unknown argument $1 (usage: run-gpu-check.sh [--budget SECONDS])" >&2; exit 2 ;;
  esac
done
[[ $budget =~ ^[0-9]+$ ]] && [ "$budget" -ge 60 ] || { echo "run-gpu-check: --budget must be whole seconds, at least 60" >&2; exit 2; }
deadline=$(($(date +%s) + budget))
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "run-gpu-check: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# --- glibc: the bundle carries everything but glibc, which must be new enough.
need=$(cat "$here/GLIBC_REQUIRED")
have=$(getconf GNU_LIBC_VERSION 2>/dev/null) || have=""
have=${have##* }
[ -n "$have" ] || die "cannot read this machine's glibc version (getconf GNU_LIBC_VERSION); kernel-bench needs glibc >= $need"
[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" = "$need" ] \
  || die "this machine has glibc $have; kernel-bench needs glibc >= $need (GLIBC_$need symbols). Use a newer distribution."

# --- results folder, named for the host and the time (UTC).
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="${GPU_CHECK_RESULTS:-$here/results}/$(uname -n)-$stamp"
mkdir -p "$out" || die "cannot create $out"
summary="$out/summary.txt"
note() { echo "$*" | tee -a "$summary" >&2; }
note "GPU check on $(uname -n), $(date -u '+%Y-%m-%d %H:%M:%S UTC'); glibc $have (bundle needs $need)"
note "results: $out"

export FUSED_KERNELS_KERNELS_DIR="$here/Kernels"
export FUSED_KERNELS_CACHE_DIR="$out/cache"

find_library() {  # the path of a library by soname: the loader's cache, then the usual folders
  local name=$1 path
  path=$(ldconfig -p 2>/dev/null | while read -r soname rest; do
           [ "$soname" = "$name" ] && [[ $rest == *x86-64* ]] && { echo "${rest##*=> }"; break; }
         done)
  [ -n "$path" ] && [ -e "$path" ] && { echo "$path"; return 0; }
  for dir in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /lib64 /usr/local/lib \
             /usr/lib/x86_64-linux-gnu/nvidia/current /usr/local/nvidia/lib64 /usr/local/cuda/lib64 /usr/lib/wsl/lib \
             /opt/rocm/lib /opt/rocm/opencl/lib /opt/amdgpu-pro/lib64 /opt/amdgpu/lib64 \
             /usr/lib/x86_64-linux-gnu/intel-opencl /opt/intel/opencl/lib64; do
    [ -e "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  done
  return 1
}

# --- the binary and its libraries, gzipped in the bundle, unpacked into a temporary folder.
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || die "cannot create a temporary folder"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/lib"
gzip -dc "$here/bin/kernel-bench.gz" > "$work/bin/kernel-bench" && chmod +x "$work/bin/kernel-bench" \
  || die "cannot unpack kernel-bench into $work"
for f in "$here"/lib/*.gz; do gzip -dc "$f" > "$work/lib/$(basename "${f%.gz}")" || die "cannot unpack $f"; done
# The bundled ICD loader and OpenBLAS are always used (first on the library path): the
# combination that was tested, and an ICD loader (ocl-icd) whose OCL_ICD_VENDORS takes a
# folder, which the direct-library case below relies on. glibc, libgcc_s and the driver's
# own libraries come from the machine; libstdc++ too unless it is older than needed.
cxx_need=$(cat "$here/GLIBCXX_REQUIRED")
if cxx=$(find_library libstdc++.so.6) && grep -qa "GLIBCXX_$cxx_need" "$cxx"; then
  note "libstdc++: the machine's ($cxx has GLIBCXX_$cxx_need)"
else
  fallback_need=$(cat "$here/lib/fallback/GLIBC_REQUIRED")
  [ "$(printf '%s\n%s\n' "$fallback_need" "$have" | sort -V | head -1)" = "$fallback_need" ] \
    || die "this machine's libstdc++ lacks GLIBCXX_$cxx_need and the bundled one needs glibc >= $fallback_need (have $have)"
  gzip -dc "$here/lib/fallback/libstdc++.so.6.gz" > "$work/lib/libstdc++.so.6" || die "cannot unpack libstdc++"
  note "libstdc++: the bundled one (the machine's lacks GLIBCXX_$cxx_need)"
fi
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# --- the GPU's ICD.
system_vendors=${GPU_CHECK_SYSTEM_VENDORS:-/etc/OpenCL/vendors}
if [ -n "${OCL_ICD_VENDORS:-}" ]; then
  note "ICD: OCL_ICD_VENDORS=$OCL_ICD_VENDORS (given)"
elif compgen -G "$system_vendors/*.icd" > /dev/null; then
  export OCL_ICD_VENDORS=$system_vendors
  note "ICD: files in $system_vendors: $(cd "$system_vendors" && echo *.icd)"
else
  note "ICD: no .icd file in $system_vendors; looking for a vendor library directly"
  vendors="$out/vendors"
  mkdir -p "$vendors"
  for name in ${GPU_CHECK_VENDOR_LIBS:-libnvidia-opencl.so.1 libamdocl64.so libigdrcl.so}; do
    if path=$(find_library "$name"); then
      echo "$path" > "$vendors/${name%%.so*}.icd"
      note "ICD: $path, named in $vendors/${name%%.so*}.icd"
    fi
  done
  compgen -G "$vendors/*.icd" > /dev/null || die "no OpenCL ICD file and no vendor library (is a GPU driver installed?)"
  export OCL_ICD_VENDORS=$vendors
fi

# --- the steps: each command's JSON lines to <step>.jsonl, its standard error to <step>.stderr.log.
# Each step has its own time limit, cut to what is left of the budget (less a reserve for the
# summary); a step stopped by its limit keeps the records it finished (kernel-bench writes a
# line as soon as it has it), and a step with no time left is skipped and noted.
failed=0
reserve=15
step() {  # step NAME LIMIT ARGS...: runs kernel-bench ARGS within LIMIT seconds
  local name=$1 limit=$2 status start left
  shift 2
  left=$((deadline - $(date +%s) - reserve))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 5 ]; then
    note "step $name: skipped, the budget is spent (kernel-bench $*)"
    return 0
  fi
  say "$name: kernel-bench $* (limit $limit s)"
  start=$(date +%s)
  timeout --kill-after=5 "$limit" "$work/bin/kernel-bench" "$@" > "$out/$name.jsonl" 2> "$out/$name.stderr.log"
  status=$?
  local how="exit $status"
  [ $status = 124 ] || [ $status = 137 ] && how="stopped at its limit of $limit s (kept what finished)"
  note "step $name: $how, $(($(date +%s) - start)) s, $(wc -l < "$out/$name.jsonl") JSON lines (kernel-bench $*)"
  case $status in 0|124|137) ;; *) failed=1; tail -5 "$out/$name.stderr.log" >&2 ;; esac
  return $status
}

step devices 30 devices --json || die "kernel-bench devices failed (see $out/devices.stderr.log)"
field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" <<< "$2"; }
if [ -n "${GPU_CHECK_DEVICE:-}" ]; then
  line=$(grep -m1 "\"selector\" *: *\"$GPU_CHECK_DEVICE\"" "$out/devices.jsonl") || line=""
  device=$GPU_CHECK_DEVICE
else
  line=$(grep -m1 '"type" *: *"gpu"' "$out/devices.jsonl") || line=""
  if [ -z "$line" ]; then
    line=$(grep -v '"type" *: *"cpu-path"' "$out/devices.jsonl" | head -1)
    [ -n "$line" ] || die "no OpenCL device at all (see $out/devices.jsonl and the ICD lines above)"
    note "!!! NO GPU FOUND: falling back to the first OpenCL device, $(field selector "$line") ($(field type "$line")) !!!"
    note "!!! These results are NOT GPU results. !!!"
  fi
  device=$(field selector "$line")
fi
note "device: $device, $(field name "$line"), type $(field type "$line"), platform $(field platform "$line"), driver $(field driver "$line")"

step roofline 60 roofline --device "$device" --preset gpu --json
preset=()
[ -n "${GPU_CHECK_PRESET:-}" ] && preset=(--preset "$GPU_CHECK_PRESET")
step parity 120 parity --device "$device" --quick "${preset[@]}" --json
for family in softmax normalizer topk matmul cross-entropy attention; do
  step "suite-$family" 60 suite --device "$device" --families "$family" --no-roofline "${preset[@]}" \
    --repeat "${GPU_CHECK_REPEAT:-3}" --json
done

# Every JSON line must parse, where a python3 can check it.
if command -v python3 > /dev/null; then
  for f in "$out"/*.jsonl; do
    python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$f" 2> /dev/null \
      || { note "JSON: $f does not parse"; failed=1; }
  done
  note "JSON: every .jsonl file checked with python3"
fi
# Measured fraction of the roofline against the prediction of `make gpu-model`.
if command -v python3 > /dev/null && [ -f "$here/predictions.jsonl" ]; then
  python3 "$here/gpu-summary.py" "$here/predictions.jsonl" "$out" | tee -a "$summary" >&2 \
    || { note "summary table: gpu-summary.py failed"; failed=1; }
else
  note "summary table: skipped (needs python3 and predictions.jsonl)"
fi
note "GPU check $([ $failed = 0 ] && echo passed || echo FAILED) in $(($(date +%s) - deadline + budget)) s of a $budget s budget: $out"
exit $failed

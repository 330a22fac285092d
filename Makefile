# Entry points, each doing its own set-up on a fresh Debian machine:
#   make bench     build kernel-bench (release, for this CPU) and run its default suite
#   make test      run every test on the CPU path and the three-device OpenCL matrix
#   make results   run the suite and write Benchmarks/RESULTS.md and Benchmarks/results/*.svg
#   make compare   time JAX and PyTorch on kernel-bench's shapes, interleaved with it, into RESULTS.md
#   make gpu-bundle a folder (and .tar.gz) that runs the GPU check on a machine without Swift
#   make gpu-model  GPU-shape quality without a GPU: GPU compilers, a warp access model, predictions
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:

PACKAGES := ocl-icd-opencl-dev opencl-headers pocl-opencl-icd oclgrind clinfo pkg-config valgrind libopenblas-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ICD_DIR := $(CURDIR)/.build/icd
OCLGRIND_LOG_FILE := $(CURDIR)/.build/oclgrind.log
# Two PoCL devices: the multithreaded one and the single-threaded reference one.
export POCL_DEVICES ?= pthread basic

.PHONY: bench test deps icd leakcheck docs host-bench results compare gpu-bundle

deps:
	@missing=""
	for p in $(PACKAGES); do
	  # dpkg -s succeeds for removed-but-not-purged packages too: ask for the status itself
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"
	done
	if [ -n "$$missing" ]; then
	  echo "installing:$$missing"
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; } 2>&1
	fi

# A vendor folder with PoCL and the Oclgrind simulator: three devices on a CPU-only box.
icd: deps
	@mkdir -p $(ICD_DIR)
	cp /etc/OpenCL/vendors/pocl.icd $(ICD_DIR)/
	dpkg -L oclgrind | grep -m1 'liboclgrind-rt-icd.so$$' > $(ICD_DIR)/oclgrind.icd

# kernel-bench with the CPU path's SIMD code compiled for this machine's vector ISA (AVX-512
# here, with FMA): 1.2-1.9x over the baseline x86-64 build (Benchmarks/NOTES.md).
# Standard error stays empty on success: the build's progress goes to a log, shown if it fails.
HOST_KERNEL_BENCH := .build/host/release/kernel-bench
host-bench: deps
	@mkdir -p .build
	echo "building kernel-bench (release, -target-cpu native; log: .build/bench-build.log)"
	swift build -c release --product kernel-bench --build-path .build/host -Xswiftc -target-cpu -Xswiftc native \
	  > .build/bench-build.log 2>&1 || { cat .build/bench-build.log >&2; exit 1; }

bench: host-bench
	$(HOST_KERNEL_BENCH)

# The suite run in-process by `kernel-bench report`, which writes the report and its charts
# (keeping RESULTS.md's notes and compare sections), and the records in .build/results.jsonl
# (`kernel-bench report --input .build/results.jsonl` redraws without measuring).
results: host-bench
	$(HOST_KERNEL_BENCH) report --save-records .build/results.jsonl

# JAX (and PyTorch where it imports) in a local venv, timed case by case against kernel-bench
# in interleaved rounds; the table goes between RESULTS.md's compare markers.
# PyTorch: the venv's (a local CPU wheel is installed when one exists: the registry's default
# wheel is a CUDA build), else TORCH_PYTHON, python3 or ~/peers-env/bin/python.
PEERS_VENV := .build/peers-venv
TORCH_PYTHON ?=
COMPARE_FLAGS ?=
compare: host-bench
	[ -x $(PEERS_VENV)/bin/python ] || python3 -m venv --system-site-packages $(PEERS_VENV)
	py=$(PEERS_VENV)/bin/python
	$$py -c 'import jax, numpy' 2>/dev/null || $$py -m pip install -q jax jaxlib numpy
	if ! $$py -c 'import torch' 2>/dev/null; then
	  wheel=$$(ls /opt/wheels/torch-*+cpu*.whl 2>/dev/null | head -1 || true)
	  [ -n "$$wheel" ] || wheel=$$(find / \( -path /proc -o -path /sys -o -path /dev \) -prune \
	    -o -name 'torch-*+cpu*.whl' -print -quit 2>/dev/null || true)
	  if [ -n "$$wheel" ]; then $$py -m pip install -q "$$wheel" || echo "torch: $$wheel did not install"; fi
	fi
	$$py Benchmarks/peers/compare.py --kernel-bench $(HOST_KERNEL_BENCH) --results Benchmarks/RESULTS.md \
	  $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON)) $(COMPARE_FLAGS)

test: icd
	python3 .ci/check-doc-references   # README, DESIGN.md, NOTES: every path and symbol exists
	rm -f $(OCLGRIND_LOG_FILE)
	export FUSED_KERNELS_CACHE_DIR=$(CURDIR)/.build/test-cache
	# kernel-bench run's round trip writes and reads .npy files with NumPy: it must run.
	# (Debian's own python3 refuses pip installs, PEP 668: its package then.)
	python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy \
	  || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-numpy; }
	export FUSED_KERNELS_EXPECT_NUMPY=1
	# The three devices must all be found (RuntimeTests.expectedDevicesWereFound).
	OCL_ICD_VENDORS=$(ICD_DIR) FUSED_KERNELS_EXPECT_DEVICES=pthread,basic,oclgrind \
	  OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=1 OCLGRIND_CHECK_API=1 \
	  OCLGRIND_LOG=$(OCLGRIND_LOG_FILE) swift test
	if [ -s $(OCLGRIND_LOG_FILE) ]; then echo "Oclgrind reported:"; cat $(OCLGRIND_LOG_FILE); exit 1; fi
	# No OpenCL platform at all: the CPU path must serve everything.
	OCL_ICD_VENDORS=/nonexistent FUSED_KERNELS_EXPECT_NO_OPENCL=1 swift test --skip-build
	# GPU shapes: the warp model's toy tests, and every GPU kernel compiled for gfx90a,
	# gfx1100 and NVPTX with its plan's options (a kernel that does not compile fails).
	$(MAKE) --no-print-directory gpu-model-plugin
	swift build --product kernel-bench
	OCL_ICD_VENDORS=$(ICD_DIR) python3 Benchmarks/gpu-model/gpu_model.py --compile-only \
	  --kernel-bench .build/debug/kernel-bench --kernels Kernels --work $(GPU_MODEL)/work
	$(MAKE) --no-print-directory leakcheck
	$(MAKE) --no-print-directory docs

# Engines created, run and destroyed 1 and 4 times under valgrind (after a warm-up run
# that fills the program caches): nothing may be lost, and 4 cycles hold no more than 1.
leakcheck: deps
	swift build -c release --product kernel-bench
	export FUSED_KERNELS_CACHE_DIR=$(CURDIR)/.build/leakcheck-cache
	run() { valgrind --leak-check=full .build/release/kernel-bench cycle --device pthread --count $$1 2>&1; }
	run 1 >/dev/null
	summary() { grep -E "(definitely|indirectly) lost:|in use at exit:" | sed 's/^==[0-9]*== *//'; }
	one=$$(run 1 | summary); four=$$(run 4 | summary)
	echo "1 cycle:"; echo "$$one"; echo "4 cycles:"; echo "$$four"
	bytes() { grep "$$1" | grep -oE '[0-9,]+ bytes' | head -1 | tr -d ', bytes'; }
	for s in "$$one" "$$four"; do
	  [ "$$(bytes definitely <<<"$$s")" = 0 ] && [ "$$(bytes indirectly <<<"$$s")" = 0 ] || { echo "leak"; exit 1; }
	done
	[ "$$(bytes 'in use' <<<"$$four")" -le $$(( $$(bytes 'in use' <<<"$$one") + 4096 )) ] || { echo "memory grows with cycles"; exit 1; }
	echo "leakcheck: no leak"

# The DocC documentation of the FusedKernels module, into
# .build/plugins/Swift-DocC/outputs/FusedKernels.doccarchive: docc's warnings (a symbol link
# that does not resolve, a documented parameter that does not exist, ...) are errors, and
# every public symbol declared in Sources/FusedKernels must have a doc comment of its own
# (.ci/doc-coverage.swift reads the symbol graphs the plugin extracted, public symbols only).
docs: deps
	mkdir -p .build
	stamp=$(CURDIR)/.build/docs.stamp
	touch $$stamp
	swift package generate-documentation --target FusedKernels --warnings-as-errors
	graphs=$$(find .build -path '*/extracted-symbols/*/FusedKernels/FusedKernels*.symbols.json' -newer $$stamp)
	[ -n "$$graphs" ] || { echo "docs: no symbol graph of FusedKernels was extracted"; exit 1; }
	swift .ci/doc-coverage.swift $$graphs

# The GPU check, for a Linux x86-64 machine with an OpenCL GPU driver and no Swift
# (Benchmarks/gpu-bundle/README.txt): kernel-bench release with the Swift runtime linked in,
# for the baseline x86-64 (the GPU machine's CPU is unknown: no -target-cpu native), built in
# its own scratch folder; Kernels/; in lib/ every library it loads but glibc's and GCC's
# runtime (libgcc_s), which every glibc system has; libstdc++ in lib/fallback/, used only
# where the machine's is older than the binary needs (a driver's own C++ libraries may need
# a newer one). GLIBC_REQUIRED (binary and lib/) and GLIBCXX_REQUIRED (binary) are the
# newest symbol versions used, which run-gpu-check.sh checks first. The binary (34 MB of it
# ICU data, in the static Foundation) and OpenBLAS (kernels for every x86 CPU) are 97 MB:
# they and the other libraries are gzipped (run-gpu-check.sh unpacks them into a temporary
# folder) so that the folder stays under 64 MiB. .build/gpu-bundle.tar.gz is the folder packed.
BUNDLE := .build/gpu-bundle
BUNDLE_BUILD := swift build -c release --product kernel-bench --static-swift-stdlib --scratch-path .build/bundle-build
gpu-bundle: deps
	@mkdir -p .build
	echo "building kernel-bench (release, static Swift stdlib; log: .build/bundle-build.log)"
	$(BUNDLE_BUILD) > .build/bundle-build.log 2>&1 || { cat .build/bundle-build.log >&2; exit 1; }
	rm -rf $(BUNDLE) $(BUNDLE).tar.gz
	mkdir -p $(BUNDLE)/bin $(BUNDLE)/lib/fallback
	strip -o $(BUNDLE)/bin/kernel-bench "$$($(BUNDLE_BUILD) --show-bin-path)/kernel-bench"
	cp -r Kernels Benchmarks/gpu-bundle/run-gpu-check.sh Benchmarks/gpu-bundle/gpu-summary.py Benchmarks/gpu-bundle/README.txt $(BUNDLE)/
	cp Benchmarks/gpu-model/gpu-model.jsonl $(BUNDLE)/predictions.jsonl
	system='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s)\.so'
	ldd $(BUNDLE)/bin/kernel-bench | awk '$$2 == "=>" && $$3 ~ /^\// { print $$1, $$3 }' | while read -r name path; do
	  [[ $$name =~ $$system ]] && continue
	  [[ $$name == libstdc++* ]] && dir=$(BUNDLE)/lib/fallback || dir=$(BUNDLE)/lib
	  cp -L "$$path" $$dir/$$name
	done
	newest() { objdump -T "$${@:2}" | grep -oE "$$1_[0-9]+(\.[0-9]+)+" | sed "s/$$1_//" | sort -uV | tail -1; }
	newest GLIBC $(BUNDLE)/bin/kernel-bench $(BUNDLE)/lib/*.so* > $(BUNDLE)/GLIBC_REQUIRED
	newest GLIBCXX $(BUNDLE)/bin/kernel-bench > $(BUNDLE)/GLIBCXX_REQUIRED
	newest GLIBC $(BUNDLE)/lib/fallback/*.so* > $(BUNDLE)/lib/fallback/GLIBC_REQUIRED
	gzip -9 $(BUNDLE)/bin/kernel-bench $(BUNDLE)/lib/*.so* $(BUNDLE)/lib/fallback/*.so*
	tar -czf $(BUNDLE).tar.gz -C .build gpu-bundle
	echo "$(BUNDLE): $$(du -sh $(BUNDLE) | cut -f1); needs glibc >= $$(cat $(BUNDLE)/GLIBC_REQUIRED)" \
	  "(libstdc++ >= GLIBCXX_$$(cat $(BUNDLE)/GLIBCXX_REQUIRED), else lib/fallback's, which needs glibc" \
	  ">= $$(cat $(BUNDLE)/lib/fallback/GLIBC_REQUIRED)); $(BUNDLE).tar.gz: $$(du -h $(BUNDLE).tar.gz | cut -f1)"
	size=$$(du -sm $(BUNDLE) | cut -f1)
	[ "$$size" -le 64 ] || { echo "gpu-bundle: $$size MiB, over the 64 MiB limit"; exit 1; }

# GPU-shape quality without a GPU (Benchmarks/gpu-model/gpu_model.py): every GPU-preset
# kernel compiled with clang-15 for gfx90a, gfx1100 (AMDGPU) and NVPTX with the plans' own
# -D options, run on Oclgrind under the warp access model (an Oclgrind plugin built
# against the headers of the Debian source of the Oclgrind that Debian ships), and a
# predicted fraction of an H100's and an MI250's peak. Prints the table; JSON lines in
# Benchmarks/gpu-model/gpu-model.jsonl (kept: the GPU check compares its measurements with
# them). A kernel that does not compile for a target fails.
GPU_MODEL := .build/gpu-model
GPU_MODEL_PACKAGES := clang-15 llvm-15 libclc-15 llvm-14-dev g++ curl
OCLGRIND_SOURCE := http://deb.debian.org/debian/pool/main/o/oclgrind/oclgrind_21.10.orig.tar.gz
OCLGRIND_SOURCE_SHA256 := b40ea81fcf64e9012d63c3128640fde9785ef4f304f9f876f53496595b8e62cc
.PHONY: gpu-model gpu-model-plugin
gpu-model-plugin: deps
	@$(MAKE) --no-print-directory deps PACKAGES="$(GPU_MODEL_PACKAGES)"
	mkdir -p $(GPU_MODEL)
	if [ ! -f $(GPU_MODEL)/oclgrind-src/src/core/Plugin.h ]; then
	  curl -fsSL -o $(GPU_MODEL)/oclgrind.tar.gz $(OCLGRIND_SOURCE)
	  echo "$(OCLGRIND_SOURCE_SHA256)  $(GPU_MODEL)/oclgrind.tar.gz" | sha256sum -c --quiet
	  rm -rf $(GPU_MODEL)/oclgrind-src && mkdir $(GPU_MODEL)/oclgrind-src
	  tar -xzf $(GPU_MODEL)/oclgrind.tar.gz -C $(GPU_MODEL)/oclgrind-src --strip-components=1
	fi
	lib=$$(dpkg -L liboclgrind-21.10 | grep -m1 'liboclgrind-21.10.so$$')
	# -fno-rtti: liboclgrind is built without RTTI, as LLVM is
	g++ -std=c++17 -O2 -fno-rtti -shared -fPIC -I$(GPU_MODEL)/oclgrind-src/src -I/usr/lib/llvm-14/include \
	  Benchmarks/gpu-model/warp_model.cpp -o $(GPU_MODEL)/warp_model.so $$lib -L/usr/lib/llvm-14/lib -lLLVM-14
	python3 Benchmarks/gpu-model/test_warp_model.py $(GPU_MODEL)/warp_model.so

gpu-model: icd host-bench gpu-model-plugin
	OCL_ICD_VENDORS=$(ICD_DIR) FUSED_KERNELS_CACHE_DIR=$(CURDIR)/$(GPU_MODEL)/cache \
	  python3 Benchmarks/gpu-model/gpu_model.py --kernel-bench $(HOST_KERNEL_BENCH) --kernels Kernels \
	  --plugin $(GPU_MODEL)/warp_model.so --work $(GPU_MODEL)/work --out Benchmarks/gpu-model/gpu-model.jsonl

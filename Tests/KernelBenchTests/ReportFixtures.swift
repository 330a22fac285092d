@testable import KernelBench

/// Suite records for the report tests: two devices and the CPU path, a memory-bound family
/// (softmax, with a variant whose name needs escaping), a compute-bound one (matmul) and
/// one whose records come in two units (attention), each on a size sweep, and the roofline
/// family measured on one size.
enum ReportFixtures {
    static let devices = [("cpu", "cpu-path"), ("opencl:0 pthread-AMD EPYC [Portable Computing Language]", "cpu"),
                          ("opencl:1 basic [Portable Computing Language]", "cpu")]
    static let awkwardVariant = "a<&>b \"quoted\""

    static let records: [BenchRecord] = {
        var records: [BenchRecord] = []
        for (index, (device, type)) in devices.enumerated() {
            let speed = 1 / Double(index + 1)
            for variant in ["auto", awkwardVariant] {
                for (rows, cols) in [(64, 4096), (4096, 4096), (64, 1_048_576)] {
                    let bytes = Double(2 * rows * cols * 4)
                    records.append(record("softmax", "softmax", variant, [rows, cols], device, type, "GB/s", bytes,
                                          rate: 20 * speed, roofline: 40 * speed, source: "copy"))
                }
            }
            for size in [256, 1024, 2048] {
                records.append(record("matmul", "matmul", "cpu", [size, size, size], device, type, "GFLOP/s",
                                      2 * pow3(size), rate: 100 * speed, roofline: 150 * speed,
                                      source: type == "cpu-path" ? "blas-sgemm" : "fma-peak"))
            }
            // The suite's roofline family: one size per device, nothing to chart.
            records.append(record("roofline", "copy", "streaming stores", [1 << 26], device, type, "GB/s",
                                  Double(1 << 29), rate: 40 * speed, roofline: 40 * speed, source: "copy"))
            for length in [512, 2048] {
                let flops = 4 * 8 * Double(length * length * 64)
                records.append(record("attention", "attention", "softmax full", [1, 8, length, 64], device, type,
                                      "GFLOP/s", flops, rate: 60 * speed, roofline: 150 * speed, source: "fma-peak"))
                records.append(record("attention", "attention", "memory", [1, 8, length, 64], device, type, "GB/s",
                                      Double(4 * 8 * length * 64 * 4), rate: 5 * speed, roofline: 40 * speed,
                                      source: "copy"))
            }
        }
        return records
    }()

    private static func pow3(_ n: Int) -> Double { Double(n) * Double(n) * Double(n) }

    static func record(_ family: String, _ op: String, _ variant: String, _ shape: [Int], _ device: String,
                       _ deviceType: String, _ unit: String, _ work: Double, rate: Double, roofline: Double,
                       source: String) -> BenchRecord {
        let median = work / rate / 1e6
        return BenchRecord(family: family, op: op, variant: variant, dtype: "float32", shape: shape, device: device,
                           deviceType: deviceType, medianMs: median, p20Ms: median * 0.95, p80Ms: median * 1.1,
                           minMs: median * 0.9, firstCallMs: median * 3, unit: unit, work: work, throughput: rate,
                           roofline: roofline, rooflineSource: source, fractionOfRoofline: rate / roofline,
                           maxError: deviceType == "cpu-path" ? nil : 1.5e-7, errorMetric: "relative",
                           ranOn: "CPU path", kernels: [], details: ["rows": .number(Double(shape[0]))])
    }

    /// One line as `kernel-bench suite --json` prints it (keys sorted, max_error absent).
    static let suiteLine = """
        {"details":{"fused":true,"unfused_ms":"n/a"},"device":"cpu","device_type":"cpu-path","dtype":"float32",\
        "error_metric":"none","family":"topk","first_call_ms":3.5,"kernels":[],"median_ms":1.25,"min_ms":1.2,\
        "op":"softmax-topk","p20_ms":1.22,"p80_ms":1.3,"ran_on":"CPU path","roofline":41.5,"roofline_source":"copy",\
        "shape":[4096,4096,8],"throughput":53.6870912,"fraction_of_roofline":1.29,"unit":"GB/s","variant":"k8",\
        "work":67108864}
        """

    static let machine = MachineDescription(
        cpu: "AMD EPYC (family 25, model 17)", isa: "AVX, AVX2, FMA, AVX-512F", cores: "2 cores, 2 threads",
        caches: "L1d 32 KiB, L2 1 MiB, L3 32 MiB (shared by CPUs 0-1)", memory: "23.5 GiB", os: "Debian 12",
        openCLDevices: ["opencl:0 pthread-AMD EPYC [Portable Computing Language], driver 3.1"])
}

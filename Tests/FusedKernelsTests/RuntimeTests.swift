import Foundation
import Testing
@testable import FusedKernels

@Suite struct RuntimeTests {
    @Test func statusCodesHaveNames() {
        #expect(CLError(status: -11, call: "clBuildProgram").name == "CL_BUILD_PROGRAM_FAILURE")
        #expect(CLError(status: -54, call: "x").name == "CL_INVALID_WORK_GROUP_SIZE")
        #expect(CLError(status: -9999, call: "x").name == "CL_UNKNOWN_ERROR(-9999)")
        #expect(CLError(status: -5, call: "clEnqueueNDRangeKernel").description
            == "clEnqueueNDRangeKernel failed with CL_OUT_OF_RESOURCES (-5)")
    }

    /// `make test` names the devices it set up (FUSED_KERNELS_EXPECT_DEVICES, comma
    /// separated name fragments): a missing driver fails the run instead of silently
    /// shrinking the matrix.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FUSED_KERNELS_EXPECT_DEVICES"] != nil))
    func expectedDevicesWereFound() throws {
        let expected = ProcessInfo.processInfo.environment["FUSED_KERNELS_EXPECT_DEVICES"]!.split(separator: ",")
        let found = try Engine.devices()
        for fragment in expected {
            #expect(found.contains { $0.description.lowercased().contains(fragment.lowercased()) },
                    "no device matching '\(fragment)' among \(found.map(\.description))")
        }
        #expect(TestBackend.all.count == found.count + 1, "every device is in the test matrix")
    }

    @Test func selectorsParse() {
        #expect(DeviceSelector(nil) == .auto)
        #expect(DeviceSelector("") == .auto)
        #expect(DeviceSelector("CPU") == .cpu)
        #expect(DeviceSelector("opencl") == .anyOpenCL)
        #expect(DeviceSelector("opencl:2") == .openCLIndex(2))
        #expect(DeviceSelector("pthread") == .nameContains("pthread"))
        #expect(DeviceSelector("opencl:x") == .nameContains("opencl:x"))
        #expect(DeviceSelector("opencl").isStrict && DeviceSelector("opencl:0").isStrict)
        #expect(!DeviceSelector("pthread").isStrict && !DeviceSelector("auto").isStrict)
    }

    @Test func stableHashIsStableAndSensitive() {
        #expect(StableHash.hex("softmax") == StableHash.hex("softmax"))
        #expect(StableHash.hex("softmax") != StableHash.hex("softmaX"))
        #expect(StableHash.hex("") == "cbf29ce48422232584222325cbf29ce4")
    }

    @Test func missingKernelSourcesNameEveryPlaceSearched() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/kernels-\(UUID().uuidString)")
        do {
            _ = try KernelSources(directory: missing)
            // The explicit directory is missing, but later candidates may still be found.
        } catch let FusedKernelsError.kernelSourcesNotFound(searched) {
            #expect(searched.contains(missing.path))
        }
        let found = try KernelSources()
        let source = try found.load("softmax/online.cl")
        #expect(!source.text.contains("#include \"lib/common.h\""), "headers are inlined")
        #expect(throws: FusedKernelsError.self) { _ = try found.load("no-such-file.cl") }
    }

    @Test func binaryCacheWritesAtomicallyAndReadsBack() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fk-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let cache = BinaryCache(environment: ["FUSED_KERNELS_CACHE_DIR": root.path])
        #expect(cache.load("k") == nil)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            cache.store([UInt8](repeating: 42, count: 100_000), key: "k")
        }
        #expect(cache.load("k") == [UInt8](repeating: 42, count: 100_000))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache.directory.path)
        #expect(leftovers == ["k.bin"], "no temp files left: \(leftovers)")
        #expect(BinaryCache(environment: ["XDG_CACHE_HOME": "/x"]).directory.path == "/x/fused-kernels/programs")
    }

    /// A second engine (as a second process would) loads the program from disk instead
    /// of compiling it, and the loaded program computes the same result.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" && !$0.isSimulator })
    func programsPersistOnDisk(backend: TestBackend) throws {
        let x: [Float] = [1, 2, 3, 0.5, -1]
        let shape = Shape(rows: 1, cols: 5)
        let first = try backend.engine()
        let expected = try first.softmax(x, shape: shape)
        let second = try backend.engine()
        let y = try second.softmax(x, shape: shape)
        let programs = try #require(second.context?.programs)
        #expect(programs.loadedFromDisk == 1 && programs.compiledFromSource == 0,
                "loaded \(programs.loadedFromDisk), compiled \(programs.compiledFromSource)")
        #expect(y == expected)
    }

    /// Kernel signatures are read from the sources: every parameter by name and kind.
    @Test func kernelSignaturesAreParsed() throws {
        let signatures = try KernelSources().load("copy/copy.cl").signatures
        #expect(signatures["copy_float"] == KernelSignature(entry: "copy_float", parameters: [
            .init(name: "src", kind: .buffer), .init(name: "dst", kind: .buffer), .init(name: "n", kind: .scalar("int")),
        ]))
        let parsed = KernelSignature.all(in: """
            // __kernel void commented_out(int a)
            __kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void k(__global const float* restrict a,
                __local float *tile, /* a comment, with a comma */ const long n, float scale) {}
            """)
        #expect(parsed.keys.sorted() == ["k"])
        #expect(parsed["k"]?.parameters == [.init(name: "a", kind: .buffer), .init(name: "tile", kind: .local),
                                            .init(name: "n", kind: .scalar("long")),
                                            .init(name: "scale", kind: .scalar("float"))])
    }

    /// The source fallback sees through object-like macros, as a parameter list written
    /// once as a macro is (continuation lines joined, nested macros expanded).
    @Test func kernelSignaturesParseThroughMacros() {
        let parsed = KernelSignature.all(in: """
            #define FK_PAIR(a) a
            #define ROWS_PARAMS __global const float *x, \\
                const long x_offset, SCALE_PARAM
            #define SCALE_PARAM float scale
            __kernel void k(ROWS_PARAMS, __global float *y) {}
            """)
        #expect(parsed["k"]?.parameters == [.init(name: "x", kind: .buffer), .init(name: "x_offset", kind: .scalar("long")),
                                            .init(name: "scale", kind: .scalar("float")), .init(name: "y", kind: .buffer)])
    }

    /// Every device reports each kernel's parameters from the built kernel
    /// (`clGetKernelArgInfo`), and they agree with the source's, for every kernel file.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func kernelSignaturesComeFromTheBuiltKernel(backend: TestBackend) throws {
        let engine = try backend.engine()
        let context = try #require(engine.context)
        let spec = KernelSpec(file: "copy/copy.cl", entry: "copy_float", defines: ["COPY_VECS": 1, "WG_SIZE": 1])
        let kernel = try context.serialized { try context.kernel(spec, source: try engine.loadSource(spec.file)) }
        #expect(kernel.signature.origin == .builtKernel)
        #expect(kernel.signature.parameters == (try engine.loadSource(spec.file)).signatures["copy_float"]?.parameters)
        #expect(kernel.resources.maxWorkGroupSize >= 1)
        // a second engine loads the program from the disk cache: the argument info
        // survives there too (PoCL and Oclgrind keep it in their binaries)
        let second = try backend.engine()
        let secondContext = try #require(second.context)
        let loaded = try secondContext.serialized {
            try secondContext.kernel(spec, source: try second.loadSource(spec.file))
        }
        #expect(secondContext.programs.loadedFromDisk == 1)
        #expect(loaded.signature == kernel.signature)
    }

    /// Scratch comes from the engine's pool: a buffer given back is the one the next request
    /// of its size gets (poisoned again in debug builds, as a new one is); another size is new.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func scratchBuffersArePooledPerEngine(backend: TestBackend) throws {
        let engine = try backend.engine()
        let context = try #require(engine.context)
        let first = try engine.scratchPool.take(bytes: 1000, on: context)
        try [Float](repeating: 1, count: 250).withUnsafeBytes { try first.write($0) }
        engine.scratchPool.give(first)
        let again = try engine.scratchPool.take(bytes: 1000, on: context)
        #expect(again === first)
        #if DEBUG
        let words: [UInt32] = try again.readArray(count: 250)
        #expect(words.allSatisfy { $0 == 0xFBFF_FBFF })
        #endif
        #expect(try engine.scratchPool.take(bytes: 2000, on: context) !== first)
    }

    /// A tensor made from host values is read back from its host copy while no kernel may
    /// write it (an input stays so), and from the device once one may (an output).
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func hostCopyLastsUntilAKernelMayWrite(backend: TestBackend) throws {
        let engine = try backend.engine()
        let x = try engine.tensor((0 ..< 64).map { Float($0) / 8 }, shape: [2, 32])
        let y = try engine.tensor([Float](repeating: 0, count: 64), shape: [2, 32])
        guard case let .device(xBuffer) = x.storage.location, case let .device(yBuffer) = y.storage.location else {
            Issue.record("OpenCL tensors live on the device")
            return
        }
        #expect(xBuffer.hasHostCopy && yBuffer.hasHostCopy)
        _ = try engine.softmax(x, into: y)
        #expect(xBuffer.hasHostCopy, "x is a const parameter: its host copy stays")
        #expect(!yBuffer.hasHostCopy, "y was written by the kernel")
        let row = try y.array(of: Float.self)
        let expected = (0 ..< 32).map { exp(Double($0 - 31) / 8) }
        let sum = expected.reduce(0, +)
        for (index, value) in row.prefix(32).enumerated() {
            #expect(abs(Double(value) - expected[index] / sum) < 1e-6, "element \(index) is the kernel's result")
        }
    }

    /// The device-limit check reads the built kernel's own numbers: a group larger than
    /// the kernel allows, or `__local` memory beyond the device's, is a typed error.
    @Test func kernelResourcesAreCheckedAgainstTheDevice() throws {
        let device = TuningTests.device   // 256 items, 64 KiB of local memory
        let spec = KernelSpec(file: "x.cl", entry: "x")
        let fits = KernelResources(maxWorkGroupSize: 256, localMemoryBytes: 1 << 16)
        try fits.check(Grid(global: [512], local: [256]), spec: spec, device: device)
        #expect(throws: FusedKernelsError.self) { try fits.check(Grid(global: [1024], local: [512]), spec: spec, device: device) }
        let tooMuchLocal = KernelResources(maxWorkGroupSize: 256, localMemoryBytes: (1 << 16) + 4)
        #expect(throws: FusedKernelsError.self) { try tooMuchLocal.check(.linear(1, groupSize: 1), spec: spec, device: device) }
    }

    /// Arguments are bound by name: a missing, unknown, repeated or mistyped one is a
    /// typed error, never a launch with garbage.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func argumentsAreBoundByName(backend: TestBackend) throws {
        let engine = try backend.engine()
        let context = try #require(engine.context)
        let spec = KernelSpec(file: "copy/copy.cl", entry: "copy_float", defines: ["COPY_VECS": 1, "WG_SIZE": 1])
        let source = try context.makeBuffer(bytes: 64)
        let target = try context.makeBuffer(bytes: 64)
        let cases: [(KernelArguments, String)] = [
            (["src": .buffer(source), "dst": .buffer(target)], "'n' not bound"),
            (["src": .buffer(source), "dst": .buffer(target), "n": .int(16), "m": .int(1)], "no parameter named 'm'"),
            (["src": .buffer(source), "dst": .buffer(target), "n": .float(16)], "'n' is scalar(\"int\"), got float(16.0)"),
            (["src": .buffer(source), "src": .buffer(source), "dst": .buffer(target), "n": .int(16)], "'src' given twice"),
        ]
        for (arguments, reason) in cases {
            #expect(throws: FusedKernelsError.invalidKernelArguments(kernel: "copy_float", reason: reason)) {
                try engine.launch(spec, .linear(1, groupSize: 1), arguments, on: context)
            }
        }
        try engine.launch(spec, .linear(1, groupSize: 1), ["n": .int(0), "dst": .buffer(target), "src": .buffer(source)],
                          on: context)
    }

    /// Two threads sharing one engine: on PoCL's basic device this deadlocked within ~30
    /// calls (one thread waiting forever in clEnqueueWriteBuffer) before launches were
    /// serialised per device. A watchdog turns a hang into a failure.
    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func oneEngineServesTwoThreads(backend: TestBackend) throws {
        let engine = try backend.engine()
        let shape = Shape(rows: 4, cols: 1000)
        let x = randomValues(shape.count, seed: 12)
        let expected = try engine.softmax(x, shape: shape)
        let finished = DispatchSemaphore(value: 0)
        let mismatches = Counter()
        for _ in 0 ..< 2 {
            Thread.detachNewThread {
                for _ in 0 ..< 100 where (try? engine.softmax(x, shape: shape)) != expected { mismatches.increment() }
                finished.signal()
            }
        }
        for thread in 0 ..< 2 {
            #expect(finished.wait(timeout: .now() + 120) == .success, "thread \(thread) hung")
        }
        #expect(mismatches.value == 0)
    }

    /// Create, run and destroy engines repeatedly: every OpenCL object is released
    /// (valgrind confirms it, see Benchmarks/NOTES.md); here the test checks that the
    /// cycle is repeatable and results stay exact.
    @Test(arguments: TestBackend.all.filter { !$0.isSimulator })
    func createRunDestroyCycle(backend: TestBackend) throws {
        let x = randomValues(64, seed: 9)
        var first: [Float]?
        for _ in 0 ..< 5 {
            let engine = try backend.engine()
            let y = try engine.softmax(try engine.tensor(x, shape: Shape(rows: 4, cols: 16))).toArray()
            if let first { #expect(y == first) } else { first = y }
        }
    }
}

/// A thread-safe count.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

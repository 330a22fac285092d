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
        let source = try found.load("softmax.cl")
        #expect(!source.text.contains("#include \"common.h\""), "headers are inlined")
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

    /// A second engine (as a second process would) finds the program on disk.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" && !$0.isSimulator })
    func programsPersistOnDisk(backend: TestBackend) throws {
        let engine = try backend.engine()
        _ = try engine.softmax([1, 2, 3] as [Float], shape: Shape(rows: 1, cols: 3))
        let files = try FileManager.default.contentsOfDirectory(atPath: BinaryCache().directory.path)
        #expect(files.contains { $0.hasSuffix(".bin") })
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

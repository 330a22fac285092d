import Foundation
import Testing
@testable import FusedKernels

@Suite struct TuningTests {
    static let device = OpenCLDevice(index: 0, name: "Test Device", platformName: "Test Platform", vendor: "v",
                                     driverVersion: "1.0", deviceVersion: "OpenCL 3.0", computeUnits: 2,
                                     globalMemoryBytes: 1 << 30, localMemoryBytes: 1 << 16, maxWorkGroupSize: 256, isCPU: true,
                                     handleBits: 1, platformBits: 1)
    static let tuned = TuningParameters(
        softmax: SoftmaxTuning(shortRows: .init(rowsPerItem: 3, chunk: 2, workGroupSize: 4),
                               longRows: .init(rowsPerItem: 1, chunk: 4, workGroupSize: 2),
                               shortRowsVariant: .threePass, longRowsVariant: .online,
                               itemsPerComputeUnit: 2, minimumShardColumns: 4096),
        topK: TopKTuning(rowsPerItem: 3),
        matmul: MatmulParameters(mwg: 48, nwg: 32, kwg: 32, mdimc: 1, ndimc: 1, vwn: 8, mr: 6, nr: 16))
    static let hashes: [TuningSection: String] = [.softmax: "s1", .topk: "t1", .matmul: "m1"]

    func withCacheDirectory(_ body: ([String: String], URL) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fk-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = ["FUSED_KERNELS_CACHE_DIR": root.path]
        try body(environment, TuningFile.url(device: Self.device.name, platform: Self.device.platformName,
                                             environment: environment))
    }

    func load(_ environment: [String: String], hashes: [TuningSection: String] = hashes) -> TuningLoad {
        TuningFile.load(for: Self.device, sourceHashes: hashes, environment: environment)
    }

    /// The stored file as JSON objects, to be edited by a test and written back.
    func readJSON(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func writeJSON(_ root: [String: Any], _ url: URL) throws {
        try JSONSerialization.data(withJSONObject: root).write(to: url)
    }

    /// Saves every section of `tuned`, then lets `edit` change the `name` section's JSON.
    func savedFile(_ environment: [String: String], _ url: URL, editing name: String,
                   _ edit: (inout Any?) -> Void) throws {
        _ = try TuningFile.save(Self.tuned, sections: Set(TuningSection.allCases), device: Self.device,
                                sourceHashes: Self.hashes, environment: environment)
        var root = try readJSON(url)
        var sections = try #require(root["sections"] as? [String: Any])
        var section: Any? = sections[name]
        edit(&section)
        sections[name] = section
        root["sections"] = sections
        try writeJSON(root, url)
    }

    @Test func everySectionIsStoredAndApplied() throws {
        try withCacheDirectory { environment, url in
            let none = load(environment)
            #expect(none == TuningLoad(file: .absent), "no file: defaults, silently")

            let saved = try TuningFile.save(Self.tuned, sections: Set(TuningSection.allCases), device: Self.device,
                                            sourceHashes: Self.hashes, environment: environment)
            #expect(saved == url)
            let loaded = load(environment)
            #expect(loaded.file == .read && loaded.warnings.isEmpty)
            #expect(loaded.sections == [.softmax: .applied, .topk: .applied, .matmul: .applied])
            #expect(loaded.parameters == Self.tuned)
            let sections = try #require(try readJSON(url)["sections"] as? [String: [String: Any]])
            #expect(Set(sections.keys) == ["softmax", "topk", "matmul"])
            for section in TuningSection.allCases {
                #expect(sections[section.rawValue]?["format"] as? Int == section.format)
                #expect(sections[section.rawValue]?["sourceHash"] as? String == Self.hashes[section])
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            #expect(leftovers == [url.lastPathComponent], "the temporary file of the atomic write is renamed")
        }
    }

    /// The point of sections: topk's kernels changed (its hash differs), softmax's and
    /// matmul's did not; softmax and matmul keep their tuning, only topk is warned about.
    @Test func staleTopKSectionLeavesSoftmaxTuned() throws {
        try withCacheDirectory { environment, _ in
            _ = try TuningFile.save(Self.tuned, sections: Set(TuningSection.allCases), device: Self.device,
                                    sourceHashes: Self.hashes, environment: environment)
            var edited = Self.hashes
            edited[.topk] = "t2"
            let loaded = load(environment, hashes: edited)
            #expect(loaded.sections == [.softmax: .applied, .topk: .stale, .matmul: .applied])
            #expect(loaded.parameters.softmax == Self.tuned.softmax && loaded.parameters.matmul == Self.tuned.matmul)
            #expect(loaded.parameters.topK == .defaults)
            #expect(loaded.warnings.count == 1)
            #expect(loaded.warnings.first?.contains("topk section") == true)
            #expect(loaded.warnings.first?.contains("stale") == true)
        }
    }

    struct SectionCase: CustomTestStringConvertible, Sendable {
        let section: TuningSection
        let label: String
        let expected: SectionOutcome
        let edit: @Sendable (inout Any?) -> Void
        var testDescription: String { "\(section) \(label)" }
    }

    static func editParameters(_ change: @escaping @Sendable (inout [String: Any]) -> Void) -> @Sendable (inout Any?) -> Void {
        { section in
            var object = section as! [String: Any]
            var parameters = object["parameters"] as! [String: Any]
            change(&parameters)
            object["parameters"] = parameters
            section = object
        }
    }

    static func editField(_ key: String, _ value: Any?) -> @Sendable (inout Any?) -> Void {
        let boxed = value.map { "\($0)" }
        let isInt = value is Int
        return { section in
            var object = section as! [String: Any]
            object[key] = boxed.map { isInt ? Int($0)! as Any : $0 as Any }
            section = object
        }
    }

    /// One section spoilt in each way; each gives its own outcome, the others still apply.
    static let sectionCases: [SectionCase] = TuningSection.allCases.flatMap { section in [
        SectionCase(section: section, label: "missing", expected: .missing) { $0 = nil },
        SectionCase(section: section, label: "not an object", expected: .corrupt) { $0 = [1, 2] },
        SectionCase(section: section, label: "no format", expected: .corrupt, edit: editField("format", nil)),
        SectionCase(section: section, label: "parameters of another shape", expected: .corrupt,
                    edit: editParameters { $0 = ["unexpected": "x"] }),
        SectionCase(section: section, label: "another format",
                    expected: .otherFormat(found: section.format + 1, expected: section.format),
                    edit: editField("format", section.format + 1)),
        SectionCase(section: section, label: "stale", expected: .stale, edit: editField("sourceHash", "other")),
    ] } + [
        SectionCase(section: .softmax, label: "rows per item 0", expected: .invalid,
                    edit: editParameters { p in var s = p["shortRows"] as! [String: Any]; s["rowsPerItem"] = 0; p["shortRows"] = s }),
        SectionCase(section: .softmax, label: "work-group size not a power of two", expected: .invalid,
                    edit: editParameters { p in var s = p["longRows"] as! [String: Any]; s["workGroupSize"] = 3; p["longRows"] = s }),
        SectionCase(section: .softmax, label: "auto variant twoPass", expected: .invalid,
                    edit: editParameters { $0["longRowsVariant"] = "twoPass" }),
        SectionCase(section: .topk, label: "rows per item 65", expected: .invalid, edit: editParameters { $0["rowsPerItem"] = 65 }),
        SectionCase(section: .softmax, label: "GPU work-group size 32", expected: .invalid,
                    edit: editParameters { $0["gpuWorkGroupSize"] = 32 }),
        SectionCase(section: .topk, label: "GPU work-group size 96", expected: .invalid,
                    edit: editParameters { $0["gpuWorkGroupSize"] = 96 }),
        SectionCase(section: .matmul, label: "MR not dividing MWG", expected: .invalid, edit: editParameters { $0["mr"] = 5 }),
    ]

    @Test(arguments: sectionCases)
    func aBadSectionIsIgnoredAlone(test: SectionCase) throws {
        try withCacheDirectory { environment, url in
            try savedFile(environment, url, editing: test.section.rawValue, test.edit)
            let loaded = load(environment)
            #expect(loaded.file == .read)
            var expected: [TuningSection: SectionOutcome] = [.softmax: .applied, .topk: .applied, .matmul: .applied]
            expected[test.section] = test.expected
            #expect(loaded.sections == expected)
            var parameters = Self.tuned
            switch test.section {
            case .softmax: parameters.softmax = .defaults
            case .topk: parameters.topK = .defaults
            case .matmul: parameters.matmul = nil
            }
            #expect(loaded.parameters == parameters)
            #expect(test.expected == .missing ? loaded.warnings.isEmpty
                        : loaded.warnings.count == 1 && loaded.warnings[0].contains("\(test.section) section"),
                    "one warning, naming the section (none for a section never tuned): \(loaded.warnings)")
            if let reason = test.expected.reason { #expect(loaded.warnings.first?.contains(reason) == true) }
        }
    }

    @Test func unusableFilesAreIgnoredWhole() throws {
        try withCacheDirectory { environment, url in
            _ = try TuningFile.save(Self.tuned, sections: Set(TuningSection.allCases), device: Self.device,
                                    sourceHashes: Self.hashes, environment: environment)
            var root = try readJSON(url)
            root["driverVersion"] = "0.9"
            try writeJSON(root, url)
            var loaded = load(environment)
            #expect(loaded.file == .otherDevice && loaded.parameters == .defaults && loaded.sections.isEmpty)
            #expect(loaded.warnings.count == 1 && loaded.warnings[0].contains("stale"), "other driver")

            root["driverVersion"] = "1.0"
            root["format"] = 3
            try writeJSON(root, url)
            loaded = load(environment)
            #expect(loaded.file == .unreadable && loaded.parameters == .defaults, "a file of the flat format 3")

            try Data("{ not json".utf8).write(to: url)
            loaded = load(environment)
            #expect(loaded.file == .unreadable && loaded.parameters == .defaults && loaded.warnings.count == 1, "corrupt file")
        }
    }

    /// Saving some sections keeps the others as stored (with their own hashes); a nil
    /// matmul removes that section.
    @Test func savingOneSectionKeepsTheOthers() throws {
        try withCacheDirectory { environment, url in
            _ = try TuningFile.save(Self.tuned, sections: Set(TuningSection.allCases), device: Self.device,
                                    sourceHashes: Self.hashes, environment: environment)
            var retuned = TuningParameters.defaults
            retuned.topK.rowsPerItem = 16
            var newHashes = Self.hashes
            newHashes[.topk] = "t2"
            _ = try TuningFile.save(retuned, sections: [.topk], device: Self.device, sourceHashes: newHashes,
                                    environment: environment)
            var loaded = load(environment, hashes: newHashes)
            #expect(loaded.sections == [.softmax: .applied, .topk: .applied, .matmul: .applied])
            #expect(loaded.parameters == TuningParameters(softmax: Self.tuned.softmax, topK: TopKTuning(rowsPerItem: 16),
                                                          matmul: Self.tuned.matmul))

            _ = try TuningFile.save(retuned, sections: [.matmul], device: Self.device, sourceHashes: newHashes,
                                    environment: environment)
            loaded = load(environment, hashes: newHashes)
            #expect(loaded.sections[.matmul] == .missing && loaded.parameters.matmul == nil)
            #expect(loaded.sections[.softmax] == .applied)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            #expect(leftovers == [url.lastPathComponent])
        }
    }

    /// Each section's hash covers exactly its kernel files with their includes: editing a
    /// top-k file changes only topk's hash, a header changes the hash of every section
    /// that includes it.
    @Test func sectionHashesFollowTheirOwnKernels() throws {
        let original = try KernelSources().directory
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("fk-kernels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(at: original, to: copy)
        func hashes() throws -> [TuningSection: String] {
            try Engine(device: "cpu", kernelsDirectory: copy).tuningSourceHashes
        }
        func append(_ file: String) throws {
            let url = copy.appendingPathComponent(file)
            try (String(contentsOf: url, encoding: .utf8) + "\n// edited\n").write(to: url, atomically: true, encoding: .utf8)
        }
        var before = try hashes()
        #expect(Set(before.values).count == 3 && !before.values.contains(""))
        for (file, changed) in [("topk/topk.cl", [TuningSection.topk]), ("topk/list.h", [.topk]),
                                ("softmax/row.h", [.softmax]), ("softmax/two_pass.cl", [.softmax]),
                                ("lib/gemm.h", [.matmul]), ("matmul/matmul.cl", [.matmul]),
                                ("lib/online.h", [.softmax, .topk]), ("lib/dtype.h", [.softmax, .topk, .matmul]),
                                ("copy/copy.cl", [])] {
            try append(file)
            let after = try hashes()
            for section in TuningSection.allCases {
                #expect((after[section] != before[section]) == changed.contains(section), "\(file): \(section)")
            }
            before = after
        }
    }

    /// The generic tuner keeps the fastest candidate, applied to a copy of the base.
    @Test func tunerPicksTheFastestCandidate() throws {
        let fakeTimes: [Int: Double] = [1: 3.0, 2: 1.5, 4: 0.7, 8: 0.9, 16: 2.0]
        var seen: [Int] = []
        let base = TuningParameters.defaults
        let best = try Tuner.fastest([1, 2, 4, 8, 16], base: base, apply: { $0.topK.rowsPerItem = $1 }, time: {
            #expect($0.softmax == base.softmax, "only the candidate's field changes")
            return fakeTimes[$0.topK.rowsPerItem]!
        }, report: { seen.append($0.candidate) })
        #expect(best.winner == 4 && best.milliseconds == 0.7 && best.parameters.topK.rowsPerItem == 4)
        #expect(seen == [1, 2, 4, 8, 16], "every candidate reported in order")

        struct Failed: Error {}
        let skipping = try Tuner.fastest([1, 2, 3], base: 0, apply: { $0 = $1 }, time: { (value: Int) -> Double in
            if value == 1 { throw Failed() }
            return Double(10 - value)
        })
        #expect(skipping.winner == 3, "a candidate that fails to run is skipped")
        #expect(throws: Failed.self) { try Tuner.fastest([1, 2], base: 0, apply: { $0 = $1 }, time: { _ in throw Failed() }) }
        #expect(throws: FusedKernelsError.self) { try Tuner.fastest([Int](), base: 0, apply: { $0 = $1 }, time: { _ in 1 }) }
        // a lucky first time: 2 looks fastest once, 3 is fastest when the finalists run again
        var calls: [Int: Int] = [:]
        let confirmed = try Tuner.fastest([1, 2, 3], base: 0, apply: { $0 = $1 }, finalists: 2, time: { (value: Int) -> Double in
            calls[value, default: 0] += 1
            return calls[value] == 1 ? [1: 9.0, 2: 1.0, 3: 2.0][value]! : [1: 9.0, 2: 5.0, 3: 2.5][value]!
        })
        #expect(confirmed.winner == 3 && confirmed.milliseconds == 2.5 && calls == [1: 1, 2: 2, 3: 2])
        #expect(Tuner.median([5, 1, 3]) == 3 && Tuner.median([4, 1, 3, 2]) == 2.5)
    }

    /// The matmul section read from the file drives `auto`, and a non-default valid tile
    /// set gives correct results on every OpenCL device (sizes straddle its tiles).
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func matmulSectionDrivesAuto(backend: TestBackend) throws {
        let engine = try backend.engine()
        guard case let .opencl(device) = engine.backend else { return }
        let tiles = try #require(Self.tuned.matmul)
        #expect(tiles != .cpu && tiles != .gpu && tiles.isValid)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fk-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let environment = ["FUSED_KERNELS_CACHE_DIR": root.path]
        _ = try TuningFile.save(TuningParameters(matmul: tiles), sections: [.matmul], device: device,
                                sourceHashes: engine.tuningSourceHashes, environment: environment)
        let loaded = engine.reloadTuning(device: device, environment: environment)
        #expect(loaded.sections[.matmul] == .applied && loaded.sections[.softmax] == .missing)
        #expect(engine.tuning.matmul == tiles && engine.matmulParameters(.auto, device: device) == tiles)

        let (m, n, k) = (53, 35, 19)
        let a = randomValues(m * k, seed: 11, in: -1 ... 1), b = randomValues(k * n, seed: 12, in: -1 ... 1)
        let c = try engine.matmul(try engine.tensor(a, shape: [m, k]), try engine.tensor(b, shape: [k, n])).toArray()
        var expected = [Double](repeating: 0, count: m * n), bound = [Double](repeating: 0, count: m * n)
        for i in 0 ..< m {
            for j in 0 ..< n {
                for p in 0 ..< k {
                    expected[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j])
                    bound[i * n + j] += 1e-5 * abs(Double(a[i * k + p]) * Double(b[p * n + j]))
                }
            }
        }
        let bad = (0 ..< m * n).filter { !(abs(Double(c[$0]) - expected[$0]) <= bound[$0]) }
        #expect(bad.isEmpty, "\(backend.label): \(bad.count) elements out of tolerance, first \(bad.prefix(3))")
    }

    /// The kernels are built for the work-group size they are launched with, over whole
    /// work-groups (OpenCL 1.2 devices reject a partial one).
    @Test func workGroupSizeShapesTheLaunch() {
        let launch = SoftmaxLaunchParameters(rowsPerItem: 3, chunk: 2, workGroupSize: 4)
        #expect(launch.defines["WG_SIZE"]?.description == "4")
        #expect(Grid.linear(launch.items(rows: 7), groupSize: 4) == Grid(global: [4], local: [4]))
        #expect(Grid.linear(8, groupSize: 4).global == [8] && Grid.linear(9, groupSize: 4).global == [12])
    }

    /// Any valid launch parameters give the same results.
    @Test(arguments: TestBackend.all.filter { $0.selector != "cpu" })
    func nonDefaultParametersStayCorrect(backend: TestBackend) throws {
        let engine = try backend.engine()
        try engine.useTuning(Self.tuned)
        #expect(engine.tuning == Self.tuned)
        for (rows, cols) in [(7, 1000), (2, 20_000)] where rows * cols <= backend.elementBudget * 2 {
            let shape = Shape(rows: rows, cols: cols)
            let x = randomValues(shape.count, seed: UInt64(cols))
            for kind in SoftmaxKind.allCases {
                expectClose(try engine.softmax(x, shape: shape, kind: kind), NaiveSoftmax.forward(x, shape: shape, kind: kind),
                            rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) \(kind) \(shape)")
            }
            let top = try engine.softmaxTopK(x, shape: shape, k: 3)
            #expect(top.indices == (try Engine(device: "cpu").softmaxTopK(x, shape: shape, k: 3).indices))
            // the backward is launched with the same work-group sizes
            let y = try engine.softmax(x, shape: shape)
            let dy = randomValues(shape.count, seed: 3, in: -1 ... 1)
            expectClose(try engine.softmaxBackward(output: y, gradient: dy, shape: shape),
                        NaiveSoftmax.backward(y: y, dy: dy, shape: shape, kind: .softmax, scale: 1),
                        rtol: fp32RelativeTolerance, atol: fp32AbsoluteTolerance, "\(backend.label) backward \(shape)")
        }
        #expect(throws: FusedKernelsError.self) {
            try engine.useTuning(TuningParameters(softmax: SoftmaxTuning(shortRows: .init(rowsPerItem: 0, chunk: 8),
                                                                         longRows: .init(rowsPerItem: 8, chunk: 8))))
        }
    }

    /// The GPU matmul search space (kernel-bench tune): CLBlast's parameters, constraints
    /// checked before anything is built, the GPU preset in it.
    @Test func gpuMatmulSearchSpace() {
        let space = MatmulParameters.gpuSearchSpace(maxWorkGroupSize: 256, localMemoryBytes: 1 << 16)
        #expect(space.count == 108)
        #expect(space.allSatisfy { $0.isValid && $0.mr == $0.mwg / $0.mdimc && $0.nr == $0.nwg / $0.ndimc })
        #expect(space.allSatisfy { (64 ... 256).contains($0.mdimc * $0.ndimc) && $0.kwg * ($0.mwg + $0.nwg) <= 16 * $0.mdimc * $0.ndimc })
        var preset = MatmulParameters.gpu
        preset.vwm = 4   // the kernel's default for mwg/mdimc = 8
        #expect(space.contains(preset))
        #expect(MatmulParameters.gpuSearchSpace(maxWorkGroupSize: 128, localMemoryBytes: 1 << 16).count == 32)
        #expect(MatmulParameters.gpuSearchSpace(maxWorkGroupSize: 256, localMemoryBytes: 8192).count == 48,
                "KWG·(MWG + NWG) floats within the local memory")
        #expect(!MatmulParameters(mwg: 64, nwg: 64, kwg: 16, mdimc: 8, ndimc: 16, vwn: 4, mr: 8, nr: 4, vwm: 3).isValid)
        #expect(!MatmulParameters(mwg: 64, nwg: 64, kwg: 18, mdimc: 8, ndimc: 16, vwn: 4, mr: 8, nr: 4).isValid,
                "cooperating groups load 4-wide: 4 | KWG")
    }
}

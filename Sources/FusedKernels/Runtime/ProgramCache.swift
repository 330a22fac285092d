import COpenCL
import Foundation

/// Built programs of one device, keyed by source hash and build options (the
/// device and its driver are fixed per cache), backed by an on-disk binary cache.
/// A build failure is remembered too, so a fallback does not rebuild every call.
final class ProgramCache: @unchecked Sendable {
    private let device: OpenCLDevice
    private let lock = NSLock()
    private var programs: [String: Result<cl_program, FusedKernelsError>] = [:]
    private let disk = BinaryCache()
    /// How each program got here: compiled from source, or loaded from the disk cache.
    private(set) var compiledFromSource = 0
    private(set) var loadedFromDisk = 0

    init(device: OpenCLDevice) {
        self.device = device
    }

    func releaseAll() {
        lock.lock()
        defer { lock.unlock() }
        for case let .success(program) in programs.values { clReleaseProgram(program) }
        programs.removeAll()
    }

    /// Returns the program for `source` built with `options`, building it at most once.
    func program(_ source: KernelSource, options: [String], context: cl_context) throws -> cl_program {
        // Argument info (names, types, address spaces) lets the host bind by name from the
        // built kernel (KernelSignature).
        let optionString = (["-cl-std=CL1.2", "-cl-kernel-arg-info"] + options).joined(separator: " ")
        let key = [device.name, device.platformName, device.driverVersion, source.hash, optionString]
            .joined(separator: "\u{1F}")
        lock.lock()
        defer { lock.unlock() }
        if let cached = programs[key] { return try cached.get() }
        let result: Result<cl_program, FusedKernelsError>
        do {
            result = .success(try build(source, options: optionString, key: key, context: context))
        } catch let error as FusedKernelsError {
            result = .failure(error)
        }
        programs[key] = result
        return try result.get()
    }

    private func build(_ source: KernelSource, options: String, key: String, context: cl_context) throws -> cl_program {
        let diskKey = StableHash.hex(key)
        if let binary = disk.load(diskKey), let program = try? fromBinary(binary, options: options, context: context) {
            loadedFromDisk += 1
            return program
        }
        compiledFromSource += 1
        var status: cl_int = 0
        let program = source.text.withCString { text -> cl_program? in
            var pointer: UnsafePointer<CChar>? = text
            return clCreateProgramWithSource(context, 1, &pointer, nil, &status)
        }
        guard let program else {
            throw FusedKernelsError.openCL(CLError(status: status, call: "clCreateProgramWithSource"))
        }
        var id: cl_device_id? = device.handle
        status = clBuildProgram(program, 1, &id, options, nil, nil)
        if status != CL_SUCCESS {
            let log = buildLog(program)
            clReleaseProgram(program)
            if status == CL_BUILD_PROGRAM_FAILURE || status == CL_INVALID_BUILD_OPTIONS {
                throw FusedKernelsError.buildFailed(kernelFile: source.file, device: device.name,
                                                    options: options, log: log)
            }
            throw FusedKernelsError.openCL(CLError(status: status, call: "clBuildProgram(\(source.file))"))
        }
        if let binary = binary(of: program) { disk.store(binary, key: diskKey) }
        return program
    }

    private func fromBinary(_ binary: [UInt8], options: String, context: cl_context) throws -> cl_program {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var id: cl_device_id? = device.handle
        var length = binary.count
        let program = binary.withUnsafeBufferPointer { bytes -> cl_program? in
            var pointer: UnsafePointer<UInt8>? = bytes.baseAddress
            return clCreateProgramWithBinary(context, 1, &id, &length, &pointer, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            throw CLError(status: status, call: "clCreateProgramWithBinary")
        }
        let built = clBuildProgram(program, 1, &id, options, nil, nil)
        guard built == CL_SUCCESS else {
            clReleaseProgram(program)
            throw CLError(status: built, call: "clBuildProgram(binary)")
        }
        return program
    }

    private func binary(of program: cl_program) -> [UInt8]? {
        var size = 0
        guard clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES),
                               MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS, size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let status = bytes.withUnsafeMutableBufferPointer { buffer -> cl_int in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES),
                                    MemoryLayout<UnsafeMutablePointer<UInt8>>.size, &pointer, nil)
        }
        return status == CL_SUCCESS ? bytes : nil
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        let info = cl_program_build_info(CL_PROGRAM_BUILD_LOG)
        guard clGetProgramBuildInfo(program, device.handle, info, 0, nil, &size) == CL_SUCCESS else {
            return "(no build log)"
        }
        var bytes = [CChar](repeating: 0, count: size + 1)
        _ = clGetProgramBuildInfo(program, device.handle, info, size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import Foundation
import Testing
@testable import KernelBench

/// Every op through `kernel-bench run`, on the CPU path and the first OpenCL device: the
/// output files equal the library's own result bit for bit.
@Suite struct RunOpTests {
    struct DeviceCase: CustomTestStringConvertible, Sendable {
        let device: String
        let opCase: RunOpCase
        var testDescription: String { "\(opCase.name) on \(device)" }
    }

    static let cases = runTestDevices.flatMap { device in RunOpCase.all.map { DeviceCase(device: device, opCase: $0) } }

    @Test(arguments: cases)
    func outputEqualsTheLibrarysResult(_ run: DeviceCase) throws {
        let directory = try TemporaryDirectory()
        for (flag, array) in run.opCase.inputs { try directory.write(array, "\(flag).npy") }
        _ = try run.opCase.runAndCompare(device: run.device, in: directory)
        // Only the inputs and outputs are there: no temporary file is left.
        #expect(directory.contents == Set((run.opCase.inputs.map(\.flag) + run.opCase.outputs).map { "\($0).npy" }))
    }

    @Test func everySubcommandHasACase() {
        let tested = Set(RunOpCase.all.map { $0.arguments[0] })
        let commands = Set(Run.configuration.subcommands.map { $0.configuration.commandName ?? "" })
        #expect(commands == tested)
    }
}

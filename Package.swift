// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "FusedKernels",
    products: [
        .library(name: "FusedKernels", targets: ["FusedKernels"]),
        .executable(name: "kernel-bench", targets: ["KernelBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (make docs); a plugin only, nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenCL",
            path: "Sources/COpenCL",
            pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        // The CPU path's GEMM work: OpenBLAS on Linux (Accelerate where it exists).
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "FusedKernels",
            dependencies: ["COpenCL", .target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            resources: [.copy("../../Kernels")]
        ),
        .executableTarget(
            name: "KernelBench",
            dependencies: [
                "FusedKernels",
                .target(name: "COpenBLAS", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/KernelBench",
            exclude: []
        ),
        .testTarget(
            name: "FusedKernelsTests",
            dependencies: ["FusedKernels"]
        ),
        // kernel-bench's own code (output, suite, `run`'s .npy codec), tested through
        // `@testable import` of the executable target.
        .testTarget(
            name: "KernelBenchTests",
            dependencies: ["KernelBench"]
        ),
    ]
)

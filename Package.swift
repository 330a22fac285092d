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
    ],
    targets: [
        .systemLibrary(
            name: "COpenCL",
            path: "Sources/COpenCL",
            pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        .target(
            name: "FusedKernels",
            dependencies: ["COpenCL"],
            resources: [.copy("../../Kernels")]
        ),
        .executableTarget(
            name: "KernelBench",
            dependencies: [
                "FusedKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/KernelBench",
            exclude: []
        ),
        .testTarget(
            name: "FusedKernelsTests",
            dependencies: ["FusedKernels"]
        ),
    ]
)

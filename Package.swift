// swift-tools-version:6.0
import PackageDescription

let strictLibrarySettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "onnx-basisprune",
    products: [
        .executable(name: "onnx-basisprune", targets: ["onnx-basisprune"]),
        .library(name: "BasisPrune", targets: ["BasisPrune"]),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(
            name: "CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLAPACKE", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(
            name: "COpenMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "COnnxProto", dependencies: ["CProtobufC"]),
        .target(name: "CMPIShim", dependencies: ["COpenMPI"]),
        .target(name: "COnnxSupport", dependencies: ["CProtobufC"]),
        .target(name: "CImageDecode", dependencies: ["CJPEG"]),
        .target(name: "CDNNLKernels", linkerSettings: [.linkedLibrary("gomp")]),

        // MARK: - Library
        .target(
            name: "BasisPrune",
            dependencies: [
                "CProtobufC", "COnnxProto", "COnnxSupport", "CBLAS", "CLAPACKE",
                "CZlib", "CPNG", "CJPEG", "CImageDecode", "CDNNL", "CDNNLKernels", "CMPIShim",
            ],
            swiftSettings: strictLibrarySettings),

        // MARK: - Tool
        .executableTarget(name: "onnx-basisprune", dependencies: ["BasisPrune"]),
        .executableTarget(
            name: "bench", dependencies: ["BasisPrune"], path: "bench",
            exclude: ["README.md", "ort_throughput.py", "methods.sh", "methods_row.py", "deploy.sh", "deploy.py", "latency_model.py", "calibration.py", "mpi.sh", "memory_phases.py", "native.py", "check_links.py", "results.py", "results.jsonl", "convnext.py"]),

        // MARK: - Tests
        .target(name: "TestSupport", dependencies: ["BasisPrune"], path: "Tests/TestSupport", exclude: ["python"]),
        .testTarget(name: "BasisPruneTests", dependencies: ["BasisPrune", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["BasisPrune", "TestSupport"]),
        .testTarget(name: "ConformanceTests", dependencies: ["BasisPrune", "TestSupport"]),
    ]
)

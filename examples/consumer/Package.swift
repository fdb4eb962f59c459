// swift-tools-version:6.0
// A package that uses BasisPrune as a dependency by path, as a library user would (make
// check-consumer builds and runs it): the library must build as a dependency (no unsafeFlags).
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(name: "onnx-basisprune", path: "../..")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "BasisPrune", package: "onnx-basisprune")]),
    ]
)

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "quantc",
    products: [
        .executable(name: "quantc", targets: ["quantc"]),
        .library(name: "QuantCIR", targets: ["IR", "ONNX", "Passes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // protobuf-c code generated from Debian's onnx.proto (tools/gen_bindings.sh).
        .target(
            name: "CONNX",
            path: "Sources/CONNX",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "IR",
            dependencies: ["CZlib", .product(name: "OrderedCollections", package: "swift-collections")],
            path: "Sources/IR"
        ),
        .target(name: "ONNX", dependencies: ["IR", "CONNX"], path: "Sources/ONNX"),
        // The compiled GPU artifact: plan, manifest, hashes, atomic directory writes.
        .target(name: "Artifact", path: "Sources/Artifact"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .target(name: "Interpreter", dependencies: ["IR", "COpenBLAS"], path: "Sources/Interpreter"),
        // Lowers a QDQ model to OpenCL C kernels, a launch plan and packed weights (issue 7).
        .target(name: "Codegen", dependencies: ["IR", "Interpreter", "Artifact"], path: "Sources/Codegen"),
        // The pass manager and one file per pass.
        .target(name: "Passes", dependencies: ["IR", "Interpreter"], path: "Passes"),
        // The quantization report: per-layer table and report.json.
        .target(name: "Report", dependencies: ["IR", "Passes"], path: "Sources/Report"),
        .executableTarget(
            name: "quantc",
            dependencies: [
                "IR", "ONNX", "Interpreter", "Passes", "Report", "Codegen", "Artifact",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/quantc"
        ),
        .testTarget(name: "IRTests", dependencies: ["IR"], path: "Tests/IRTests"),
        .testTarget(name: "InterpreterTests", dependencies: ["IR", "ONNX", "Interpreter"], path: "Tests/InterpreterTests"),
        .testTarget(name: "PassesTests", dependencies: ["IR", "ONNX", "Interpreter", "Passes"], path: "Tests/PassesTests"),
        .testTarget(name: "ONNXTests", dependencies: ["IR", "ONNX"], path: "Tests/ONNXTests"),
        // Runs the built executable; depending on it makes `swift test` build it.
        .testTarget(name: "CLITests", dependencies: ["quantc", "IR", "ONNX", "CZlib"], path: "Tests/CLITests"),
        .testTarget(name: "ArtifactTests", dependencies: ["Artifact"], path: "Tests/ArtifactTests"),
        .testTarget(name: "CodegenTests", dependencies: ["IR", "ONNX", "Interpreter", "Passes", "Codegen", "Artifact"], path: "Tests/CodegenTests"),
        .testTarget(name: "ReportTests", dependencies: ["IR", "Passes", "Report"], path: "Tests/ReportTests"),
    ]
)

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "quantc",
    products: [
        .executable(name: "quantc", targets: ["quantc"]),
        .executable(name: "quantc-fuzz", targets: ["quantc-fuzz"]),
        .library(name: "QuantCIR", targets: ["IR", "ONNX", "Passes"]),
        // The quantization flow as a library: what `quantc quantize` and `quantc build` run.
        .library(name: "QuantCKit", targets: ["QuantCKit"]),
        // Builds a target's *.recipe.json files with `quantc build` (tools/examples/embed).
        .plugin(name: "QuantCBuildPlugin", targets: ["QuantCBuildPlugin"]),
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
        // The OpenCL 1.2 C API (ocl-icd) and the runtime that executes an artifact on it.
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .target(
            name: "OpenCLRuntime",
            dependencies: ["COpenCL", "Artifact", "IR", "ONNX", "Interpreter"],
            path: "Sources/OpenCLRuntime"
        ),
        // The gfx803 model: occupancy, clang-15 read-out, roofline, tuner.
        .target(name: "GCN", dependencies: ["Artifact"], path: "Sources/GCN"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        // Inner loops in C so that they vectorize: the calibration histogram, a small-M product.
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "Interpreter", dependencies: ["IR", "COpenBLAS", "CKernels"], path: "Sources/Interpreter"),
        // Lowers a QDQ model to OpenCL C kernels, a launch plan and packed weights (issue 7).
        .target(name: "Codegen", dependencies: ["IR", "Interpreter", "Artifact", "GCN"], path: "Sources/Codegen"),
        // The pass manager and one file per pass.
        .target(name: "Passes", dependencies: ["IR", "Interpreter", "GCN", "CKernels"], path: "Passes"),
        // The quantization report: per-layer table and report.json.
        .target(name: "Report", dependencies: ["IR", "Interpreter", "Passes"], path: "Sources/Report"),
        // Import, pipeline, data sources, QDQ export, report and recipes behind one API.
        .target(name: "QuantCKit", dependencies: ["IR", "ONNX", "Interpreter", "Passes", "Report"], path: "Sources/QuantCKit"),
        .executableTarget(
            name: "quantc",
            dependencies: [
                "IR", "ONNX", "Interpreter", "Passes", "Report", "QuantCKit", "GCN", "Codegen", "Artifact", "OpenCLRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/quantc"
        ),
        .plugin(name: "QuantCBuildPlugin", capability: .buildTool(), dependencies: ["quantc"], path: "Plugins/QuantCBuildPlugin"),
        // The importer fuzz target (tools/fuzz.sh builds it with -sanitize=fuzzer); a plain
        // build makes it a replay tool for fuzz inputs.
        .executableTarget(
            name: "quantc-fuzz",
            dependencies: ["IR", "ONNX"],
            path: "Sources/quantc-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .testTarget(name: "IRTests", dependencies: ["IR"], path: "Tests/IRTests"),
        .testTarget(name: "InterpreterTests", dependencies: ["IR", "ONNX", "Interpreter", "CKernels"], path: "Tests/InterpreterTests"),
        .testTarget(name: "PassesTests", dependencies: ["IR", "ONNX", "Interpreter", "Passes", "GCN", "CKernels"], path: "Tests/PassesTests"),
        .testTarget(name: "ONNXTests", dependencies: ["IR", "ONNX"], path: "Tests/ONNXTests"),
        // Runs the built executable; depending on it makes `swift test` build it.
        .testTarget(name: "CLITests", dependencies: ["quantc", "IR", "ONNX", "CZlib", "Artifact", "ArtifactTestSupport"], path: "Tests/CLITests"),
        // Small hand-written artifacts shared by the runtime and CLI tests.
        .target(name: "ArtifactTestSupport", dependencies: ["Artifact", "IR", "ONNX"], path: "Tests/ArtifactTestSupport"),
        .testTarget(name: "ArtifactTests", dependencies: ["Artifact"], path: "Tests/ArtifactTests"),
        .testTarget(
            name: "OpenCLRuntimeTests",
            dependencies: ["OpenCLRuntime", "Artifact", "ArtifactTestSupport", "IR", "ONNX", "Interpreter"],
            path: "Tests/OpenCLRuntimeTests"
        ),
        .testTarget(name: "GCNTests", dependencies: ["GCN"], path: "Tests/GCNTests"),
        .testTarget(name: "CodegenTests", dependencies: ["IR", "ONNX", "Interpreter", "Passes", "Codegen", "Artifact", "GCN"], path: "Tests/CodegenTests"),
        .testTarget(name: "ReportTests", dependencies: ["IR", "Passes", "Report"], path: "Tests/ReportTests"),
    ]
)

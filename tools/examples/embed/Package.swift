// swift-tools-version:6.0
// Uses quantc as a library (embed-example) and through its build-tool plugin (DigitsModel).
// QUANTC_PACKAGE points at a quantc checkout (default: this repository, three folders up).
import Foundation
import PackageDescription

let quantcPath = ProcessInfo.processInfo.environment["QUANTC_PACKAGE"] ?? "../../.."
// A path dependency's identity is its folder's name, which depends on where quantc is cloned.
let quantcURL = URL(fileURLWithPath: quantcPath, relativeTo: URL(fileURLWithPath: #filePath).deletingLastPathComponent())
let quantc = quantcURL.standardizedFileURL.lastPathComponent.lowercased()

let package = Package(
    name: "quantc-embed-example",
    dependencies: [.package(path: quantcPath)],
    targets: [
        // Quantizes a model through the QuantCKit API.
        .executableTarget(name: "embed-example", dependencies: [.product(name: "QuantCKit", package: quantc)]),
        // A target holding a float model and a recipe: the plugin adds the quantized model as a resource.
        .target(name: "DigitsModel", exclude: ["digits_mlp.onnx"],
                plugins: [.plugin(name: "QuantCBuildPlugin", package: quantc)]),
        // Reads the quantized model the plugin built.
        .executableTarget(name: "plugin-example", dependencies: ["DigitsModel"]),
    ]
)

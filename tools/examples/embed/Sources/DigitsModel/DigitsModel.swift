import Foundation

/// The INT8 digits MLP that QuantCBuildPlugin built from digits_mlp.recipe.json.
public enum DigitsModel {
    /// The quantized model, a resource of this target.
    public static var url: URL? { Bundle.module.url(forResource: "digits_mlp.int8", withExtension: "onnx") }
    /// Its quantization report.
    public static var report: URL? { Bundle.module.url(forResource: "digits_mlp.int8.report", withExtension: "json") }
}

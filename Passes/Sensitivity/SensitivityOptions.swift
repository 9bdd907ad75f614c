import IR

/// Options every probing sensitivity pass takes, parsed the same way.
enum SensitivityOptions {
    static func samples(_ defaultValue: Int) -> PassOption {
        PassOption("samples", .int, default: "\(defaultValue)", help: "Calibration samples to probe with.")
    }
    static let batch = PassOption("batch", .int, default: "16", help: "Samples per interpreter run.")
    static let loss = PassOption("loss", .choice(["auto", "mse", "nmse", "kl"]), default: "auto",
                                 help: "Output distortion: KL of softmax for [N, C] class scores (auto), else MSE; with several outputs (auto) nmse, each output's MSE relative to its mean square, averaged over the outputs.")

    static func problem(_ options: PassOptions) -> String? {
        if options.int("samples") < 1 { return "samples must be at least 1" }
        if options.int("batch") < 1 { return "batch must be at least 1" }
        return nil
    }

    static func loss(_ options: PassOptions) -> OutputLoss? { OutputLoss(rawValue: options.string("loss")) }
}

extension QuantizationState {
    /// Adds `table`, replacing an earlier table of the same method (a rerun).
    mutating func record(_ table: SensitivityTable) {
        sensitivities.removeAll { $0.method == table.method }
        sensitivities.append(table)
    }
}

/// Figures printed into notes: short, deterministic.
func fmt(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    return abs(x) >= 1e-3 && abs(x) < 1e5 ? String(format: "%.4g", x) : String(format: "%.3e", x)
}

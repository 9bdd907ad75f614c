import IR

/// The standard clean-up before quantization, as one pass: fold constants,
/// fold batch norms into convolutions and GEMMs, remove identities, then
/// remove what became dead.
public struct Canonicalize: Pass {
    public static let name = "canonicalize"
    public static let summary = "fold-constants, fold-batchnorm, remove-identity and dce in one pass."

    let steps: [any Pass]

    public init(options: PassOptions) {
        let empty = PassOptions(pass: "", values: [:])
        steps = [FoldConstants(options: PassOptions(pass: FoldConstants.name, values: ["max-bytes": "1048576"])),
                 FoldBatchNorm(options: empty), RemoveIdentity(options: empty), DeadCodeElimination(options: empty)]
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        for step in steps { try step.run(on: &model, context: &context) }
    }
}

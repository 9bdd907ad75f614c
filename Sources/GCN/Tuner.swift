import Artifact

/// One way to run a layer: a kernel instance specialized with tuning parameters,
/// with the work it does and how it is launched. Code generators produce these
/// (``KernelCandidateProvider``); the ``Tuner`` compiles and ranks them.
public struct KernelCandidate: Sendable, Hashable {
    /// A readable configuration name, unique within the layer, e.g. `gemv_int4_g32_r2_wg64`;
    /// the final tie-break between equal predictions.
    public var config: String
    /// The named tuning parameters (tile sizes, work-group size, vector width, unroll, ...).
    public var parameters: [String: Int]
    /// The `__kernel` the source defines; unique among the candidates of one tuning call.
    public var kernelName: String
    /// OpenCL C of this kernel instance, without the shared prelude (``Tuner/tune`` adds it once).
    public var source: String
    /// Work of one launch: FLOPs (2 per multiply-add), other VALU lane-instructions
    /// (dequantization, index math worth counting) and DRAM bytes moved.
    public var flops: Double
    public var aluOps: Double
    public var bytes: Double
    /// Cache traffic (vector L1 bytes, LDS bytes at half weight): see ``GCNDevice/estimate``.
    public var onChipBytes: Double
    public var globalSize: [Int]
    public var localSize: [Int]

    public init(config: String, parameters: [String: Int] = [:], kernelName: String, source: String,
                flops: Double, aluOps: Double = 0, bytes: Double, onChipBytes: Double = 0, globalSize: [Int], localSize: [Int]) {
        self.config = config
        self.parameters = parameters
        self.kernelName = kernelName
        self.source = source
        self.flops = flops
        self.aluOps = aluOps
        self.bytes = bytes
        self.onChipBytes = onChipBytes
        self.globalSize = globalSize
        self.localSize = localSize
    }
}

/// What a code generator exposes to the tuner: the candidate kernels of a layer,
/// and the prelude (helpers, macros) their sources assume. Every candidate must
/// compute the same result; they differ only in tuning parameters.
public protocol KernelCandidateProvider {
    associatedtype Layer
    var prelude: String { get }
    func candidates(for layer: Layer) -> [KernelCandidate]
}

/// The tuner's answer for one layer: the chosen candidate with its compiler read-out
/// and estimate, and every candidate's fate, for the report.
public struct TunedKernel: Sendable {
    public struct Evaluation: Sendable {
        public var config: String
        public var parameters: [String: Int] = [:]
        public var resources: KernelResources?
        public var estimate: RooflineEstimate?
        /// Why the candidate cannot be used, or nil when it can.
        public var rejection: String?
    }

    public var layer: String
    public var chosen: KernelCandidate
    public var resources: KernelResources
    public var estimate: RooflineEstimate
    /// All candidates in the order given.
    public var evaluations: [Evaluation]
}

/// Chooses, per layer, the candidate with the smallest predicted time among those
/// that compile for gfx803 without scratch, spills or calls.
public struct Tuner: Sendable {
    public var device: GCNDevice
    public var compiler: KernelCompiler

    public init(device: GCNDevice = .gfx803, compiler: KernelCompiler = KernelCompiler()) {
        self.device = device
        self.compiler = compiler
    }

    /// Compiles every candidate in one clang call (prelude once, then each kernel);
    /// if that call fails, each candidate alone, so that one bad candidate is rejected
    /// with its own diagnostic instead of failing the layer. Ties in predicted time go
    /// to the lexicographically smaller config name, so the choice is deterministic.
    public func tune(layer: String, prelude: String, candidates: [KernelCandidate]) throws(GCNError) -> TunedKernel {
        try tune(layers: [(layer, candidates)], prelude: prelude)[0]
    }

    /// Tunes many layers with one clang call over all their candidates (kernel names
    /// must be unique across layers); if it fails, layer by layer as above.
    public func tune(layers: [(layer: String, candidates: [KernelCandidate])], prelude: String) throws(GCNError) -> [TunedKernel] {
        var names: Set<String> = []
        for (layer, candidates) in layers {
            guard !candidates.isEmpty else { throw .noViableCandidate(layer: layer, rejected: ["no candidates were given"]) }
            try validate(layer: layer, candidates: candidates, names: &names)
        }
        var compiled: [String: Result<KernelResources, GCNError>] = [:]
        let all = layers.flatMap(\.candidates)
        do {
            let batch = ([prelude] + all.map(\.source)).joined(separator: "\n")
            for k in try compiler.compile(source: batch, file: layers.count == 1 ? "\(layers[0].layer).cl" : "tuning.cl") {
                compiled[k.kernel] = .success(k)
            }
        } catch let e {
            if case .compilerMissing = e { throw e }
            for (layer, candidates) in layers {
                for c in candidates {
                    do {
                        for k in try compiler.compile(source: prelude + "\n" + c.source, file: "\(layer).\(c.config).cl") { compiled[k.kernel] = .success(k) }
                    } catch let e {
                        if case .compilerMissing = e { throw e }
                        compiled[c.kernelName] = .failure(e)
                    }
                }
            }
        }
        var out: [TunedKernel] = []
        for (layer, candidates) in layers { out.append(try choose(layer: layer, candidates: candidates, compiled: compiled)) }
        return out
    }

    private func validate(layer: String, candidates: [KernelCandidate], names: inout Set<String>) throws(GCNError) {
        var configs: Set<String> = []
        for c in candidates {
            guard names.insert(c.kernelName).inserted else { throw .badCandidate(layer: layer, config: c.config, message: "kernel name '\(c.kernelName)' is used by another candidate") }
            guard configs.insert(c.config).inserted else { throw .badCandidate(layer: layer, config: c.config, message: "config name is used by another candidate") }
            guard !c.globalSize.isEmpty, c.globalSize.count <= 3, c.globalSize.count == c.localSize.count,
                  c.localSize.allSatisfy({ $0 > 0 }), c.globalSize.allSatisfy({ $0 > 0 }) else {
                throw .badCandidate(layer: layer, config: c.config, message: "global size \(c.globalSize) and local size \(c.localSize) are not 1–3 positive dimensions of equal rank")
            }
            guard zip(c.globalSize, c.localSize).allSatisfy({ $0 % $1 == 0 }) else {
                throw .badCandidate(layer: layer, config: c.config, message: "global size \(c.globalSize) is not a multiple of local size \(c.localSize) (OpenCL 1.2 requires it)")
            }
        }
    }

    /// The fastest predicted candidate that compiled cleanly.
    private func choose(layer: String, candidates: [KernelCandidate], compiled: [String: Result<KernelResources, GCNError>]) throws(GCNError) -> TunedKernel {
        var evaluations: [TunedKernel.Evaluation] = []
        var best: (index: Int, resources: KernelResources, estimate: RooflineEstimate)?
        for (i, c) in candidates.enumerated() {
            var ev = TunedKernel.Evaluation(config: c.config, parameters: c.parameters)
            switch compiled[c.kernelName] {
            case nil:
                ev.rejection = "its source defines no kernel '\(c.kernelName)'"
            case .failure(let e):
                ev.rejection = e.description
            case .success(let r):
                ev.resources = r
                let group = c.localSize.reduce(1, *)
                let est = device.estimate(flops: c.flops, aluOps: c.aluOps, bytes: c.bytes, onChipBytes: c.onChipBytes, resources: r,
                                          globalSize: c.globalSize, localSize: c.localSize)
                ev.estimate = est
                if let d = r.defect {
                    ev.rejection = d
                } else if group > r.maxWorkGroupSize {
                    ev.rejection = "work-group of \(group) exceeds the kernel's maximum \(r.maxWorkGroupSize)"
                } else if device.occupancy(vgprs: r.vgprs, sgprs: r.sgprs, ldsBytes: r.ldsBytes, workGroupSize: group).wavesPerSIMD == 0 {
                    ev.rejection = "\(r.ldsBytes) bytes of LDS per work-group exceed the CU's \(device.ldsPerCU)"
                } else if best == nil || (est.seconds, c.config) < (best!.estimate.seconds, candidates[best!.index].config) {
                    best = (i, r, est)
                }
            }
            evaluations.append(ev)
        }
        guard let b = best else {
            throw .noViableCandidate(layer: layer, rejected: evaluations.map { "\($0.config): \($0.rejection ?? "?")" })
        }
        return TunedKernel(layer: layer, chosen: candidates[b.index], resources: b.resources, estimate: b.estimate, evaluations: evaluations)
    }

    /// Tunes a layer with a provider's candidates and prelude.
    public func tune<P: KernelCandidateProvider>(_ layer: P.Layer, named name: String, with provider: P) throws(GCNError) -> TunedKernel {
        try tune(layer: name, prelude: provider.prelude, candidates: provider.candidates(for: layer))
    }
}

extension TunedKernel {
    /// The figures the artifact's plan keeps for this launch (`Artifact.LaunchEstimate`).
    public var launchEstimate: LaunchEstimate {
        LaunchEstimate(flops: chosen.flops, bytesMoved: chosen.bytes, predictedMicroseconds: estimate.seconds * 1e6,
                       bound: estimate.bound.rawValue, vgprs: resources.vgprs, sgprs: resources.sgprs,
                       scratchBytes: resources.scratchBytes, occupancy: resources.occupancy,
                       tuning: chosen.parameters.isEmpty ? nil : chosen.parameters)
    }
}

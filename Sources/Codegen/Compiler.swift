import Artifact
import Foundation
import GCN
import IR
import Interpreter

/// What `quantc compile` writes besides the model and manifest.
public struct CompiledModel: Sendable {
    public var plan: Plan
    public var kernels: String
    public var weights: [UInt8]
    public var report: CodegenReport
}

public enum Codegen {
    /// GPU targets the templates are tuned for.
    public static let targets = ["gfx803"]
    /// The device the roofline estimates are for.
    static let device = GCNDevice.gfx803

    /// Lowers a QDQ model (as `insert-qdq` writes it) to kernels, a plan and packed weights.
    /// `inputShapes` fixes symbolic input dimensions (a symbolic leading one defaults to 1).
    ///
    /// With `kernelCompiler`, every kernel is compiled for gfx803 (clang-15) and each launch's
    /// estimate carries the compiler's registers, scratch and occupancy, and a roofline time at
    /// that occupancy; without it, the time assumes 4 waves per SIMD (no read-out). With a
    /// compiler and `tune`, each GEMV/GEMM/convolution/depthwise/eltwise launch gets the
    /// candidate configuration (``KernelCandidates``) the gfx803 ``Tuner`` predicts fastest;
    /// otherwise the first candidate.
    public static func compile(_ model: Model, target: String = "gfx803", inputShapes: [String: [Int]] = [:],
                               quantcVersion: String, kernelCompiler: KernelCompiler? = nil,
                               tune: Bool = true, pins: [TemplateKind: [String: Int]] = [:]) throws(CodegenError) -> CompiledModel {
        guard targets.contains(target) else { throw .unknownTarget(target, valid: targets) }
        let graph = try LoweredGraph(model: model, inputShapes: inputShapes)
        var lowering = Lowering(graph)
        try lowering.run()
        for o in graph.graph.outputs where lowering.root[o.name] == nil {
            throw .unsupported(node: o.name, opType: "output", detail: "graph output is a constant or is never computed")
        }
        var source = KernelSource(target: target)
        var launches = lowering.launches
        var tuned: [Int: TunedKernel] = [:]
        if let kernelCompiler, tune {
            tuned = try Self.tune(&launches, compiler: kernelCompiler, pins: pins)
        } else {
            for i in launches.indices where launches[i].host == nil && pins[launches[i].template] != nil {
                if let g = try Self.geometries(of: launches[i], pins: pins).first { launches[i] = launches[i].with(g) }
            }
        }

        // Liveness of arena values over launch order.
        // A value written in place into a Concat's output lives as that output.
        func storage(_ v: String) -> String { lowering.views[v]?.container ?? v }
        var first: [String: Int] = [:], last: [String: Int] = [:]
        for v in graph.graph.runtimeInputs { first[v.name] = -1; last[v.name] = -1 }
        for (i, l) in launches.enumerated() {
            let writes = (l.host?.outputs ?? [l.output]).map(storage)
            for w in writes where first[w] == nil { first[w] = i }
            for w in writes { last[w] = max(last[w] ?? i, i) }
            for r in l.arenaReads.map(storage) { last[r] = max(last[r] ?? i, i) }
        }
        for o in graph.graph.outputs { last[storage(lowering.rootOf(o.name))] = launches.count }
        func bytes(_ v: String) -> Int {
            let s = graph.shapes[v] ?? []
            let t = graph.elementTypes[v] ?? .float32
            return max(1, s.reduce(1, *) * max(1, t.bitWidth / 8))
        }
        let names = first.keys.sorted()
        let memory = MemoryPlan(names.map { MemoryPlan.Item(name: $0, bytes: bytes($0), first: first[$0]!, last: last[$0] ?? first[$0]!) })
        func planValue(_ name: String) -> PlanValue {
            let r = lowering.rootOf(name)
            let offset = lowering.views[r].map { (memory.offsets[$0.container] ?? 0) + $0.byteOffset } ?? memory.offsets[r] ?? 0
            // An alias (Reshape, Squeeze, …) shares its root's bytes but keeps its own shape.
            return PlanValue(name: name, elementType: planTypeName(graph.elementTypes[r] ?? .float32),
                             shape: graph.shapes[name] ?? graph.shapes[r] ?? [], offset: offset, bytes: bytes(r))
        }
        var arenaValues = names.map { ArenaValue(value: planValue($0), firstLaunch: first[$0]!, lastLaunch: last[$0] ?? first[$0]!) }
        var aliases = lowering.root.filter { $0.key != $0.value }
        for v in lowering.views.keys { aliases[v] = lowering.views[v]!.container }
        for (alias, r) in aliases.sorted(by: { $0.key < $1.key }) {
            let s = storage(r)
            guard memory.offsets[s] != nil else { continue }
            var v = planValue(alias)
            v.shape = graph.shapes[alias] ?? v.shape
            arenaValues.append(ArenaValue(value: v, firstLaunch: first[s]!, lastLaunch: last[s] ?? first[s]!, aliasOf: r))
        }

        // Render every kernel first, so the whole source compiles for gfx803 in one clang run.
        var kernelNames: [Int: String] = [:]
        for (i, l) in launches.enumerated() where l.host == nil { kernelNames[i] = source.kernel(for: l) }
        var resources: [String: KernelResources] = [:]
        if let kernelCompiler {
            do {
                for r in try kernelCompiler.compile(source: source.text, file: "kernels.cl") { resources[r.kernel] = r }
            } catch {
                throw .gcn("\(error)")
            }
        }

        var planLaunches: [Launch] = []
        var reportLaunches: [CodegenReport.LaunchEntry] = []
        for (i, l) in launches.enumerated() {
            if let h = l.host {
                planLaunches.append(Launch(nodes: l.nodes, kernel: nil, host: h))
                reportLaunches.append(.init(index: i, kernel: nil, template: nil, nodes: l.nodes, flops: 0, bytesMoved: 0, tuning: nil,
                                            host: h.reason))
                continue
            }
            let name = kernelNames[i]!
            func buffer(_ a: KernelLaunch.Arg) -> KernelArgument {
                switch a {
                case .arena(let v):
                    let p = planValue(v)
                    return .buffer(region: .arena, name: v, offset: p.offset, bytes: p.bytes)
                case .blob(let b):
                    let w = lowering.weights.blob(b)!
                    return .buffer(region: .weights, name: b, offset: w.offset, bytes: w.bytes)
                }
            }
            var args = [buffer(.arena(l.output))] + l.args.map(buffer)
            args += l.epilogue.operands.map { buffer($0.region == .arena ? .arena($0.name) : .blob($0.name)) }
            let r = resources[name]
            let roofline = tuned[i]?.estimate ?? {
                // As the tuner prices it: FLOPs over the grid's efficiency (idle lanes, edge tiles), cache traffic.
                let geometry = l.tuning?.geometry(l.config)
                let work = l.flops / max(geometry?.efficiency ?? 1, 1e-6), onChip = geometry?.onChipBytes ?? 0
                return r.map { device.estimate(flops: work, bytes: l.bytes, onChipBytes: onChip, resources: $0, globalSize: l.global, localSize: l.local) }
                    ?? device.estimate(flops: work, bytes: l.bytes, onChipBytes: onChip,
                                       occupancy: Occupancy(wavesPerSIMD: 4, wavesPerCU: 4 * device.simdsPerCU, limitedBy: .vgprs),
                                       globalSize: l.global, localSize: l.local)
            }()
            let estimate = LaunchEstimate(flops: l.flops, bytesMoved: l.bytes, predictedMicroseconds: roofline.seconds * 1e6,
                                          bound: roofline.bound.rawValue, vgprs: r?.vgprs, sgprs: r?.sgprs,
                                          scratchBytes: r?.scratchBytes, occupancy: r?.occupancy, tuning: l.config.parameters)
            planLaunches.append(Launch(nodes: l.nodes, kernel: name, arguments: args, globalSize: l.global, localSize: l.local,
                                       estimate: estimate))
            var entry = CodegenReport.LaunchEntry(index: i, kernel: name, template: l.template.rawValue, nodes: l.nodes, flops: l.flops,
                                                  bytesMoved: l.bytes, tuning: l.config.parameters, host: nil)
            entry.vgprs = r?.vgprs
            entry.sgprs = r?.sgprs
            entry.scratchBytes = r?.scratchBytes
            entry.occupancy = r?.occupancy
            entry.calls = r?.calls
            entry.predictedMicroseconds = estimate.predictedMicroseconds
            entry.bound = estimate.bound
            entry.candidates = tuned[i].map { t in
                t.evaluations.map { e in
                    CodegenReport.Candidate(config: e.config, parameters: e.parameters, vgprs: e.resources?.vgprs, occupancy: e.resources?.occupancy,
                                            predictedMicroseconds: e.estimate.map { $0.seconds * 1e6 }, rejected: e.rejection,
                                            chosen: e.config == t.chosen.config)
                }
            }
            reportLaunches.append(entry)
        }
        let plan = Plan(quantcVersion: quantcVersion, target: target,
                        inputs: graph.graph.runtimeInputs.map { planValue($0.name) },
                        outputs: graph.graph.outputs.map { planValue($0.name) },
                        arena: Arena(peakBytes: memory.peak, values: arenaValues),
                        weights: lowering.weights.blobs, launches: planLaunches)
        var report = CodegenReport(target: target, launches: reportLaunches, kernels: source.kernels.count,
                                   arenaPeakBytes: memory.peak, arenaSumOfValuesBytes: memory.sumOfValues,
                                   weightsBytes: lowering.weights.fileBytes.count, hostNodes: plan.hostNodes)
        report.registersFromCompiler = kernelCompiler != nil
        // Kernels run one after another on one in-order queue; host launches are not counted.
        report.predictedLatencyMicroseconds = reportLaunches.compactMap(\.predictedMicroseconds).reduce(0, +)
        report.memoryBoundLaunches = reportLaunches.filter { $0.bound == "memory" }.count
        report.computeBoundLaunches = reportLaunches.filter { $0.bound == "compute" }.count
        return CompiledModel(plan: plan, kernels: source.text, weights: lowering.weights.fileBytes, report: report)
    }

    /// Parses `--kernel-config` values, `TEMPLATE:NAME=V[,NAME=V…]` (e.g. `gemm:LDS_K=16,TM=4`),
    /// into pinned tuning parameters; an unknown template or parameter is named with the valid ones.
    public static func parsePins(_ specs: [String]) throws(CodegenError) -> [TemplateKind: [String: Int]] {
        var out: [TemplateKind: [String: Int]] = [:]
        for spec in specs {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            let tuned: [TemplateKind] = [.gemv, .gemm, .conv, .depthwise, .eltwise]
            guard parts.count == 2, let t = TemplateKind(rawValue: parts[0]), tuned.contains(t) else {
                throw .badKernelConfig(spec, "expected TEMPLATE:NAME=VALUE,…; tuned templates: \(tuned.map(\.rawValue).joined(separator: ", "))")
            }
            let valid = Set(KernelConfig.defaults(t).parameters.keys)
            for item in parts[1].split(separator: ",") {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, valid.contains(kv[0]), let v = Int(kv[1]), kv[0] == "LDS_K" ? (0...64).contains(v) : (1...1024).contains(v) else {
                    throw .badKernelConfig(spec, "'\(item)': \(t.rawValue) takes \(valid.sorted().joined(separator: ", ")) = 1…1024 (LDS_K 0…64)")
                }
                out[t, default: [:]][kv[0]] = v
            }
        }
        return out
    }

    static func describe(_ pin: [String: Int], _ t: TemplateKind) -> String {
        "\(t.rawValue):" + pin.keys.sorted().map { "\($0)=\(pin[$0]!)" }.joined(separator: ",")
    }

    /// The configurations a launch may take: the template's candidates that agree with the
    /// pinned parameters (`compile --kernel-config`), or, if none does, the first with the pins set.
    static func candidates(for l: KernelLaunch, pins: [TemplateKind: [String: Int]]) -> [KernelConfig] {
        guard let t = l.tuning else { return [] }
        let all = KernelCandidates.candidates(for: t.shape)
        guard let pin = pins[l.template], !pin.isEmpty else { return all }
        let matching = all.filter { c in pin.allSatisfy { c.parameters[$0.key] == $0.value } }
        if !matching.isEmpty { return matching }
        var first = all.first ?? .defaults(l.template)
        first.parameters.merge(pin) { $1 }
        return [first]
    }

    /// The distinct geometries a launch may take, in candidate order; a pin that none
    /// satisfies is an error.
    static func geometries(of l: KernelLaunch, pins: [TemplateKind: [String: Int]]) throws(CodegenError) -> [KernelLaunch.Geometry] {
        guard let t = l.tuning else { return [] }
        var seen: Set<KernelConfig> = [], out: [KernelLaunch.Geometry] = []
        for c in candidates(for: l, pins: pins) {
            if let g = t.geometry(c), seen.insert(g.config).inserted { out.append(g) }
        }
        if out.isEmpty, let pin = pins[l.template] {
            throw .badKernelConfig(describe(pin, l.template), "no configuration of the launch of \(l.nodes.first ?? "") satisfies it")
        }
        return out
    }

    /// Picks each tunable launch's configuration with the gfx803 tuner: every candidate
    /// of ``KernelCandidates`` the launch's template accepts is rendered as its own kernel,
    /// all are compiled in one clang-15 run (cached by source), and the fastest by the
    /// occupancy-derated roofline, over FLOPs divided by the grid's efficiency (tiles over
    /// the edge, idle lanes), is kept. Launches that would share a kernel are tuned once.
    /// Returns, per launch index, the tuner's answer.
    static func tune(_ launches: inout [KernelLaunch], compiler: KernelCompiler,
                     pins: [TemplateKind: [String: Int]] = [:]) throws(CodegenError) -> [Int: TunedKernel] {
        var groups: [String: [Int]] = [:], order: [String] = []
        for (i, l) in launches.enumerated() where l.host == nil && l.tuning != nil {
            let key = KernelSource.key(l)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        var layers: [(layer: String, candidates: [KernelCandidate])] = []
        var geometries: [[KernelLaunch.Geometry]] = []
        for (gi, key) in order.enumerated() {
            let l = launches[groups[key]![0]]
            let geos = try Self.geometries(of: l, pins: pins)
            let candidates = geos.enumerated().map { j, g in
                let name = "tune\(gi)_\(j)"
                // The index first: equal predictions go to the earlier (preferred) candidate.
                let config = String(format: "%02d_", j)
                    + g.config.parameters.keys.sorted().map { "\($0.lowercased())\(g.config.parameters[$0]!)" }.joined(separator: "_")
                return KernelCandidate(config: config, parameters: g.config.parameters, kernelName: name,
                                       source: KernelSource.render(l.with(g), name: name),
                                       flops: l.flops / max(g.efficiency, 1e-6), bytes: l.bytes, onChipBytes: g.onChipBytes,
                                       globalSize: g.global, localSize: g.local)
            }
            layers.append(("\(l.template.rawValue) \(l.nodes.first ?? "")", candidates))
            geometries.append(geos)
        }
        guard !layers.isEmpty else { return [:] }
        let answers: [TunedKernel]
        do {
            answers = try Tuner(device: device, compiler: compiler).tune(layers: layers, prelude: PreludeTemplate.source)
        } catch {
            throw .gcn("\(error)")
        }
        var out: [Int: TunedKernel] = [:]
        for (gi, key) in order.enumerated() {
            let t = answers[gi]
            let j = layers[gi].candidates.firstIndex { $0.config == t.chosen.config }!
            for i in groups[key]! {
                launches[i] = launches[i].with(geometries[gi][j])
                out[i] = t
            }
        }
        return out
    }

    /// JSON with sorted keys, as every artifact file is written (byte-identical reruns).
    public static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? Array(e.encode(value)) + [10]) ?? []
    }
}

/// The code generator's part of `report.json`: per launch, its kernel,
/// nodes, FLOPs and bytes moved (registers and occupancy are filled in by the
/// gfx803 tuner), and the nodes that run on the host.
public struct CodegenReport: Codable, Equatable, Sendable {
    public struct LaunchEntry: Codable, Equatable, Sendable {
        public var index: Int
        public var kernel: String?
        public var template: String?
        public var nodes: [String]
        public var flops: Double
        public var bytesMoved: Double
        public var tuning: [String: Int]?
        public var vgprs: Int?
        public var sgprs: Int?
        public var scratchBytes: Int?
        public var occupancy: Int?
        /// `s_swappc` calls in the kernel's gfx803 code (a defect: a built-in became a call).
        public var calls: Int?
        /// Roofline time on the RX 580, µs, and whether memory or compute bounds it.
        public var predictedMicroseconds: Double?
        public var bound: String?
        /// Why the launch runs on the host, when it does.
        public var host: String?
        /// The configurations the gfx803 tuner compared, in candidate order.
        public var candidates: [Candidate]?
        init(index: Int, kernel: String?, template: String?, nodes: [String], flops: Double, bytesMoved: Double,
             tuning: [String: Int]?, host: String?) {
            self.index = index
            self.kernel = kernel
            self.template = template
            self.nodes = nodes
            self.flops = flops
            self.bytesMoved = bytesMoved
            self.tuning = tuning
            self.host = host
        }
    }
    /// One configuration the tuner compiled: its registers, occupancy and predicted
    /// time, or why it was rejected.
    public struct Candidate: Codable, Equatable, Sendable {
        public var config: String
        public var parameters: [String: Int]
        public var vgprs: Int?
        public var occupancy: Int?
        public var predictedMicroseconds: Double?
        public var rejected: String?
        public var chosen: Bool
    }
    public var target: String
    public var launches: [LaunchEntry]
    public var kernels: Int
    public var arenaPeakBytes: Int
    public var arenaSumOfValuesBytes: Int
    public var weightsBytes: Int
    public var hostNodes: [String]
    /// The quantization pipeline that produced model.onnx (set by `quantc compile`).
    public var pipeline: String?
    /// Whether registers and occupancy come from compiling the kernels with clang-15 for gfx803
    /// (else the times assume 4 waves per SIMD).
    public var registersFromCompiler: Bool?
    /// Σ of the kernel launches' predicted times on the RX 580 (host launches not counted), µs.
    public var predictedLatencyMicroseconds: Double?
    public var memoryBoundLaunches: Int?
    public var computeBoundLaunches: Int?
}

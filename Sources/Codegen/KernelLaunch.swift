import Artifact
import IR

/// One launch before memory planning: what the kernel reads and writes by
/// value or blob name, its `#define`s and epilogue, its grid.
struct KernelLaunch {
    enum Arg: Equatable {
        case arena(String)
        case blob(String)
    }
    var nodes: [String]
    var template: TemplateKind
    var config: KernelConfig
    /// Specialization (shapes, formats), emitted in this order.
    var defines: [(String, String)]
    /// The arena value the kernel writes (its first argument).
    var output: String
    var outputShape: [Int]
    /// Arguments after the output, before the epilogue's operands (for a host
    /// launch: the arena values it reads).
    var args: [Arg]
    var epilogue = Epilogue()
    var global: [Int]
    var local: [Int]
    var flops: Double
    var bytes: Double
    /// A node run by the host interpreter instead (then the fields above are unused).
    var host: HostCall?
    /// How the launch looks under other tuning configurations (nil: not tuned).
    var tuning: Tuning?

    /// What the gfx803 tuner may change: the configuration, the `#define`s and
    /// grid that depend on it.
    struct Geometry {
        var config: KernelConfig
        /// `#define`s that depend on the configuration (they replace same-named ones).
        var defines: [(String, String)] = []
        var global: [Int]
        var local: [Int]
        /// Useful work / work the grid does (< 1 when tiles overhang the
        /// problem or lanes of a row idle); the tuner divides FLOPs by it.
        var efficiency: Double
        /// Bytes the launch moves through the vector L1 (LDS bytes at half weight).
        var onChipBytes: Double = 0
    }

    struct Tuning {
        /// The problem size, for ``KernelCandidates/candidates(for:)``.
        var shape: LayerShape
        /// The launch under a configuration (nil where the template cannot take it).
        var geometry: (KernelConfig) -> Geometry?
    }

    /// This launch under `g`.
    func with(_ g: Geometry) -> KernelLaunch {
        var l = self
        l.config = g.config
        l.defines = l.defines.filter { d in !g.defines.contains { $0.0 == d.0 } } + g.defines
        l.global = g.global
        l.local = g.local
        return l
    }


    /// Arena values the launch reads.
    var arenaReads: [String] {
        var r: [String] = []
        for a in args { if case .arena(let v) = a { r.append(v) } }
        for o in epilogue.operands where o.region == .arena { r.append(o.name) }
        return r
    }
}

extension KernelLaunch {
    /// A tuned launch at its code generator's default (first candidate) configuration.
    init(nodes: [String], template: TemplateKind, shape: LayerShape, defines: [(String, String)], output: String,
         outputShape: [Int], args: [Arg], flops: Double, bytes: Double, geometry: @escaping (KernelConfig) -> Geometry?) {
        let candidates = KernelCandidates.candidates(for: shape)
        let g = candidates.lazy.compactMap(geometry).first ?? geometry(.defaults(template))!
        self.init(nodes: nodes, template: template, config: g.config, defines: defines + g.defines, output: output, outputShape: outputShape,
                  args: args, global: g.global, local: g.local, flops: flops, bytes: bytes)
        tuning = Tuning(shape: shape, geometry: geometry)
    }
}

/// The plan's lower-case element type names.
func planTypeName(_ t: ElementType) -> String {
    switch t {
    case .float32: "float32"
    case .float16: "float16"
    case .float64: "float64"
    case .int8: "int8"
    case .uint8: "uint8"
    case .int4: "int4"
    case .uint4: "uint4"
    case .int16: "int16"
    case .uint16: "uint16"
    case .int32: "int32"
    case .uint32: "uint32"
    case .int64: "int64"
    case .uint64: "uint64"
    case .bool: "bool"
    default: t.shortName
    }
}

func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }
func ceilDiv(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m }

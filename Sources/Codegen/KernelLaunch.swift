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

    /// Arena values the launch reads.
    var arenaReads: [String] {
        var r: [String] = []
        for a in args { if case .arena(let v) = a { r.append(v) } }
        for o in epilogue.operands where o.region == .arena { r.append(o.name) }
        return r
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

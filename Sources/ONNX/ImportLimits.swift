#if canImport(Glibc)
import Glibc
#endif

/// Bounds on what an imported model may ask for, so a hostile file gets a clear
/// ``ImportError/limitExceeded(file:where:problem:)`` instead of a crash (stack overflow in
/// the recursive decoder), an exhausted memory or a quadratic slowdown.
///
/// The defaults are far above any real model's; tests set small ones.
public struct ImportLimits: Sendable {
    /// Largest byte size a tensor may declare (shape × element size). Default: the
    /// machine's physical memory, since quantc converts weights to float in memory.
    public var maxTensorBytes: Int
    /// Deepest nesting of subgraphs (If/Loop/Scan bodies, graph 1 = the main graph) and of
    /// sequence/map/optional types.
    public var maxNesting: Int
    /// Most nodes in the whole model (every graph, subgraphs and functions included).
    public var maxNodes: Int
    /// Most attributes on one node.
    public var maxAttributesPerNode: Int
    /// Longest name (of a graph, node, value, tensor, attribute, op type, domain or dimension).
    public var maxNameBytes: Int
    /// Longest other string: doc strings, string attributes, string tensor entries, metadata.
    public var maxStringBytes: Int

    public init(maxTensorBytes: Int = ImportLimits.physicalMemory, maxNesting: Int = 64, maxNodes: Int = 1 << 20,
                maxAttributesPerNode: Int = 4096, maxNameBytes: Int = 64 << 10, maxStringBytes: Int = 256 << 20) {
        self.maxTensorBytes = maxTensorBytes
        self.maxNesting = maxNesting
        self.maxNodes = maxNodes
        self.maxAttributesPerNode = maxAttributesPerNode
        self.maxNameBytes = maxNameBytes
        self.maxStringBytes = maxStringBytes
    }

    public static let `default` = ImportLimits()

    /// Physical memory in bytes (sysconf), or 16 GiB when unknown.
    public static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : 16 << 30
    }

    /// Bytes in human units for messages (binary prefixes, as memory is counted).
    static func describe(bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        let tenths = Int((v * 10).rounded())
        return i == 0 ? "\(bytes) bytes" : "\(tenths / 10).\(tenths % 10) \(units[i])"
    }
}

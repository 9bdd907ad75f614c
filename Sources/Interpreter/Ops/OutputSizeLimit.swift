#if canImport(Glibc)
import Glibc
#endif
import IR

/// The check for operators whose output size comes from a tensor's values (ConstantOfShape,
/// Expand, Tile, Range): a hostile or broken model can ask for any size there, and an
/// allocation past memory would stop quantc with a trap instead of an error naming the node.
enum OutputSizeLimit {
    /// Physical memory: no output larger can be computed here.
    static let maxBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : 16 << 30
    }()

    /// Throws unless `shape` has non-negative dims and fits in memory as `type`.
    static func check(_ shape: [Int], _ type: ElementType, _ what: String) throws(OpError) {
        if let d = shape.first(where: { $0 < 0 }) { throw OpError("\(what) \(shape) has a negative dimension (\(d))") }
        var bytes = RTensor.stride(of: type)
        for d in shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxBytes else {
                throw OpError("\(what) \(shape) of \(type.onnxName) would need more than this machine's \(maxBytes >> 20) MiB of memory")
            }
            bytes = p
        }
    }
}

import Artifact
import IR

/// Consistency of plan.json with itself and weights.bin, checked before any
/// device memory is touched: an argument outside its buffer would otherwise be
/// a driver error (or silent corruption) far from its cause.
enum PlanCheck {
    static func validate(_ plan: Plan, weightBytes: Int) throws(OpenCLError) {
        let arena = plan.arena.peakBytes
        guard arena >= 0 else { throw .invalidPlan(site: nil, detail: "arena.peakBytes is negative (\(arena))") }
        for v in plan.inputs + plan.outputs + plan.arena.values.map(\.value) {
            try place(v, arena: arena)
        }
        for b in plan.weights where b.offset < 0 || b.bytes < 0 || b.offset + b.bytes > weightBytes {
            throw .invalidPlan(site: nil, detail: "weight blob '\(b.name)' (offset \(b.offset), \(b.bytes) bytes) lies outside weights.bin (\(weightBytes) bytes)")
        }
        for (i, launch) in plan.launches.enumerated() {
            let site = LaunchSite(index: i, kernel: launch.kernel, nodes: launch.nodes)
            if launch.host != nil {
                guard launch.kernel == nil else { throw .invalidPlan(site: site, detail: "a launch has both a kernel and a host call") }
                continue
            }
            guard launch.kernel != nil else { throw .invalidPlan(site: site, detail: "a launch has neither a kernel nor a host call") }
            guard (1...3).contains(launch.globalSize.count), launch.globalSize.allSatisfy({ $0 > 0 }) else {
                throw .invalidPlan(site: site, detail: "global size \(launch.globalSize) must have 1 to 3 positive dimensions")
            }
            if let local = launch.localSize, local.count != launch.globalSize.count || !local.allSatisfy({ $0 > 0 }) {
                throw .invalidPlan(site: site, detail: "local size \(local) does not match global size \(launch.globalSize)")
            }
            for (a, argument) in launch.arguments.enumerated() {
                guard case .buffer(let region, let name, let offset, let bytes) = argument else {
                    if case .local(let bytes) = argument, bytes <= 0 {
                        throw .invalidPlan(site: site, detail: "argument \(a): local memory of \(bytes) bytes")
                    }
                    continue
                }
                let size = region == .arena ? arena : weightBytes
                let file = region == .arena ? "the arena" : "weights.bin"
                guard bytes > 0, offset >= 0, offset + bytes <= size else {
                    throw .invalidPlan(site: site, detail: "argument \(a) ('\(name)': offset \(offset), \(bytes) bytes) lies outside \(file) (\(size) bytes)")
                }
                guard offset % Plan.alignment == 0 else {
                    throw .invalidPlan(site: site, detail: "argument \(a) ('\(name)') is at offset \(offset), not a multiple of \(Plan.alignment)")
                }
            }
        }
    }

    private static func place(_ v: PlanValue, arena: Int) throws(OpenCLError) {
        guard let type = ElementType(planName: v.elementType) else {
            throw .invalidPlan(site: nil, detail: "value '\(v.name)' has unknown element type '\(v.elementType)'")
        }
        let count = v.shape.reduce(1, *)
        guard v.shape.allSatisfy({ $0 >= 0 }), let need = type.byteCount(elements: count), v.bytes >= need else {
            throw .invalidPlan(site: nil, detail: "value '\(v.name)' (\(v.elementType)\(v.shape)) does not fit its \(v.bytes) bytes")
        }
        guard v.offset >= 0, v.offset + v.bytes <= arena else {
            throw .invalidPlan(site: nil, detail: "value '\(v.name)' (offset \(v.offset), \(v.bytes) bytes) lies outside the arena (\(arena) bytes)")
        }
    }
}

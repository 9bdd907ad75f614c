/// What clang-15 reports for one kernel compiled for gfx803.
public struct KernelResources: Sendable, Hashable, Codable {
    public var kernel: String
    public var vgprs: Int
    public var sgprs: Int
    /// Private (scratch) bytes per lane; anything above 0 is a defect for us.
    public var scratchBytes: Int
    /// LDS bytes per work-group.
    public var ldsBytes: Int
    /// Waves per SIMD as clang computes it (registers, and its LDS heuristic).
    public var occupancy: Int
    public var vgprSpills: Int
    public var sgprSpills: Int
    /// `s_swappc_b64` instructions in the kernel: calls, which with -nogpulib mean a
    /// library function (get_global_id, barrier, exp, dot, ...) was not inlined. A defect.
    public var calls: Int
    /// The work-group size the kernel allows (`reqd_work_group_size`, else 256).
    public var maxWorkGroupSize: Int

    public init(kernel: String, vgprs: Int, sgprs: Int, scratchBytes: Int, ldsBytes: Int, occupancy: Int,
                vgprSpills: Int, sgprSpills: Int, calls: Int, maxWorkGroupSize: Int) {
        self.kernel = kernel
        self.vgprs = vgprs
        self.sgprs = sgprs
        self.scratchBytes = scratchBytes
        self.ldsBytes = ldsBytes
        self.occupancy = occupancy
        self.vgprSpills = vgprSpills
        self.sgprSpills = sgprSpills
        self.calls = calls
        self.maxWorkGroupSize = maxWorkGroupSize
    }

    /// Why the kernel must not run on gfx803 as compiled (scratch, spills, calls), or nil.
    public var defect: String? {
        var d: [String] = []
        if scratchBytes > 0 { d.append("\(scratchBytes) bytes of scratch per lane") }
        if vgprSpills > 0 || sgprSpills > 0 { d.append("spills \(vgprSpills) VGPRs and \(sgprSpills) SGPRs") }
        if calls > 0 { d.append("\(calls) s_swappc call\(calls == 1 ? "" : "s") (a library function was not inlined; use the prelude's builtins)") }
        return d.isEmpty ? nil : d.joined(separator: ", ")
    }
}

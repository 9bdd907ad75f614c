/// A GCN GPU as the latency model and the occupancy rule see it.
///
/// Numbers for gfx803 come from AMD's RX 580 specification and LLVM's AMDGPU
/// backend (AMDGPU.td, Utils/AMDGPUBaseInfo.cpp); /work/shared/notes/gcn.md
/// collects them.
public struct GCNDevice: Sendable, Hashable {
    public var name: String
    /// The `-mcpu` clang targets.
    public var target: String
    public var computeUnits: Int
    public var simdsPerCU: Int
    public var wavefrontSize: Int
    /// Most waves one SIMD holds (its instruction buffers).
    public var maxWavesPerSIMD: Int
    /// VGPRs per lane per SIMD, allocated in granules of `vgprGranule`.
    public var vgprsPerSIMD: Int
    public var vgprGranule: Int
    /// SGPRs one wave may address (102 on VI, VCC included).
    public var addressableSGPRs: Int
    /// LDS per compute unit, bytes.
    public var ldsPerCU: Int
    public var clockHz: Double
    /// DRAM bandwidth, bytes per second.
    public var bandwidth: Double
    public var l2Bytes: Int

    /// Peak fp32 FLOP/s: every lane does one fused multiply-add (2 FLOPs) a clock.
    public var peakFlops: Double { Double(computeUnits * simdsPerCU * 16 * 2) * clockHz }
    /// Vector instructions the whole chip issues per second, counted per lane
    /// (a SIMD16 runs one 64-lane wave instruction in 4 clocks: 16 lane-ops a clock).
    public var laneOpsPerSecond: Double { Double(computeUnits * simdsPerCU * 16) * clockHz }

    /// Radeon RX 580 (Polaris 20 XT): 36 CUs at 1340 MHz, 6.17 TFLOPS, 256 GB/s GDDR5, 2 MB L2.
    public static let gfx803 = GCNDevice(
        name: "Radeon RX 580", target: "gfx803", computeUnits: 36, simdsPerCU: 4, wavefrontSize: 64,
        maxWavesPerSIMD: 10, vgprsPerSIMD: 256, vgprGranule: 4, addressableSGPRs: 102, ldsPerCU: 65536,
        clockHz: 1.340e9, bandwidth: 256e9, l2Bytes: 2 << 20)
}

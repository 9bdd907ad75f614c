/// Predicted time of one kernel launch on a GCN device, by the roofline model
/// (Williams, Waterman & Patterson, "Roofline", CACM 2009) derated for occupancy:
///
///   t = max(ALU work / (lane-op rate · e_alu(w)), bytes / (bandwidth · e_mem(w))) + launch overhead
///
/// ALU work is counted in vector lane-instructions: FLOPs / 2 (one `v_mac_f32` is
/// 2 FLOPs; gfx803 has no faster FMA) plus the kernel's other VALU work, such as
/// dequantization (`aluOps`). `w` is the waves each SIMD really holds: the
/// occupancy, or fewer when the grid has fewer waves than the chip has SIMDs.
///
/// - Memory: a wave waits L ≈ 1 µs on a DRAM load under load (GCN pointer-chase
///   measurements give 0.5–1 µs), so by Little's law the chip moves at most
///   (waves in flight × 1 KiB) / L — one 16-byte `uint4` load per lane outstanding
///   per wave — which matters for small grids; and a SIMD hides that latency only
///   with about 4 waves (AMD's usual advice for memory-bound kernels), so the rate is
///   also 0.8 · 256 GB/s · min(1, w/4): streaming kernels on Polaris reach ~80% of
///   the bus at best. No launch that reads memory takes less than one L.
/// - ALU: a SIMD issues one VALU instruction of a wave every 4 clocks, so one wave
///   could keep it busy, but waits on LDS, scalar loads and branches need a second
///   (CLRX GCN timings: "4 wavefronts per CU" for full rate). e_alu(w) = 0.75 · min(1, w/2);
///   0.75 is about what tuned GEMMs reach on Polaris (CLBlast's RX 580 SGEMM, llama.cpp's
///   65% on an RX 470 q4_0 matmul; see gcn.md).
/// - On-chip: operands a kernel re-reads from cache rather than DRAM (the L1
///   traffic of a GEMM without LDS tiles: each work-item loads its TM activations
///   and TN weights per k) pass the vector L1 at 64 bytes per clock per CU; LDS
///   serves 128, so callers count LDS bytes at half weight (`onChipBytes`).
/// - Launch overhead: 5 µs per dispatch, an assumption of the order AMD's OpenCL
///   stack shows for back-to-back kernels of an in-order queue (command processor,
///   cache flush between dependent kernels); not measured, there is no GPU here.
public struct RooflineEstimate: Sendable, Hashable, Codable {
    /// Which roof the time sits under; the same words as `Artifact.LaunchEstimate.bound`.
    public enum Bound: String, Sendable, Hashable, Codable { case memory, compute }

    public var seconds: Double
    public var computeSeconds: Double
    public var memorySeconds: Double
    public var overheadSeconds: Double
    /// Waves per SIMD the estimate assumed (occupancy, or fewer for a small grid).
    public var effectiveWaves: Double
    public var bound: Bound

    /// True when the launch overhead exceeds both roofs (small layers).
    public var overheadDominated: Bool { overheadSeconds > max(computeSeconds, memorySeconds) }

    /// Σ of the launches: the model runs kernels one after another on one queue.
    public static func total(_ launches: [RooflineEstimate]) -> Double { launches.reduce(0) { $0 + $1.seconds } }
}

extension GCNDevice {
    public static let launchOverhead = 5e-6
    public static let memoryEfficiency = 0.8
    public static let aluEfficiency = 0.75
    /// Waves per SIMD for full memory-latency hiding, and for full ALU issue.
    public static let memoryWaves = 4.0
    public static let aluWaves = 2.0
    /// DRAM round trip under load, and the bytes one wave keeps in flight.
    public static let memoryLatency = 1e-6
    public static let bytesInFlightPerWave = 1024.0
    /// Vector L1 bandwidth per CU and clock (GCN whitepaper: 64 B/clk; LDS 128).
    public static let l1BytesPerClock = 64.0

    /// The estimate of one launch of `globalSize` work-items in work-groups of `localSize`
    /// (1–3 dimensions), `flops` (2 per multiply-add), `aluOps` other lane-instructions and
    /// `bytes` of DRAM traffic, at the occupancy `resources` allow.
    public func estimate(flops: Double, aluOps: Double = 0, bytes: Double, onChipBytes: Double = 0, resources: KernelResources,
                         globalSize: [Int], localSize: [Int]) -> RooflineEstimate {
        let group = localSize.reduce(1, *)
        let occ = occupancy(vgprs: resources.vgprs, sgprs: resources.sgprs, ldsBytes: resources.ldsBytes, workGroupSize: group)
        return estimate(flops: flops, aluOps: aluOps, bytes: bytes, onChipBytes: onChipBytes, occupancy: occ,
                        globalSize: globalSize, localSize: localSize)
    }

    /// As above for a known occupancy (the latency budget, before any kernel exists).
    public func estimate(flops: Double, aluOps: Double = 0, bytes: Double, onChipBytes: Double = 0, occupancy: Occupancy,
                         globalSize: [Int], localSize: [Int]) -> RooflineEstimate {
        let group = max(1, localSize.reduce(1, *))
        let groups = zip(globalSize, localSize).reduce(1) { $0 * (($1.0 + max($1.1, 1) - 1) / max($1.1, 1)) }
        let wavesPerGroup = (group + wavefrontSize - 1) / wavefrontSize
        let simds = Double(computeUnits * simdsPerCU)
        let occupied = min(Double(occupancy.wavesPerSIMD), Double(occupancy.wavesPerCU) / Double(simdsPerCU))
        let totalWaves = Double(groups * wavesPerGroup)
        // Waves per SIMD over the whole chip: the occupancy, or fewer for a small grid.
        let waves = min(occupied, totalWaves / simds)
        let aluRate = laneOpsPerSecond * Self.aluEfficiency * min(1, waves / Self.aluWaves)
        let inFlight = min(totalWaves, occupied * simds) * Self.bytesInFlightPerWave / Self.memoryLatency
        let memRate = min(bandwidth * Self.memoryEfficiency * min(1, occupied / Self.memoryWaves), inFlight)
        let work = flops / 2 + aluOps
        let compute = work > 0 ? (aluRate > 0 ? work / aluRate : .infinity) : 0
        let dram = bytes > 0 ? (memRate > 0 ? max(Self.memoryLatency, bytes / memRate) : .infinity) : 0
        let onChip = onChipBytes / (Double(computeUnits) * Self.l1BytesPerClock * clockHz)
        let memory = max(dram, onChip)
        let overhead = Self.launchOverhead
        let bound: RooflineEstimate.Bound = compute > memory ? .compute : .memory
        return RooflineEstimate(seconds: max(compute, memory) + overhead, computeSeconds: compute, memorySeconds: memory,
                              overheadSeconds: overhead, effectiveWaves: waves, bound: bound)
    }
}

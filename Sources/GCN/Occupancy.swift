/// How many waves of a kernel one SIMD holds at once, and what caps it.
///
/// Registers are per SIMD: a wave of `v` VGPRs takes ⌈v/4⌉·4 of the SIMD's 256
/// per lane, so waves = ⌊256 / that⌋, at most 10 (LLVM
/// `GCNSubtarget::getOccupancyWithNumVGPRs`). SGPRs on VI: ≤80 → 10, ≤88 → 9,
/// ≤100 → 8, else 7 (`getOccupancyWithNumSGPRs`, VOLCANIC_ISLANDS branch).
/// LDS and work-group slots are per CU: ⌊64 KiB / LDS⌋ work-groups fit, and a CU
/// takes at most 40 single-wave work-groups or min(⌊40/n⌋, 16) of n waves
/// (`AMDGPU::IsaInfo::getMaxWorkGroupsPerCU`); their waves spread over the 4 SIMDs.
///
/// | VGPRs | ≤24 | 28 | 32 | 36 | 40 | 48 | 64 | 84 | 128 | 256 |
/// |---|---|---|---|---|---|---|---|---|---|---|
/// | waves/SIMD | 10 | 9 | 8 | 7 | 6 | 5 | 4 | 3 | 2 | 1 |
///
/// clang's own `Occupancy` remark uses the register rules exactly but a coarser
/// LDS heuristic (`getOccupancyWithLocalMemSize`, which assumes the largest
/// work-group the kernel allows); the LDS rule here is the hardware's.
public struct Occupancy: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Limit: String, Sendable, Hashable, Codable {
        case vgprs, sgprs, lds, workGroupSlots = "work-group slots", waveSlots = "wave slots"
    }

    /// Waves each SIMD holds; 0 when the kernel cannot launch (LDS over the CU's).
    public var wavesPerSIMD: Int
    /// Waves resident per CU (can be below 4 · wavesPerSIMD when few large work-groups fit).
    public var wavesPerCU: Int
    public var limitedBy: Limit

    public init(wavesPerSIMD: Int, wavesPerCU: Int, limitedBy: Limit) {
        self.wavesPerSIMD = wavesPerSIMD
        self.wavesPerCU = wavesPerCU
        self.limitedBy = limitedBy
    }

    public var description: String { "\(wavesPerSIMD) waves/SIMD (\(limitedBy.rawValue))" }
}

extension GCNDevice {
    /// Waves per SIMD the VGPR file allows.
    public func wavesPerSIMD(vgprs: Int) -> Int {
        if vgprs < vgprGranule { return maxWavesPerSIMD }
        let rounded = (vgprs + vgprGranule - 1) / vgprGranule * vgprGranule
        return min(max(vgprsPerSIMD / rounded, 1), maxWavesPerSIMD)
    }

    /// Waves per SIMD the SGPR file allows (VI: 800 SGPRs per SIMD, granule 16).
    public func wavesPerSIMD(sgprs: Int) -> Int {
        if sgprs <= 80 { return 10 }
        if sgprs <= 88 { return 9 }
        if sgprs <= 100 { return 8 }
        return 7
    }

    /// Work-groups of `workGroupSize` work-items one CU holds, by its wave and barrier slots.
    public func workGroupSlots(workGroupSize: Int) -> Int {
        let waves = max(1, (workGroupSize + wavefrontSize - 1) / wavefrontSize)
        let total = maxWavesPerSIMD * simdsPerCU
        return waves == 1 ? total : min(total / waves, 16)
    }

    /// Occupancy of a kernel using `vgprs`, `sgprs` and `ldsBytes` per work-group of `workGroupSize`.
    public func occupancy(vgprs: Int, sgprs: Int, ldsBytes: Int, workGroupSize: Int) -> Occupancy {
        let wavesPerGroup = max(1, (workGroupSize + wavefrontSize - 1) / wavefrontSize)
        // Ties name the first: the hardware's 10 only when nothing else is lower.
        var limits: [(Int, Occupancy.Limit)] = [
            (maxWavesPerSIMD, .waveSlots),
            (wavesPerSIMD(vgprs: vgprs), .vgprs),
            (wavesPerSIMD(sgprs: sgprs), .sgprs),
        ]
        let bySlots = workGroupSlots(workGroupSize: workGroupSize)
        let byLDS = ldsBytes > 0 ? ldsPerCU / ldsBytes : Int.max
        let groups = min(bySlots, byLDS)
        let groupLimit: Occupancy.Limit = byLDS < bySlots ? .lds : .workGroupSlots
        let perCU = groups == Int.max ? Int.max : groups * wavesPerGroup
        // A work-group's waves spread over the SIMDs; a SIMD holding any wave counts as 1.
        if perCU < Int.max { limits.append((perCU == 0 ? 0 : max(1, perCU / simdsPerCU), groupLimit)) }
        let (waves, limit) = limits.min { $0.0 < $1.0 }!
        return Occupancy(wavesPerSIMD: waves, wavesPerCU: min(perCU, waves * simdsPerCU), limitedBy: limit)
    }
}

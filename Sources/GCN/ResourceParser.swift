import Foundation

/// Reads clang-15's report of a gfx803 compile: the `kernel-resource-usage`
/// remarks on stderr and the assembly (`-S`) with its HSA metadata.
///
/// The kernels and their register, scratch and LDS figures come from the
/// `.amdgpu_metadata` block (one `- .name:` entry per kernel, LLVM's
/// AMDGPUUsage "Code Object V3+ Metadata"); clang's Occupancy from the remarks
/// (which also cover non-kernel functions, so they are matched by name); calls
/// from `s_swappc` between a kernel's label and its `.Lfunc_end`.
enum ResourceParser {
    static func parse(remarks: String, assembly: String, file: String) throws(GCNError) -> [KernelResources] {
        let occupancy = remarkOccupancy(remarks)
        let calls = callsPerFunction(assembly)
        let entries = metadataEntries(assembly)
        if entries.isEmpty, assembly.contains(".amdhsa_kernel") {
            throw .unreadableOutput(file: file, message: "the assembly has kernels but no readable .amdgpu_metadata block")
        }
        var out: [KernelResources] = []
        for e in entries {
            guard let name = e[".name"] else { throw .unreadableOutput(file: file, message: "a kernel metadata entry has no .name") }
            func int(_ key: String) throws(GCNError) -> Int {
                guard let v = e[key], let i = Int(v) else {
                    throw .unreadableOutput(file: file, message: "kernel '\(name)': metadata has no integer \(key)")
                }
                return i
            }
            let r = KernelResources(
                kernel: name, vgprs: try int(".vgpr_count"), sgprs: try int(".sgpr_count"),
                scratchBytes: try int(".private_segment_fixed_size"), ldsBytes: try int(".group_segment_fixed_size"),
                occupancy: 0, vgprSpills: try int(".vgpr_spill_count"), sgprSpills: try int(".sgpr_spill_count"),
                calls: calls[name] ?? 0, maxWorkGroupSize: try int(".max_flat_workgroup_size"))
            guard let occ = occupancy[name] else {
                throw .unreadableOutput(file: file, message: "kernel '\(name)': no Occupancy remark (was -Rpass-analysis=kernel-resource-usage given?)")
            }
            var withOcc = r
            withOcc.occupancy = occ
            out.append(withOcc)
        }
        return out
    }

    /// `remark: Function Name: k` followed by `remark:     Occupancy [waves/SIMD]: n`.
    static func remarkOccupancy(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let r = line.range(of: "remark:") else { continue }
            var body = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
            if let tag = body.range(of: " [-Rpass-analysis") { body = String(body[..<tag.lowerBound]) }
            if body.hasPrefix("Function Name:") {
                current = body.dropFirst("Function Name:".count).trimmingCharacters(in: .whitespaces)
            } else if body.hasPrefix("Occupancy"), let name = current, let colon = body.lastIndex(of: ":"),
                      let n = Int(body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)) {
                result[name] = n
            }
        }
        return result
    }

    /// `s_swappc` count per function, the function being the last `NAME:` label
    /// after a `.type NAME,@function` directive.
    static func callsPerFunction(_ asm: String) -> [String: Int] {
        var functions: Set<String> = []
        var result: [String: Int] = [:]
        var current: String?
        for raw in asm.split(separator: "\n", omittingEmptySubsequences: true) {
            // Drop the assembler comment (`gemv:   ; @gemv`).
            let code = raw.firstIndex(of: ";").map { raw[..<$0] } ?? raw
            let line = code.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix(".type"), line.hasSuffix("@function") {
                let name = line.dropFirst(".type".count).split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
                if let name { functions.insert(name) }
            } else if line.hasSuffix(":"), functions.contains(String(line.dropLast())) {
                current = String(line.dropLast())
            } else if line.hasPrefix(".Lfunc_end") {
                current = nil
            } else if let c = current, line.hasPrefix("s_swappc") {
                result[c, default: 0] += 1
            }
        }
        return result
    }

    /// The `amdhsa.kernels` entries of the metadata block: key → value of the
    /// top-level keys of each `- ` item (nested `.args` lists are skipped).
    static func metadataEntries(_ asm: String) -> [[String: String]] {
        guard let start = asm.range(of: ".amdgpu_metadata"),
              let end = asm.range(of: ".end_amdgpu_metadata", range: start.upperBound..<asm.endIndex) else { return [] }
        var entries: [[String: String]] = []
        var inKernels = false
        var itemIndent = -1
        for raw in asm[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: true) {
            let indent = raw.prefix { $0 == " " }.count
            let line = raw.dropFirst(indent)
            if indent == 0 { inKernels = line.hasPrefix("amdhsa.kernels:"); continue }
            guard inKernels else { continue }
            if line.hasPrefix("- ") && (itemIndent < 0 || indent == itemIndent) {
                itemIndent = indent
                entries.append([:])
                keyValue(line.dropFirst(2), into: &entries[entries.count - 1])
            } else if !entries.isEmpty, indent == itemIndent + 2, !line.hasPrefix("- ") {
                keyValue(line, into: &entries[entries.count - 1])
            }
        }
        return entries
    }

    private static func keyValue(_ line: Substring, into entry: inout [String: String]) {
        guard let colon = line.firstIndex(of: ":") else { return }
        let key = line[..<colon].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if !value.isEmpty { entry[key] = value.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
    }
}

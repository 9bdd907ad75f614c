import Artifact
import COpenCL

/// A kernel's declared parameter (CL_KERNEL_ARG_* of OpenCL 1.2, which the
/// program carries when built with `-cl-kernel-arg-info`), to check the plan's
/// arguments by kind before a size-compatible mismatch (an int where a float
/// is declared) silently reinterprets bits.
struct KernelParameter: Equatable {
    var name: String
    var type: String
    var address: cl_kernel_arg_address_qualifier

    /// The declared parameters, or nil when the driver keeps no argument info.
    static func all(of kernel: cl_kernel, count: Int) -> [KernelParameter]? {
        var out: [KernelParameter] = []
        for i in 0..<count {
            var address: cl_kernel_arg_address_qualifier = 0
            guard clGetKernelArgInfo(kernel, cl_uint(i), cl_kernel_arg_info(CL_KERNEL_ARG_ADDRESS_QUALIFIER),
                                     MemoryLayout.size(ofValue: address), &address, nil) == CL_SUCCESS,
                  let type = string(kernel, i, CL_KERNEL_ARG_TYPE_NAME), let name = string(kernel, i, CL_KERNEL_ARG_NAME)
            else { return nil }
            out.append(KernelParameter(name: name, type: type, address: address))
        }
        return out
    }

    private static func string(_ kernel: cl_kernel, _ i: Int, _ param: Int32) -> String? {
        var n = 0
        guard clGetKernelArgInfo(kernel, cl_uint(i), cl_kernel_arg_info(param), 0, nil, &n) == CL_SUCCESS, n > 0 else { return nil }
        var bytes = [CChar](repeating: 0, count: n + 1)
        guard clGetKernelArgInfo(kernel, cl_uint(i), cl_kernel_arg_info(param), n, &bytes, nil) == CL_SUCCESS else { return nil }
        return Devices.trimmed(bytes)
    }

    var isBuffer: Bool {
        address == cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_GLOBAL)
            || address == cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_CONSTANT)
    }
    var isLocal: Bool { address == cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_LOCAL) }

    /// Why `argument` cannot be passed for this parameter; nil when it fits.
    func mismatch(_ argument: KernelArgument) -> String? {
        let fits: Bool
        switch argument {
        case .buffer: fits = isBuffer
        case .local: fits = isLocal
        case .int32: fits = !isBuffer && !isLocal && ["int", "uint", "unsigned int"].contains(type)
        case .float32: fits = !isBuffer && !isLocal && type == "float"
        }
        guard !fits else { return nil }
        let an = type.first.map { "aeiou".contains($0) } == true ? "an" : "a"
        let declared = isBuffer ? "\(an) \(type) buffer" : isLocal ? "\(type) local memory" : "\(an) \(type)"
        return "'\(name)' is declared as \(declared), the plan gives \(Self.describe(argument))"
    }

    static func describe(_ argument: KernelArgument) -> String {
        switch argument {
        case .buffer(let region, let name, _, _): "a buffer ('\(name)' in \(region == .arena ? "the arena" : "weights.bin"))"
        case .local(let bytes): "\(bytes) bytes of local memory"
        case .int32(let v): "an int32 (\(v))"
        case .float32(let v): "a float32 (\(v))"
        }
    }
}

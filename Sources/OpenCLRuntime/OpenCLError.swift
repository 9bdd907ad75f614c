import Foundation

/// Where in the plan a driver call failed: the launch, its kernel and the IR
/// nodes it computes, so a message points at the layer, not at a cl_kernel.
public struct LaunchSite: Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    /// Kernel function name; nil for a host launch.
    public var kernel: String?
    public var nodes: [String]

    public init(index: Int, kernel: String?, nodes: [String]) {
        self.index = index
        self.kernel = kernel
        self.nodes = nodes
    }

    public var description: String {
        let what = kernel.map { "kernel '\($0)'" } ?? "host launch"
        let shown = nodes.prefix(4).joined(separator: ", ") + (nodes.count > 4 ? ", …" : "")
        return "\(what) (launch \(index), node\(nodes.count == 1 ? "" : "s") \(shown))"
    }
}

/// Why an artifact cannot run on an OpenCL device. Every case names what it is
/// about: the device, the kernel and launch, the input or the plan entry.
public enum OpenCLError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The ICD loader found no platform (CL_PLATFORM_NOT_FOUND_KHR, -1001, or none listed).
    case noPlatform
    /// No device at all, or none matching `--device`.
    case noDevice(selector: String?, available: [String])
    /// `--device` matched several devices.
    case ambiguousDevice(selector: String, matches: [String])
    /// The device's sub-buffer alignment does not divide the plan's.
    case alignment(device: String, deviceBytes: Int, planBytes: Int)
    /// clBuildProgram failed: the build log, and the kernels the log's errors are in.
    case buildFailed(device: String, kernels: [String], log: String)
    /// A launch names a kernel that kernels.cl does not define.
    case missingKernel(LaunchSite, available: [String])
    /// The launch's local size does not fit the device or the kernel.
    case invalidWorkGroupSize(LaunchSite, global: [Int], local: [Int]?, detail: String)
    /// The device ran out of memory or resources.
    case outOfResources(call: String, status: Int32, site: LaunchSite?, detail: String)
    /// Any other failed driver call.
    case driver(call: String, status: Int32, site: LaunchSite?)
    /// plan.json is inconsistent (an argument outside its buffer, a misaligned offset, …).
    case invalidPlan(site: LaunchSite?, detail: String)
    /// A graph input given with the wrong element type or shape.
    case inputMismatch(name: String, expected: String, given: String)
    case missingInput(name: String, expected: String)
    case unknownInput(name: String, inputs: [String])
    /// A node run on the host failed (model.onnx lacks it, the interpreter failed, …).
    case hostLaunch(LaunchSite, detail: String)

    /// No OpenCL platform or device to run on (exit status 69 in the CLI).
    public var isUnavailable: Bool {
        switch self {
        case .noPlatform, .noDevice, .ambiguousDevice: true
        default: false
        }
    }

    /// The artifact or the inputs are at fault rather than the driver.
    public var isBadInput: Bool {
        switch self {
        case .buildFailed, .missingKernel, .invalidWorkGroupSize, .invalidPlan, .inputMismatch, .missingInput,
             .unknownInput, .hostLaunch, .alignment:
            true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .noPlatform:
            return "no OpenCL platform found (install pocl-opencl-icd or a GPU driver)"
        case .noDevice(let selector, let available):
            guard let selector else { return "no OpenCL device found on any platform (install pocl-opencl-icd or a GPU driver)" }
            return "--device '\(selector)' matches no OpenCL device; available: "
                + (available.isEmpty ? "none" : available.joined(separator: "; "))
        case .ambiguousDevice(let selector, let matches):
            return "--device '\(selector)' matches \(matches.count) devices (\(matches.joined(separator: "; "))); give its index"
        case .alignment(let device, let d, let p):
            return "\(device): CL_DEVICE_MEM_BASE_ADDR_ALIGN is \(d) bytes, which does not divide the plan's \(p)-byte alignment of sub-buffers"
        case .buildFailed(let device, let kernels, let log):
            let which = kernels.isEmpty ? "" : " in kernel\(kernels.count == 1 ? "" : "s") \(kernels.map { "'\($0)'" }.joined(separator: ", "))"
            return "kernels.cl does not build on \(device)\(which); build log:\n\(log.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .missingKernel(let site, let available):
            return "\(site): kernels.cl defines no such kernel (it has \(available.count): \(available.prefix(8).joined(separator: ", "))\(available.count > 8 ? ", …" : ""))"
        case .invalidWorkGroupSize(let site, let global, let local, let detail):
            return "\(site): invalid work-group size: global \(global), local \(local.map { "\($0)" } ?? "driver's choice"): \(detail)"
        case .outOfResources(let call, let status, let site, let detail):
            return "\(site.map { "\($0): " } ?? "")\(call) failed with \(CLStatus.name(status)): \(detail)"
        case .driver(let call, let status, let site):
            return "\(site.map { "\($0): " } ?? "")\(call) failed with \(CLStatus.name(status))"
        case .invalidPlan(let site, let detail):
            return "plan.json: \(site.map { "\($0): " } ?? "")\(detail)"
        case .inputMismatch(let name, let expected, let given):
            return "input '\(name)': expected \(expected), given \(given)"
        case .missingInput(let name, let expected):
            return "input '\(name)' (\(expected)) is not given"
        case .unknownInput(let name, let inputs):
            return "input '\(name)' is not an input of the artifact (its inputs: \(inputs.joined(separator: ", ")))"
        case .hostLaunch(let site, let detail):
            return "\(site): \(detail)"
        }
    }
}

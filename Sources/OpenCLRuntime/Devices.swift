import COpenCL

/// One OpenCL device with what the runtime checks against the plan and what
/// keys the program-binary cache.
public struct Device: @unchecked Sendable, CustomStringConvertible {
    /// Position in ``Devices/all()``: platforms in ICD order, devices in platform order.
    public let index: Int
    public let platformName: String
    public let platformVersion: String
    public let name: String
    /// CL_DRIVER_VERSION.
    public let driverVersion: String
    /// CL_DEVICE_VERSION ("OpenCL 1.2 pocl …").
    public let version: String
    /// "GPU", "CPU", "accelerator" or "other".
    public let type: String
    public let computeUnits: Int
    public let globalMemoryBytes: Int
    public let maxAllocationBytes: Int
    public let localMemoryBytes: Int
    public let maxWorkGroupSize: Int
    public let maxWorkItemSizes: [Int]
    /// CL_DEVICE_MEM_BASE_ADDR_ALIGN converted from bits to bytes: sub-buffer
    /// origins must be multiples of it.
    public let baseAddressAlignmentBytes: Int
    let platform: cl_platform_id
    let id: cl_device_id

    /// "platform / device".
    public var description: String { "\(platformName) / \(name)" }

    /// One line for `quantc devices`.
    public var summary: String {
        "[\(index)] \(platformName) / \(name) (\(type), \(computeUnits) compute units, "
            + "\(globalMemoryBytes / (1 << 20)) MiB, \(version), driver \(driverVersion))"
    }
}

/// Platform and device discovery and `--device` selection.
public enum Devices {
    /// Every device of every platform the ICD loader lists.
    public static func all() throws(OpenCLError) -> [Device] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == CL_PLATFORM_NOT_FOUND_KHR || (status == CL_SUCCESS && count == 0) { throw .noPlatform }
        guard status == CL_SUCCESS else { throw .driver(call: "clGetPlatformIDs", status: status, site: nil) }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        var devices: [Device] = []
        for case let platform? in platforms {
            var n: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
            if s == CL_DEVICE_NOT_FOUND || n == 0 { continue }
            try check(s, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids {
                devices.append(try describe(platform: platform, device: id, index: devices.count))
            }
        }
        return devices
    }

    /// The device `selector` names: its index in ``all()``, or a case-insensitive
    /// substring of "platform / device" matching exactly one device. Without a
    /// selector, the first GPU, else the first device.
    public static func select(_ selector: String?) throws(OpenCLError) -> Device {
        let devices = try all()
        guard !devices.isEmpty else { throw .noDevice(selector: selector, available: []) }
        guard let selector, !selector.isEmpty else {
            return devices.first { $0.type == "GPU" } ?? devices[0]
        }
        if let i = Int(selector) {
            guard devices.indices.contains(i) else { throw .noDevice(selector: selector, available: devices.map(\.summary)) }
            return devices[i]
        }
        let matches = devices.filter { $0.description.lowercased().contains(selector.lowercased()) }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw .noDevice(selector: selector, available: devices.map(\.summary)) }
        throw .ambiguousDevice(selector: selector, matches: matches.map(\.summary))
    }

    static func describe(platform: cl_platform_id, device id: cl_device_id, index: Int) throws(OpenCLError) -> Device {
        let type: cl_device_type = try deviceValue(id, CL_DEVICE_TYPE, 0)
        let typeName = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? "GPU"
            : type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? "CPU"
            : type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "accelerator" : "other"
        let dims: cl_uint = try deviceValue(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, 0)
        var sizes = [Int](repeating: 0, count: Int(dims))
        try check(clGetDeviceInfo(id, cl_device_info(CL_DEVICE_MAX_WORK_ITEM_SIZES), MemoryLayout<Int>.stride * sizes.count,
                                  &sizes, nil), "clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)")
        let alignBits: cl_uint = try deviceValue(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN, 0)
        return Device(
            index: index,
            platformName: try platformString(platform, CL_PLATFORM_NAME),
            platformVersion: try platformString(platform, CL_PLATFORM_VERSION),
            name: try deviceString(id, CL_DEVICE_NAME),
            driverVersion: try deviceString(id, CL_DRIVER_VERSION),
            version: try deviceString(id, CL_DEVICE_VERSION),
            type: typeName,
            computeUnits: Int(try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint(0))),
            globalMemoryBytes: Int(try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong(0))),
            maxAllocationBytes: Int(try deviceValue(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong(0))),
            localMemoryBytes: Int(try deviceValue(id, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong(0))),
            maxWorkGroupSize: try deviceValue(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int(0)),
            maxWorkItemSizes: sizes,
            baseAddressAlignmentBytes: Int(alignBits) / 8,
            platform: platform, id: id)
    }

    static func deviceValue<T: BitwiseCopyable>(_ id: cl_device_id, _ param: Int32, _ initial: T) throws(OpenCLError) -> T {
        var v = initial
        try check(clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, &v, nil), "clGetDeviceInfo")
        return v
    }

    static func deviceString(_ id: cl_device_id, _ param: Int32) throws(OpenCLError) -> String {
        var n = 0
        try check(clGetDeviceInfo(id, cl_device_info(param), 0, nil, &n), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: n + 1)
        try check(clGetDeviceInfo(id, cl_device_info(param), n, &bytes, nil), "clGetDeviceInfo")
        return trimmed(bytes)
    }

    static func platformString(_ id: cl_platform_id, _ param: Int32) throws(OpenCLError) -> String {
        var n = 0
        try check(clGetPlatformInfo(id, cl_platform_info(param), 0, nil, &n), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: n + 1)
        try check(clGetPlatformInfo(id, cl_platform_info(param), n, &bytes, nil), "clGetPlatformInfo")
        return trimmed(bytes)
    }

    static func trimmed(_ bytes: [CChar]) -> String {
        let s = bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var t = Substring(s)
        while t.last == " " || t.last == "\n" { t = t.dropLast() }
        while t.first == " " { t = t.dropFirst() }
        return String(t)
    }
}

/// Throws ``OpenCLError`` for a failed call; out-of-memory statuses get their own case.
@inline(__always)
func check(_ status: cl_int, _ call: String, site: LaunchSite? = nil) throws(OpenCLError) {
    guard status != CL_SUCCESS else { return }
    switch status {
    case CL_OUT_OF_RESOURCES, CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_HOST_MEMORY:
        throw .outOfResources(call: call, status: status, site: site,
                              detail: "the device ran out of memory or resources")
    default:
        throw .driver(call: call, status: status, site: site)
    }
}

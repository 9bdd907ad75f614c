import Artifact
import COpenCL
import Foundation
import IR
import Interpreter
import ONNX

/// How ``ArtifactRunner`` sets up.
public struct RunOptions: Sendable {
    /// Record OpenCL events per launch (CL_QUEUE_PROFILING_ENABLE).
    public var profile = false
    /// Folder of the program-binary cache; nil builds from source every time.
    public var cacheDirectory: String? = ProgramCache.defaultDirectory
    /// Options for clBuildProgram (part of the cache key); the argument info lets
    /// the runtime check each plan argument against the kernel's declaration.
    public var buildOptions = "-cl-std=CL1.2 -cl-kernel-arg-info"
    /// Build the gfx803 kernel bodies on every device. By default a CPU device
    /// gets `-DQC_HOST_CPU=1`, which switches the templates that have one (GEMV)
    /// to a body written for CPU vector units; the results agree to fp32
    /// reassociation. Verification runs both.
    public var gcnBodies = false
    /// Threads for the interpreter running host launches.
    public var hostThreads = Parallel.defaultThreads

    public init(profile: Bool = false, cacheDirectory: String? = ProgramCache.defaultDirectory,
                gcnBodies: Bool = false, hostThreads: Int = Parallel.defaultThreads) {
        self.profile = profile
        self.cacheDirectory = cacheDirectory
        self.gcnBodies = gcnBodies
        self.hostThreads = hostThreads
    }

    /// The clBuildProgram options for `device`.
    public func buildOptions(for device: Device) -> String {
        device.type == "CPU" && !gcnBodies ? buildOptions + " -DQC_HOST_CPU=1" : buildOptions
    }
}

/// Time one launch took: from its OpenCL event (queued work, start to end) or,
/// for a host launch, the wall clock around reading, running and writing back.
public struct LaunchTiming: Sendable {
    public var site: LaunchSite
    public var microseconds: Double
}

public struct RunResult: Sendable {
    /// Graph outputs by name.
    public var outputs: [String: RTensor]
    /// Per launch, in plan order; empty unless profiling.
    public var timings: [LaunchTiming]
    /// Wall time of the whole run (inputs written to outputs read).
    public var seconds: Double
}

/// Runs a verified artifact on one OpenCL device. Setting up builds the
/// program (or loads it from the cache), uploads weights.bin once, allocates
/// the arena, makes every launch's kernel with its arguments bound to
/// sub-buffers, and checks every local size against the device, so a bad plan
/// fails before any compute; ``run(inputs:)`` then only copies inputs in,
/// enqueues the launches in plan order and reads the outputs back.
public final class ArtifactRunner {
    public let artifact: ArtifactDirectory
    public let device: Device
    /// Whether the program came from the binary cache or was built.
    public private(set) var programOrigin = ProgramCache.Origin.built
    /// Non-fatal problems (the kernel cache could not be written).
    public private(set) var warnings: [String] = []

    private let plan: Plan
    private let profile: Bool
    private var context: cl_context?
    private var queue: cl_command_queue?
    private var program: cl_program?
    private var arena: cl_mem?
    private var weights: cl_mem?
    private var subBuffers: [cl_mem] = []
    /// One kernel object per GPU launch (arguments differ between launches).
    private var kernels: [Int: cl_kernel] = [:]
    private var hostNodes: [Int: HostNode] = [:]

    public init(artifact: ArtifactDirectory, device: Device, options: RunOptions = RunOptions()) throws {
        self.artifact = artifact
        self.device = device
        plan = artifact.plan
        profile = options.profile

        let weightBytes = try artifact.contents(of: ArtifactFile.weights)
        try PlanCheck.validate(plan, weightBytes: weightBytes.count)
        guard device.baseAddressAlignmentBytes > 0, Plan.alignment % device.baseAddressAlignmentBytes == 0 else {
            throw OpenCLError.alignment(device: device.description, deviceBytes: device.baseAddressAlignmentBytes,
                                        planBytes: Plan.alignment)
        }

        for (what, bytes) in [("the arena", plan.arena.peakBytes), ("weights.bin", weightBytes.count)] where bytes > device.maxAllocationBytes {
            throw OpenCLError.outOfResources(call: "clCreateBuffer", status: CL_INVALID_BUFFER_SIZE, site: nil,
                                             detail: "\(what) needs \(bytes) bytes, \(device.name) allocates at most \(device.maxAllocationBytes) per buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)")
        }

        var status: cl_int = 0
        var dev: cl_device_id? = device.id
        var properties: [cl_context_properties] = [cl_context_properties(CL_CONTEXT_PLATFORM),
                                                   Int(bitPattern: device.platform), 0]
        context = clCreateContext(&properties, 1, &dev, nil, nil, &status)
        try check(status, "clCreateContext")
        let queueProperties = options.profile ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        queue = clCreateCommandQueue(context, device.id, queueProperties, &status)
        try check(status, "clCreateCommandQueue")

        let source = try artifact.contents(of: ArtifactFile.kernels)
        let built = try ProgramCache(directory: options.cacheDirectory)
            .program(source: source, device: device, context: context!, options: options.buildOptions(for: device))
        program = built.program
        programOrigin = built.origin
        if let w = built.warning { warnings.append(w) }

        if !weightBytes.isEmpty {
            weights = weightBytes.withUnsafeBytes { b -> cl_mem? in
                clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR), b.count,
                               UnsafeMutableRawPointer(mutating: b.baseAddress), &status)
            }
            try check(status, "clCreateBuffer(weights, \(weightBytes.count) bytes)")
        }
        arena = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), max(plan.arena.peakBytes, 1), nil, &status)
        try check(status, "clCreateBuffer(arena, \(plan.arena.peakBytes) bytes)")

        let defined = KernelSource.kernels(in: String(decoding: source, as: UTF8.self)).map(\.name)
        var places: [String: PlanValue] = [:]
        for v in plan.arena.values { places[v.value.name] = v.value }
        for v in plan.inputs + plan.outputs { places[v.name] = v }
        var model: Model?
        var subBufferCache: [String: cl_mem] = [:]
        for (i, launch) in plan.launches.enumerated() {
            let site = LaunchSite(index: i, kernel: launch.kernel, nodes: launch.nodes)
            if let call = launch.host {
                if model == nil { model = try ONNXImporter.importModel(at: "\(artifact.path)/\(ArtifactFile.model)") }
                hostNodes[i] = try HostNode(call: call, site: site, model: model!, arena: places, threads: options.hostThreads)
                continue
            }
            guard let name = launch.kernel else { continue }
            let kernel = clCreateKernel(program, name, &status)
            if status == CL_INVALID_KERNEL_NAME { throw OpenCLError.missingKernel(site, available: defined) }
            try check(status, "clCreateKernel", site: site)
            kernels[i] = kernel!
            var declared: cl_uint = 0
            try check(clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_NUM_ARGS), 4, &declared, nil), "clGetKernelInfo", site: site)
            guard Int(declared) == launch.arguments.count else {
                throw OpenCLError.invalidPlan(site: site, detail: "the kernel takes \(declared) arguments, the plan gives \(launch.arguments.count)")
            }
            let parameters = KernelParameter.all(of: kernel!, count: Int(declared))
            for (a, argument) in launch.arguments.enumerated() {
                if let p = parameters?[a], let problem = p.mismatch(argument) {
                    throw OpenCLError.invalidPlan(site: site, detail: "argument \(a): \(problem)")
                }
                let call = "clSetKernelArg(\(a))"
                switch argument {
                case .buffer(let region, _, let offset, let bytes):
                    let key = "\(region.rawValue):\(offset):\(bytes)"
                    var mem: cl_mem? = subBufferCache[key]
                    if mem == nil {
                        var info = cl_buffer_region(origin: offset, size: bytes)
                        // Flags 0: the parent's access flags (weights read-only, arena read-write).
                        mem = clCreateSubBuffer(region == .arena ? arena : weights, 0,
                                                cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION), &info, &status)
                        try check(status, "clCreateSubBuffer(\(region.rawValue), offset \(offset), \(bytes) bytes)", site: site)
                        subBufferCache[key] = mem!
                        subBuffers.append(mem!)
                    }
                    try check(clSetKernelArg(kernel, cl_uint(a), MemoryLayout<cl_mem?>.size, &mem), call, site: site)
                case .int32(let v):
                    var x = v
                    try check(clSetKernelArg(kernel, cl_uint(a), 4, &x), call, site: site)
                case .float32(let v):
                    var x = v
                    try check(clSetKernelArg(kernel, cl_uint(a), 4, &x), call, site: site)
                case .local(let bytes):
                    try check(clSetKernelArg(kernel, cl_uint(a), bytes, nil), call, site: site)
                }
            }
            try checkWorkGroup(kernel!, launch, site)
        }
    }

    /// The local size against the device's and the kernel's limits (before any
    /// enqueue, so the message can say which limit).
    private func checkWorkGroup(_ kernel: cl_kernel, _ launch: Launch, _ site: LaunchSite) throws(OpenCLError) {
        var kernelMax = 0
        try check(clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                           MemoryLayout<Int>.size, &kernelMax, nil), "clGetKernelWorkGroupInfo", site: site)
        var localBytes: cl_ulong = 0
        try check(clGetKernelWorkGroupInfo(kernel, device.id, cl_kernel_work_group_info(CL_KERNEL_LOCAL_MEM_SIZE),
                                           MemoryLayout<cl_ulong>.size, &localBytes, nil), "clGetKernelWorkGroupInfo", site: site)
        if Int(localBytes) > device.localMemoryBytes {
            throw OpenCLError.outOfResources(call: "local memory check", status: CL_OUT_OF_RESOURCES, site: site,
                                             detail: "the kernel needs \(localBytes) bytes of local memory, \(device.name) has \(device.localMemoryBytes)")
        }
        guard let local = launch.localSize else { return }
        let limits = "device max work-group size \(device.maxWorkGroupSize), max work-item sizes \(device.maxWorkItemSizes), "
            + "this kernel's max work-group size \(kernelMax)"
        let product = local.reduce(1, *)
        if product > min(device.maxWorkGroupSize, kernelMax) {
            throw OpenCLError.invalidWorkGroupSize(site, global: launch.globalSize, local: local,
                                                   detail: "\(product) work-items per group exceeds the limit (\(limits))")
        }
        for (d, l) in local.enumerated() {
            if d < device.maxWorkItemSizes.count, l > device.maxWorkItemSizes[d] {
                throw OpenCLError.invalidWorkGroupSize(site, global: launch.globalSize, local: local,
                                                       detail: "local size \(l) in dimension \(d) exceeds the limit (\(limits))")
            }
            if launch.globalSize[d] % l != 0 {
                throw OpenCLError.invalidWorkGroupSize(site, global: launch.globalSize, local: local,
                                                       detail: "global size \(launch.globalSize[d]) in dimension \(d) is not a multiple of the local size \(l) (OpenCL 1.2 requires it)")
            }
        }
    }

    deinit {
        for k in kernels.values { clReleaseKernel(k) }
        for m in subBuffers { clReleaseMemObject(m) }
        if let weights { clReleaseMemObject(weights) }
        if let arena { clReleaseMemObject(arena) }
        if let program { clReleaseProgram(program) }
        if let queue { clReleaseCommandQueue(queue) }
        if let context { clReleaseContext(context) }
    }

    /// Checks `inputs` against the plan's graph inputs (every one given, no
    /// other, element type and shape equal) before anything runs.
    public func checkInputs(_ inputs: [String: RTensor]) throws(OpenCLError) {
        for name in inputs.keys.sorted() where !plan.inputs.contains(where: { $0.name == name }) {
            throw .unknownInput(name: name, inputs: plan.inputs.map(\.name))
        }
        for v in plan.inputs {
            let expected = "\(v.elementType)\(v.shape)"
            guard let t = inputs[v.name] else { throw .missingInput(name: v.name, expected: expected) }
            guard let type = ElementType(planName: v.elementType), t.type == type, t.shape == v.shape else {
                throw .inputMismatch(name: v.name, expected: expected, given: "\(t.type.planName)\(t.shape)")
            }
        }
    }

    /// Runs the plan on `inputs`; with `repeats` > 1, that many times back to back on
    /// the queue (the inputs re-enqueued before each run, no wait between runs, the
    /// outputs read after the last): the steady state of a stream of requests, which
    /// keeps an idle device (or pocl's worker threads) from falling asleep between
    /// runs. `seconds` is then the wall time per run and each launch's timing the
    /// median of its runs.
    public func run(inputs: [String: RTensor], repeats: Int = 1) throws(OpenCLError) -> RunResult {
        try checkInputs(inputs)
        let start = DispatchTime.now()
        var events: [(Int, cl_event?)] = []
        var samples: [Int: [Double]] = [:]
        defer { for case (_, let e?) in events { clReleaseEvent(e) } }
        func site(_ i: Int) -> LaunchSite { LaunchSite(index: i, kernel: plan.launches[i].kernel, nodes: plan.launches[i].nodes) }
        for run in 0..<max(1, repeats) {
            // The first write blocks; later ones queue behind the previous run's kernels.
            for v in plan.inputs { try write(inputs[v.name]!, to: v, blocking: run == 0) }
            for (i, launch) in plan.launches.enumerated() {
                if let host = hostNodes[i] {
                    // The host reads what earlier kernels wrote: drain the queue first (not
                    // counted in this launch's time; those kernels' events have their own).
                    try check(clFinish(queue), "clFinish", site: site(i > 0 ? i - 1 : i))
                    let t0 = DispatchTime.now()
                    var feeds: [String: RTensor] = [:]
                    for v in host.arenaInputs { feeds[v.name] = try read(v, site: site(i)) }
                    for (v, t) in try host.run(feeds) { try write(t, to: v, site: site(i)) }
                    if profile { samples[i, default: []].append(Self.microseconds(since: t0)) }
                    continue
                }
                guard let kernel = kernels[i] else { continue }
                var event: cl_event?
                let global = launch.globalSize
                let local = launch.localSize
                let status = withUnsafeMutablePointer(to: &event) { e in
                    global.withUnsafeBufferPointer { g in
                        withOptionalPointer(local) { l in
                            clEnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, g.baseAddress, l, 0, nil,
                                                   profile ? e : nil)
                        }
                    }
                }
                if status == CL_INVALID_WORK_GROUP_SIZE || status == CL_INVALID_WORK_ITEM_SIZE {
                    throw .invalidWorkGroupSize(site(i), global: global, local: local,
                                                detail: "\(CLStatus.name(status)) (device max work-group size \(device.maxWorkGroupSize), max work-item sizes \(device.maxWorkItemSizes))")
                }
                try check(status, "clEnqueueNDRangeKernel", site: site(i))
                if profile { events.append((i, event)) }
            }
        }
        // Errors of asynchronous work surface here; name the last launch.
        try check(clFinish(queue), "clFinish", site: plan.launches.indices.last.map(site))
        var outputs: [String: RTensor] = [:]
        for v in plan.outputs { outputs[v.name] = try read(v, site: nil) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 / Double(max(1, repeats))
        for (launch, event) in events {
            guard let event else { continue }
            var begin: cl_ulong = 0, end: cl_ulong = 0
            try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &begin, nil),
                      "clGetEventProfilingInfo", site: site(launch))
            try check(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil),
                      "clGetEventProfilingInfo", site: site(launch))
            samples[launch, default: []].append(Double(end &- begin) / 1000)
        }
        let timings = samples.keys.sorted().map { i in
            let t = samples[i]!.sorted()
            return LaunchTiming(site: site(i), microseconds: t.count % 2 == 1 ? t[t.count / 2] : (t[t.count / 2 - 1] + t[t.count / 2]) / 2)
        }
        return RunResult(outputs: outputs, timings: timings, seconds: seconds)
    }

    /// A non-blocking write leaves `t`'s bytes to the queue: the caller keeps `t` alive
    /// until the queue is finished.
    private func write(_ t: RTensor, to v: PlanValue, site: LaunchSite? = nil, blocking: Bool = true) throws(OpenCLError) {
        guard t.byteCount <= v.bytes else {
            throw .invalidPlan(site: site, detail: "'\(v.name)' needs \(t.byteCount) bytes, its place in the arena has \(v.bytes)")
        }
        guard t.byteCount > 0 else { return }
        try check(clEnqueueWriteBuffer(queue, arena, cl_bool(blocking ? CL_TRUE : CL_FALSE), v.offset, t.byteCount, t.buffer.pointer, 0, nil, nil),
                  "clEnqueueWriteBuffer('\(v.name)')", site: site)
    }

    private func read(_ v: PlanValue, site: LaunchSite?) throws(OpenCLError) -> RTensor {
        guard let type = ElementType(planName: v.elementType), type.isArenaCompatible else {
            throw .invalidPlan(site: site, detail: "'\(v.name)' has element type '\(v.elementType)', which the runtime cannot read from the arena")
        }
        let t = RTensor(type: type, shape: v.shape)
        guard t.byteCount > 0 else { return t }
        try check(clEnqueueReadBuffer(queue, arena, cl_bool(CL_TRUE), v.offset, t.byteCount, t.buffer.pointer, 0, nil, nil),
                  "clEnqueueReadBuffer('\(v.name)')", site: site)
        return t
    }

    static func microseconds(since t0: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1000
    }
}

private func withOptionalPointer<R>(_ a: [Int]?, _ body: (UnsafePointer<Int>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// The launch plan of a compiled artifact (`plan.json`): what to run, in order,
/// on which bytes. The code generator writes it; the OpenCL runtime executes it
/// without knowing anything about the model beyond this file (and `model.onnx`
/// for the nodes that run on the host).
///
/// Memory model: two device buffers.
/// - the **arena** holds every graph input, intermediate and output, each at a
///   fixed byte offset chosen by liveness (values whose lifetimes do not overlap
///   share bytes); its size is `arena.peakBytes`.
/// - the **weights** buffer is `weights.bin` uploaded once.
/// Kernel buffer arguments are sub-buffers (`clCreateSubBuffer`) of one of the
/// two at an offset that is a multiple of `Plan.alignment` (256 bytes, which is
/// at least every OpenCL 1.2 device's `CL_DEVICE_MEM_BASE_ADDR_ALIGN` we target).
public struct Plan: Codable, Equatable, Sendable {
    /// Bumped whenever the meaning of any field changes; the runtime refuses a
    /// plan whose version differs from its own.
    public static let currentFormatVersion = 1
    public static let alignment = 256

    public var formatVersion: Int
    public var quantcVersion: String
    /// GPU target the kernels were specialized and tuned for, e.g. "gfx803".
    public var target: String
    /// Graph inputs and outputs, each placed in the arena.
    public var inputs: [PlanValue]
    public var outputs: [PlanValue]
    public var arena: Arena
    /// Regions of `weights.bin`.
    public var weights: [WeightBlob]
    /// In execution order.
    public var launches: [Launch]

    public init(formatVersion: Int = Plan.currentFormatVersion, quantcVersion: String, target: String,
                inputs: [PlanValue], outputs: [PlanValue], arena: Arena, weights: [WeightBlob], launches: [Launch]) {
        self.formatVersion = formatVersion
        self.quantcVersion = quantcVersion
        self.target = target
        self.inputs = inputs
        self.outputs = outputs
        self.arena = arena
        self.weights = weights
        self.launches = launches
    }

    /// Names of the IR nodes that run on the host interpreter, in launch order.
    public var hostNodes: [String] { launches.compactMap { $0.host?.node } }
}

/// A tensor living in the arena.
public struct PlanValue: Codable, Equatable, Sendable {
    public var name: String
    /// ONNX element type name in lower case: "float32", "int64", "uint8", ...
    public var elementType: String
    public var shape: [Int]
    public var offset: Int
    public var bytes: Int

    public init(name: String, elementType: String, shape: [Int], offset: Int, bytes: Int) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.offset = offset
        self.bytes = bytes
    }
}

public struct Arena: Codable, Equatable, Sendable {
    /// Bytes the arena needs: the highest end offset of any value.
    public var peakBytes: Int
    /// Every value placed in the arena, with the launches that first write and
    /// last read it (indices into `Plan.launches`; -1 = before the first launch,
    /// i.e. a graph input; `launches.count` = read after the last, i.e. an output).
    public var values: [ArenaValue]

    public init(peakBytes: Int, values: [ArenaValue]) {
        self.peakBytes = peakBytes
        self.values = values
    }
}

public struct ArenaValue: Codable, Equatable, Sendable {
    public var value: PlanValue
    public var firstLaunch: Int
    public var lastLaunch: Int
    /// Set when this value shares the bytes of another on purpose (Reshape,
    /// Flatten, a Concat input written in place), not just by disjoint lifetimes.
    public var aliasOf: String?

    public init(value: PlanValue, firstLaunch: Int, lastLaunch: Int, aliasOf: String? = nil) {
        self.value = value
        self.firstLaunch = firstLaunch
        self.lastLaunch = lastLaunch
        self.aliasOf = aliasOf
    }
}

/// A region of `weights.bin`.
public struct WeightBlob: Codable, Equatable, Sendable {
    public var name: String
    /// What the bytes hold: "int8", "uint8", "int4" (two per byte, low nibble
    /// first), "uint4", "float32", "float16", "int32".
    public var elementType: String
    /// Logical shape of the values (for int4, the unpacked count).
    public var shape: [Int]
    public var offset: Int
    public var bytes: Int

    public init(name: String, elementType: String, shape: [Int], offset: Int, bytes: Int) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
        self.offset = offset
        self.bytes = bytes
    }
}

/// One step of the plan: a kernel launch or a node run on the host.
public struct Launch: Codable, Equatable, Sendable {
    /// The IR nodes this launch computes (several when epilogues are fused).
    public var nodes: [String]
    /// Kernel function name in `kernels.cl`; nil for a host launch.
    public var kernel: String?
    /// Kernel arguments in order.
    public var arguments: [KernelArgument]
    public var globalSize: [Int]
    /// nil lets the driver choose.
    public var localSize: [Int]?
    /// Set for a node that has no kernel: the runtime runs it on the CPU with
    /// the interpreter, reading inputs from and writing outputs to the arena.
    public var host: HostCall?
    /// Model figures for the report (FLOPs, bytes moved, predicted time, …).
    public var estimate: LaunchEstimate?

    public init(nodes: [String], kernel: String?, arguments: [KernelArgument] = [], globalSize: [Int] = [],
                localSize: [Int]? = nil, host: HostCall? = nil, estimate: LaunchEstimate? = nil) {
        self.nodes = nodes
        self.kernel = kernel
        self.arguments = arguments
        self.globalSize = globalSize
        self.localSize = localSize
        self.host = host
        self.estimate = estimate
    }
}

public enum BufferRegion: String, Codable, Sendable {
    case arena, weights
}

public enum KernelArgument: Codable, Equatable, Sendable {
    /// A sub-buffer of the arena or the weights; `name` is the value or blob it holds.
    case buffer(region: BufferRegion, name: String, offset: Int, bytes: Int)
    case int32(Int32)
    case float32(Float)
    /// `__local` memory of this many bytes.
    case local(bytes: Int)
}

/// A node run on the host: its inputs come from the arena (by value name) or
/// from `model.onnx`'s initializers; its outputs go to the arena.
public struct HostCall: Codable, Equatable, Sendable {
    public var node: String
    public var opType: String
    public var inputs: [String]
    public var outputs: [String]
    /// Why there is no kernel, for the plan and the report.
    public var reason: String

    public init(node: String, opType: String, inputs: [String], outputs: [String], reason: String) {
        self.node = node
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.reason = reason
    }
}

/// What the GCN model says about one launch.
public struct LaunchEstimate: Codable, Equatable, Sendable {
    public var flops: Double
    public var bytesMoved: Double
    public var predictedMicroseconds: Double
    /// "memory" or "compute".
    public var bound: String
    public var vgprs: Int?
    public var sgprs: Int?
    public var scratchBytes: Int?
    /// Waves per SIMD.
    public var occupancy: Int?
    /// Tuning parameters chosen for this kernel, by name.
    public var tuning: [String: Int]?

    public init(flops: Double, bytesMoved: Double, predictedMicroseconds: Double, bound: String,
                vgprs: Int? = nil, sgprs: Int? = nil, scratchBytes: Int? = nil, occupancy: Int? = nil,
                tuning: [String: Int]? = nil) {
        self.flops = flops
        self.bytesMoved = bytesMoved
        self.predictedMicroseconds = predictedMicroseconds
        self.bound = bound
        self.vgprs = vgprs
        self.sgprs = sgprs
        self.scratchBytes = scratchBytes
        self.occupancy = occupancy
        self.tuning = tuning
    }
}

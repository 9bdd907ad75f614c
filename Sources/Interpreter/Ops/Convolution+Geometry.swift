import IR

/// The sliding-window geometry shared by Conv and the pooling ops: per
/// spatial axis the input size, kernel, stride, dilation, padding at each end
/// and the output size.
struct WindowGeometry {
    var input: [Int]
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padBegin: [Int]
    var padEnd: [Int]
    var output: [Int]

    var rank: Int { input.count }
    var inputSize: Int { input.reduce(1, *) }
    var outputSize: Int { output.reduce(1, *) }
    var kernelSize: Int { kernel.reduce(1, *) }

    /// Extent of the dilated kernel along axis `d`.
    func extent(_ d: Int) -> Int { (kernel[d] - 1) * dilations[d] + 1 }

    /// Reads kernel_shape, strides, dilations, pads and auto_pad of `ctx`
    /// (Conv and pooling sections of Operators.md) for an input with spatial
    /// shape `input`. `kernel` is used when kernel_shape is absent (Conv takes
    /// it from W). `ceilMode` is the pooling ops' ceil_mode.
    static func make(_ ctx: KernelContext, op: String, input: [Int], kernel defaultKernel: [Int]?, ceilMode: Bool = false) throws -> WindowGeometry {
        let r = input.count
        guard let kernel = ctx.ints("kernel_shape") ?? defaultKernel else {
            throw OpError("\(op) needs the kernel_shape attribute")
        }
        let strides = ctx.ints("strides") ?? [Int](repeating: 1, count: r)
        let dilations = ctx.ints("dilations") ?? [Int](repeating: 1, count: r)
        let pads = ctx.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
        guard kernel.count == r, strides.count == r, dilations.count == r, pads.count == 2 * r else {
            throw OpError("\(op): input has \(r) spatial axes but kernel_shape=\(kernel), strides=\(strides), dilations=\(dilations), pads=\(pads)")
        }
        guard kernel.allSatisfy({ $0 > 0 }), strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }),
              pads.allSatisfy({ $0 >= 0 }) else {
            throw OpError("\(op): kernel_shape=\(kernel), strides=\(strides), dilations=\(dilations) must be positive and pads=\(pads) non-negative")
        }
        var g = WindowGeometry(input: input, kernel: kernel, strides: strides, dilations: dilations,
                               padBegin: Array(pads[..<r]), padEnd: Array(pads[r...]), output: input)
        let autoPad = ctx.string("auto_pad", "NOTSET")
        for d in 0..<r {
            let ext = g.extent(d)
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                // output = ceil(input / stride); the padding that takes splits
                // evenly, the odd one at the end (UPPER) or beginning (LOWER).
                let out = (input[d] + strides[d] - 1) / strides[d]
                let total = max(0, (out - 1) * strides[d] + ext - input[d])
                g.padBegin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                g.padEnd[d] = total - g.padBegin[d]
                g.output[d] = out
            case "VALID":
                // No padding; with ceil_mode the formula ceil((in - ext + 1) / s)
                // equals this floor form, so ceil_mode changes nothing here.
                g.padBegin[d] = 0
                g.padEnd[d] = 0
                g.output[d] = input[d] >= ext ? (input[d] - ext) / strides[d] + 1 : 0
            case "NOTSET", "":
                let span = input[d] + g.padBegin[d] + g.padEnd[d] - ext
                guard span >= 0 else {
                    throw OpError("\(op): the window (kernel \(kernel[d]), dilation \(dilations[d])) is larger than the padded input (\(input[d]) + pads \(g.padBegin[d]), \(g.padEnd[d])) along spatial axis \(d)")
                }
                var out = span / strides[d] + 1
                if ceilMode && span % strides[d] != 0 {
                    out += 1
                    // A window may not start in the end padding (pooling spec:
                    // "Sliding windows that would start in the right padded region are ignored").
                    if (out - 1) * strides[d] >= input[d] + g.padBegin[d] { out -= 1 }
                }
                g.output[d] = out
            default:
                throw OpError("\(op): unknown auto_pad '\(autoPad)'")
            }
        }
        return g
    }
}

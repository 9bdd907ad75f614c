import Foundation
import IR
import Interpreter

/// Runs the model on calibration samples and records a range for every float
/// value it produces (and every float input), by the chosen method.
///
/// Statistics stream batch by batch (memory O(bins × tensors), never
/// O(samples × activations)) and are cached under the context's cache folder,
/// keyed by hashes of the model and the data, so a rerun with another method
/// or other quantization options skips the forward passes.
public struct Calibrate: Pass {
    public static let name = "calibrate"
    public static let summary = "Run calibration samples and record a range for every float value."
    public static let options = [
        PassOption("method", .choice(CalibrationMethod.allCases.map(\.rawValue)), default: "entropy",
                   help: "How to pick each range from the statistics."),
        PassOption("samples", .int, default: "0", help: "Use at most this many samples (0: all)."),
        PassOption("percentile", .double, default: "99.99", help: "Percentile of |x| kept by method=percentile."),
        PassOption("max-clipped", .double, default: "0.01",
                   help: "method=entropy: largest share of non-zero values a threshold may clip."),
        PassOption("batch", .int, default: "32", help: "Samples per forward run."),
        PassOption("bins", .int, default: "2048", help: "Histogram bins per tensor."),
    ]

    let method: CalibrationMethod
    let maxSamples: Int
    let percentile: Double
    let batch: Int
    let maxClipped: Double
    let bins: Int

    public static func problem(with options: PassOptions) -> String? {
        if options.double("percentile") <= 50 || options.double("percentile") > 100 { return "percentile must be in (50, 100]" }
        if options.int("batch") < 1 { return "batch must be at least 1" }
        if !(0...1).contains(options.double("max-clipped")) { return "max-clipped must be in [0, 1]" }
        if options.int("bins") < 256 { return "bins must be at least 256" }
        if options.int("samples") < 0 { return "samples must not be negative" }
        return nil
    }

    public init(options: PassOptions) {
        method = CalibrationMethod(rawValue: options.string("method"))!
        maxSamples = options.int("samples")
        percentile = options.double("percentile")
        batch = options.int("batch")
        maxClipped = options.double("max-clipped")
        bins = options.int("bins")
    }

    public var pipelineText: String {
        "calibrate(method=\(method.rawValue),samples=\(maxSamples),percentile=\(percentile),max-clipped=\(maxClipped),batch=\(batch),bins=\(bins))"
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        guard context.samples != nil || context.randomSamples != nil else {
            throw fail("needs calibration data (--calibration DIR, or --calibration-random N for data-free calibration)")
        }
        let statistics: [String: TensorStatistics]
        var used = 0
        context.layerOutputSums = nil
        if let folder = context.cacheDirectory {
            let cache = StatisticsCache(folder: folder, key: cacheKey(model, context))
            // Held until the statistics are stored: a parallel run of the same key waits, then reads them.
            let lock = cache.lock()
            defer { lock?.unlock() }
            let found = cache.load()
            switch found {
            case .hit(let cached):
                statistics = cached.statistics
                used = cached.samples
                context.count("statistics read from cache")
            case .missing, .corrupt:
                if case .corrupt(let why) = found {
                    // On stderr, not in the notes: the report must not depend on the cache's state.
                    FileHandle.standardError.write(Data("warning: calibrate: ignoring the cache file \(cache.path): \(why); recomputing the statistics\n".utf8))
                }
                (statistics, used) = try collect(model, &context)
                context.count("statistics computed")
                if let e = cache.store(Cache(samples: used, statistics: statistics)) {
                    FileHandle.standardError.write(Data("warning: calibrate: cannot store the statistics in the cache: \(e)\n".utf8))
                }
            }
        } else {
            (statistics, used) = try collect(model, &context)
            context.count("statistics computed")
        }
        var state = model.quantization
        state.ranges = [:]
        // Range selection (the entropy search especially) is independent per tensor.
        let names = statistics.keys.filter { statistics[$0]!.histogram.total > 0 }.sorted()
        var chosen = [ValueRange](repeating: ValueRange(low: 0, high: 0), count: names.count)
        chosen.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(names.count, threads: context.threads) { r in
                for i in r { out[i] = statistics[names[i]]!.range(method, percentile: percentile, maxClipped: maxClipped) }
            }
        }
        for (name, r) in zip(names, chosen) { state.ranges[name] = r }
        state.candidates = []
        if method == .auto {
            for c in CalibrationMethod.autoCandidates {
                var ranges: [String: ValueRange] = [:]
                for name in names { ranges[name] = statistics[name]!.range(c.method, percentile: c.percentile, maxClipped: maxClipped) }
                state.candidates.append(RangeCandidate(method: c.name, ranges: ranges))
            }
        }
        state.calibration = "\(method.rawValue) over \(used) \(context.samples == nil ? "random " : "")samples"
        model.quantization = state
        context.count("tensors calibrated", statistics.count)
    }

    /// Runs every batch, merging each float value's statistics.
    ///
    /// Batches run in rounds, one per worker when they are small (``InterpreterPool/runRounds``).
    /// A value whose histogram has a bin width when its round starts is binned apart at that
    /// width (``BatchObservation``) and absorbed in batch order: widths then only differ by
    /// powers of two, so the merged histograms and the moving averages are those of adding
    /// one batch after the other. A value without a width yet (first seen, or only zeros so
    /// far) is kept whole and added in batch order.
    ///
    /// With ``PassContext/layerOutputSamples`` set (and sample files), the layer outputs of the
    /// batches within that many first samples are also summed per channel, into
    /// ``PassContext/layerOutputSums``.
    func collect(_ model: Model, _ context: inout PassContext) throws(PassError) -> ([String: TensorStatistics], Int) {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        var stats: [String: TensorStatistics] = [:]
        let limit = maxSamples > 0 ? maxSamples : Int.max
        var done = 0
        let total = min(limit, context.samples?.sampleCount ?? context.randomSamples ?? 0)
        let progress = context.showProgress ? Progress(total: total) : nil
        let bins = self.bins
        // The statistics when the round started (batches of a round run at once).
        var atStart: [String: TensorStatistics] = [:]
        struct Observed {
            var binned: [String: BatchObservation] = [:]
            /// Values without a bin width at the round's start, in the order they came.
            var whole: [(String, RTensor)] = []
            /// Per layer output of a batch within the first `recordSamples`: its channel sums.
            var layerSums: [String: (sums: [Double], n: Int)]?
            var peakBytes = 0
        }
        let feed: SampleFeed = context.samples.map { .files($0) } ?? .random(count: context.randomSamples ?? 0, seed: 0xCA11B)
        let recordSamples = context.samples == nil ? 0 : context.layerOutputSamples ?? 0
        var record: LayerOutputSums? = recordSamples > 0 ? LayerOutputSums(model: model) : nil
        let layerOutputs = LayerOutputSums.outputs(of: model.graph)
        do {
            // Every value of the model is observed: the interpreters run unfused.
            try InterpreterPool.runRounds(model: model, threads: context.threads, feed: feed, batch: batch, limit: limit,
                                          roundStarts: { atStart = stats }) { inputs, interpreter, first in
                var observed = Observed()
                if first < recordSamples { observed.layerSums = [:] }
                func add(_ name: String, _ t: RTensor) {
                    if let s = atStart[name], s.histogram.width > 0 {
                        observed.binned[name, default: BatchObservation(binnedLike: s)].add(t, threads: interpreter.threads)
                    } else {
                        observed.whole.append((name, t))
                    }
                }
                for (name, t) in inputs.sorted(by: { $0.key < $1.key }) where t.type == .float32 { add(name, t) }
                _ = try interpreter.run(inputs: inputs) { name, node, t in
                    guard t.type == .float32 else { return }
                    add(name, t)
                    if observed.layerSums != nil, let axis = layerOutputs[name], LayerOutputSums.channelAxis(node.opType) == axis {
                        observed.layerSums![name] = LayerOutputSums.channelSums(t, axis: axis)
                    }
                }
                if observed.layerSums != nil { observed.peakBytes = interpreter.peakActivationBytes }  // one batch per interpreter at a time
                return observed
            } absorb: { inputs, observed, threads in
                for (name, b) in observed.binned { stats[name]!.absorb(b) }
                for (name, t) in observed.whole { stats[name, default: TensorStatistics(bins: bins)].add(t, threads: threads) }
                let samples = inputs.values.first?.shape.first ?? 1
                if let sums = observed.layerSums, record != nil, record!.add(batch: samples, sums, peakBytes: observed.peakBytes) == false {
                    record = nil
                }
                done += samples
                progress?.update(done)
            }
        } catch let e as PassError {
            throw e
        } catch {
            throw fail("\(error)")
        }
        progress?.finish()
        context.layerOutputSums = record
        return (stats, done)
    }

    // MARK: - Statistics cache

    struct Cache: Codable {
        var samples: Int
        var statistics: [String: TensorStatistics]
    }

    /// Part of the cache key: raise it whenever what the statistics hold or how they are
    /// gathered changes, so that no build reads statistics an older quantc computed.
    static let statisticsVersion = 1

    /// FNV-1a over ``statisticsVersion``, the printed model (which carries every tensor's
    /// content hash), the data files' bytes and the options that change the statistics.
    func cacheKey(_ model: Model, _ context: PassContext) -> String {
        var m = model
        m.quantization = QuantizationState()
        var h = FNV1a64()
        h.add("statistics v\(Self.statisticsVersion)")
        h.add(Printer.print(m))
        h.add("samples=\(maxSamples) batch=\(batch) bins=\(bins)")
        if let s = context.samples {
            for f in s.files {
                h.add(f)
                let path = "\(s.folder)/\(f)"
                if let data = FileManager.default.contents(atPath: path) { data.withUnsafeBytes { h.add(bytes: $0) } }
                else if let sub = try? FileManager.default.contentsOfDirectory(atPath: path) {
                    for e in sub.sorted() { if let d = FileManager.default.contents(atPath: "\(path)/\(e)") { h.add(e); d.withUnsafeBytes { h.add(bytes: $0) } } }
                }
            }
        } else {
            h.add("random \(context.randomSamples ?? 0)")
        }
        return String(h.value, radix: 16)
    }
}

/// A one-line progress bar on stderr, for terminals.
final class Progress {
    let total: Int
    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        let width = 30
        let filled = total > 0 ? min(width, done * width / total) : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\rcalibrating [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

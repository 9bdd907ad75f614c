import CKernels
import COpenBLAS
import Foundation
import IR

// LSTM and GRU (ONNX Operators.md; gate orders iofc and zrh), all directions,
// activations, clip, sequence_lens, initial states, peepholes and layout.
// Input projections X·Wᵀ for all time steps are one GEMM; each step adds
// H·Rᵀ (another GEMM) and applies the gate equations.

extension Ops {
    static let recurrent: [OpEntry] = [
        OpEntry("LSTM") { ctx in try recurrentKernel(ctx, kind: .lstm) },
        OpEntry("GRU") { ctx in try recurrentKernel(ctx, kind: .gru) },
        OpEntry("RNN") { ctx in try recurrentKernel(ctx, kind: .rnn) },
    ]

    enum CellKind {
        case lstm, gru, rnn
        var gates: Int { self == .lstm ? 4 : self == .gru ? 3 : 1 }
        var defaultActivations: [String] { self == .lstm ? ["Sigmoid", "Tanh", "Tanh"] : self == .gru ? ["Sigmoid", "Tanh"] : ["Tanh"] }
    }

    /// An activation function by ONNX name, with its alpha/beta.
    static func activation(_ name: String, _ alpha: Float?, _ beta: Float?) throws -> (Float) -> Float {
        switch name.lowercased() {
        case "sigmoid": return { 1 / (1 + exp(-$0)) }
        case "tanh": return { tanh($0) }
        case "relu": return { max($0, 0) }
        case "affine": let a = alpha ?? 1, b = beta ?? 0; return { a * $0 + b }
        case "leakyrelu": let a = alpha ?? 0.01; return { $0 < 0 ? a * $0 : $0 }
        case "thresholdedrelu": let a = alpha ?? 1; return { $0 > a ? $0 : 0 }
        case "scaledtanh": let a = alpha ?? 1, b = beta ?? 1; return { a * tanh(b * $0) }
        case "hardsigmoid": let a = alpha ?? 0.2, b = beta ?? 0.5; return { max(0, min(1, a * $0 + b)) }
        case "elu": let a = alpha ?? 1; return { $0 < 0 ? a * (exp($0) - 1) : $0 }
        case "softsign": return { $0 / (1 + abs($0)) }
        case "softplus": return { log1p(exp($0)) }
        default: throw OpError("unknown activation '\(name)'")
        }
    }

    static func recurrentKernel(_ ctx: KernelContext, kind: CellKind) throws -> [RTensor] {
        let layout = ctx.int("layout", 0)
        var x = try ctx.input(0).converted(to: .float32)
        if layout == 1 { x = try transpose(x, [1, 0, 2], threads: ctx.threads) }  // to [seq, batch, input]
        let w = try ctx.input(1).converted(to: .float32), r = try ctx.input(2).converted(to: .float32)
        let (seq, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let dirs = w.shape[0], gates = kind.gates
        let hidden = ctx.int("hidden_size", r.shape[2])
        let gh = gates * hidden
        let direction = ctx.string("direction", "forward")
        guard dirs == (direction == "bidirectional" ? 2 : 1) else { throw OpError("W has \(dirs) directions for direction '\(direction)'") }
        let bias = ctx.optionalInput(3)?.floatArray() ?? [Float](repeating: 0, count: dirs * 2 * gh)
        let lens = ctx.optionalInput(4)?.int64Array()?.map { Int($0) } ?? [Int](repeating: seq, count: batch)
        let h0 = try ctx.optionalInput(5).map { layout == 1 ? try transpose($0.converted(to: .float32), [1, 0, 2], threads: 1) : $0.converted(to: .float32) }
        let c0 = kind == .lstm ? try ctx.optionalInput(6).map { layout == 1 ? try transpose($0.converted(to: .float32), [1, 0, 2], threads: 1) : $0.converted(to: .float32) } : nil
        let peep = kind == .lstm ? ctx.optionalInput(7)?.floatArray() : nil
        let clip = ctx.attribute("clip")?.floatValue
        let linearBeforeReset = ctx.int("linear_before_reset", 0) != 0
        let inputForget = ctx.int("input_forget", 0) != 0
        let names = ctx.node[attribute: "activations"].flatMap { if case .strings(let s) = $0 { s } else { nil } }
        let alphas = ctx.floats("activation_alpha") ?? [], betas = ctx.floats("activation_beta") ?? []
        let perDir = kind.defaultActivations.count

        var yt = RTensor(type: .float32, shape: [seq, dirs, batch, hidden])
        var yhT = RTensor(type: .float32, shape: [dirs, batch, hidden]), ycT = RTensor(type: .float32, shape: [dirs, batch, hidden])
        let y = yt.pointer(Float.self), yh = yhT.pointer(Float.self), yc = ycT.pointer(Float.self)
        y.update(repeating: 0, count: yt.count)
        let xp = x.pointer(Float.self)
        var fnsOf: [[(Float) -> Float]] = []
        // Directions whose activations are the defaults take the vectorized path.
        var plain: [Bool] = []
        for d in 0..<dirs {
            var fns: [(Float) -> Float] = []
            var defaults = kind == .lstm
            for k in 0..<perDir {
                let i = d * perDir + k
                let name = names.map { $0.count > i ? $0[i] : $0[k] } ?? kind.defaultActivations[k]
                fns.append(try activation(name, i < alphas.count ? alphas[i] : nil, i < betas.count ? betas[i] : nil))
                defaults = defaults && name.lowercased() == kind.defaultActivations[k].lowercased()
            }
            fnsOf.append(fns)
            plain.append(defaults)
        }
        let biasPointer = UnsafeMutablePointer<Float>.allocate(capacity: max(bias.count, 1))
        defer { biasPointer.deallocate() }
        biasPointer.initialize(from: bias, count: bias.count)
        let biases = UnsafePointer(biasPointer)
        // The directions are independent: each runs on its own thread (the
        // arithmetic of each is the same on any number of threads).
        Parallel.forEach(dirs, threads: min(ctx.threads, dirs)) { range in for d in range {
            let fns = fnsOf[d]
            let f = fns[0], g = fns.count > 1 ? fns[1] : fns[0], hfn = fns.count > 2 ? fns[2] : g
            let wd = w.pointer(Float.self) + d * gh * inputSize, rd = r.pointer(Float.self) + d * gh * hidden
            let wb = biases + d * 2 * gh, rb = biases + d * 2 * gh + gh
            // All input projections at once: [seq·batch, I] × Wᵀ → [seq·batch, gates·H].
            var xw = [Float](repeating: 0, count: seq * batch * gh)
            if seq * batch > 0 {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(seq * batch), Int32(gh), Int32(inputSize), 1,
                            xp, Int32(inputSize), wd, Int32(inputSize), 0, &xw, Int32(gh))
            }
            var h = h0.map { Array($0.floatArray()[(d * batch * hidden)..<((d + 1) * batch * hidden)]) } ?? [Float](repeating: 0, count: batch * hidden)
            var c = c0.map { Array($0.floatArray()[(d * batch * hidden)..<((d + 1) * batch * hidden)]) } ?? [Float](repeating: 0, count: batch * hidden)
            var hr = [Float](repeating: 0, count: batch * gh)
            let reverse = direction == "reverse" || d == 1
            let p = peep.map { Array($0[(d * 3 * hidden)..<((d + 1) * 3 * hidden)]) }
            func clipped(_ v: Float) -> Float { clip.map { min(max(v, -$0), $0) } ?? v }
            var newH = h, newC = c
            var zg = [Float](repeating: 0, count: hidden), rg = zg, rh = zg
            for step in 0..<seq {
                let t = reverse ? seq - 1 - step : step
                // H·Rᵀ for every batch row (a matrix-vector product for one row).
                if batch == 1 {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(gh), Int32(hidden), 1, rd, Int32(hidden), h, 1, 0, &hr, 1)
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(gh), Int32(hidden), 1,
                                h, Int32(hidden), rd, Int32(hidden), 0, &hr, Int32(gh))
                }
                newH = h
                newC = c
                for b in 0..<batch {
                    // Past its length a sequence keeps its state (outputs stay 0); in
                    // reverse, a shorter sequence starts at its own last element.
                    let len = lens[b]
                    let tt = reverse ? t - (seq - len) : t
                    guard tt >= 0 && tt < len else { continue }
                    let xrow = (tt * batch + b) * gh, hrow = b * gh, base = b * hidden
                    func pre(_ gate: Int, _ j: Int) -> Float {
                        xw[xrow + gate * hidden + j] + hr[hrow + gate * hidden + j] + wb[gate * hidden + j] + rb[gate * hidden + j]
                    }
                    switch kind {
                    case .lstm where plain[d] && p == nil && clip == nil && !inputForget:
                        // The default activations (sigmoid, tanh, tanh) without peepholes
                        // or clipping: CKernels' qc_lstm_cell, Activation.sigmoid's and
                        // .vectorTanh's arithmetic in the CPU's widest vectors.
                        xw.withUnsafeBufferPointer { xwp in hr.withUnsafeBufferPointer { hrp in
                        c.withUnsafeBufferPointer { cp in newC.withUnsafeMutableBufferPointer { nc in newH.withUnsafeMutableBufferPointer { nh in
                            qc_lstm_cell(hidden, xwp.baseAddress! + xrow, hrp.baseAddress! + hrow, wb, rb, cp.baseAddress! + base,
                                         nc.baseAddress! + base, nh.baseAddress! + base)
                        } } } } }
                    case .lstm:
                        for j in 0..<hidden {
                            let cp = c[base + j]
                            let ft = f(clipped(pre(2, j) + (p?[2 * hidden + j] ?? 0) * cp))
                            let it = inputForget ? 1 - ft : f(clipped(pre(0, j) + (p?[j] ?? 0) * cp))
                            let ct = g(clipped(pre(3, j)))
                            let cn = ft * cp + it * ct
                            let ot = f(clipped(pre(1, j) + (p?[hidden + j] ?? 0) * cn))
                            newC[base + j] = cn
                            newH[base + j] = ot * hfn(cn)
                        }
                    case .gru:
                        for j in 0..<hidden {
                            zg[j] = f(clipped(pre(0, j)))
                            rg[j] = f(clipped(pre(1, j)))
                            rh[j] = rg[j] * h[base + j]
                        }
                        for j in 0..<hidden {
                            var cand: Float
                            if linearBeforeReset {
                                cand = xw[xrow + 2 * hidden + j] + wb[2 * hidden + j] + rg[j] * (hr[hrow + 2 * hidden + j] + rb[2 * hidden + j])
                            } else {
                                // (r ⊙ H)·Rhᵀ
                                var acc: Float = 0
                                let row = rd + (2 * hidden + j) * hidden
                                for k in 0..<hidden { acc += rh[k] * row[k] }
                                cand = xw[xrow + 2 * hidden + j] + wb[2 * hidden + j] + acc + rb[2 * hidden + j]
                            }
                            newH[base + j] = (1 - zg[j]) * g(clipped(cand)) + zg[j] * h[base + j]
                        }
                    case .rnn:
                        for j in 0..<hidden { newH[base + j] = f(clipped(pre(0, j))) }
                    }
                    for j in 0..<hidden { y[((tt * dirs + d) * batch + b) * hidden + j] = newH[base + j] }
                }
                h = newH
                c = newC
            }
            for i in 0..<(batch * hidden) {
                yh[d * batch * hidden + i] = h[i]
                yc[d * batch * hidden + i] = c[i]
            }
        } }
        if layout == 1 {
            yt = try transpose(yt, [2, 0, 1, 3], threads: 1)
            yhT = try transpose(yhT, [1, 0, 2], threads: 1)
            ycT = try transpose(ycT, [1, 0, 2], threads: 1)
        }
        let type = try ctx.input(0).type
        return [yt.converted(to: type), yhT.converted(to: type)] + (kind == .lstm ? [ycT.converted(to: type)] : [])
    }
}

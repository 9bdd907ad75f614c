import ArgumentParser
import Foundation
import Passes

/// Benchmarks that are not unit tests (timings depend on the machine and its load).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Time quantc's algorithms on synthetic inputs.", subcommands: [BenchAllocate.self])
}

/// Times the allocation solvers on a random multiple-choice knapsack (issue 6: the exact
/// solver must take under a second for 1,000 layers × 6 formats).
struct BenchAllocate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocate", abstract: "Time the exact, greedy and proportional allocators on a random instance.")

    @Option(help: "Layers.") var layers = 1000
    @Option(help: "Formats per layer (1–6).") var formats = 6
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Runs of each solver (the fastest is reported).") var repeats = 3

    func validate() throws {
        if layers < 1 { throw ValidationError("--layers must be at least 1") }
        if !(1...6).contains(formats) { throw ValidationError("--formats must be between 1 and 6") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let p = AllocationProblem.random(layers: layers, formats: formats, seed: seed)
        print("instance: \(layers) layers × \(formats) formats, budget \(p.budget) bytes (seed \(seed))")
        for solver in AllocationSolver.allCases {
            var best = Double.infinity
            var choice: [Int]?
            for _ in 0..<repeats {
                let t = DispatchTime.now().uptimeNanoseconds
                choice = solver.solve(p)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            }
            let c = choice!
            print(solver.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0) + String(format: "%9.4f s  objective %.6g  bytes %d (%@)", best, p.score(c), p.cost(c),
                         p.cost(c) <= p.budget ? "within budget" : "over budget"))
        }
    }
}

import Foundation

/// Latency samples (ms) and their statistics: nearest-rank percentiles on the sorted samples
/// (sorted[ceil(q / 100 * n) - 1]), min, mean.
public struct LatencyStats {
    public let samples: [Double]
    private let sorted: [Double]

    public init(_ samples: [Double]) {
        precondition(!samples.isEmpty, "no latency samples")
        self.samples = samples
        self.sorted = samples.sorted()
    }

    public func percentile(_ q: Double) -> Double {
        precondition(q > 0 && q <= 100, "percentile must be in (0, 100]")
        let rank = Int((q / 100.0 * Double(sorted.count)).rounded(.up))
        return sorted[max(rank, 1) - 1]
    }

    public var p50: Double { percentile(50) }
    public var p90: Double { percentile(90) }
    public var median: Double { p50 }
    public var min: Double { sorted[0] }
    public var mean: Double { samples.reduce(0, +) / Double(samples.count) }
    public var last: Double { samples[samples.count - 1] }
}

/// The last `capacity` latencies of the interactive screen ("last run" and "median of N").
public struct LatencyWindow {
    public let capacity: Int
    public private(set) var values: [Double] = []

    public init(capacity: Int) { self.capacity = capacity }

    public mutating func add(_ ms: Double) {
        values.append(ms)
        if values.count > capacity { values.removeFirst(values.count - capacity) }
    }

    public mutating func clear() { values.removeAll() }

    public var stats: LatencyStats? { values.isEmpty ? nil : LatencyStats(values) }
}

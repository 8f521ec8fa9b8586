import Foundation

/// Launch arguments of benchmark mode:
/// `--benchmark --artifact NAME.mlpackage|NAME.mlmodelc --runs N --warmup N
///  --compute-units all|cpuOnly|cpuAndGPU|cpuAndNeuralEngine --result FILE.json`
public struct BenchmarkArguments: Equatable {
    public static let computeUnitChoices = ["all", "cpuOnly", "cpuAndGPU", "cpuAndNeuralEngine"]
    public static let defaultRuns = 50
    public static let defaultWarmup = 5

    public let artifact: String
    public let runs: Int
    public let warmup: Int
    public let computeUnits: String
    public let result: String

    /// nil when `--benchmark` is absent (the app starts its normal screen); throws on bad values.
    public static func parse(_ arguments: [String]) throws -> BenchmarkArguments? {
        guard arguments.contains("--benchmark") else { return nil }
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if ["--artifact", "--runs", "--warmup", "--compute-units", "--result"].contains(a) {
                guard i + 1 < arguments.count else { throw SidecarError("\(a) needs a value") }
                values[a] = arguments[i + 1]
                i += 2
            } else {
                i += 1
            }
        }
        guard let artifact = values["--artifact"], !artifact.isEmpty else { throw SidecarError("--benchmark needs --artifact NAME.mlpackage (or .mlmodelc)") }
        guard artifact.hasSuffix(".mlpackage") || artifact.hasSuffix(".mlmodelc") else { throw SidecarError("--artifact must name a .mlpackage or .mlmodelc, got \(artifact)") }
        let runs = try integer(values["--runs"], "--runs", defaultRuns, minimum: 1)
        let warmup = try integer(values["--warmup"], "--warmup", defaultWarmup, minimum: 0)
        let units = values["--compute-units"] ?? "all"
        guard computeUnitChoices.contains(units) else { throw SidecarError("--compute-units must be one of \(computeUnitChoices.joined(separator: ", ")), got \(units)") }
        let name = (artifact as NSString).lastPathComponent
        let result = values["--result"] ?? name + ".json"
        guard !result.isEmpty, !result.contains("/"), result != ".", result != ".." else { throw SidecarError("--result must be a plain file name, got \(result)") }
        return BenchmarkArguments(artifact: artifact, runs: runs, warmup: warmup, computeUnits: units, result: result)
    }

    static func integer(_ text: String?, _ name: String, _ fallback: Int, minimum: Int) throws -> Int {
        guard let text = text else { return fallback }
        guard let value = Int(text), value >= minimum else { throw SidecarError("\(name) must be an integer >= \(minimum), got \(text)") }
        return value
    }
}

/// The device a benchmark ran on ("device" of the mvedge.profile/1 result).
public struct DeviceInfo {
    public let platform: String, model: String, os: String, abi: String?, source: String
    public init(platform: String, model: String, os: String, abi: String?, source: String) {
        self.platform = platform
        self.model = model
        self.os = os
        self.abi = abi
        self.source = source
    }
}

/// One result in the shared schema mvedge.profile/1 (`mvedge profile --device ios` reads it).
public struct BenchmarkResult {
    public static let schema = "mvedge.profile/1"
    public static let donePrefix = "MVEDGE BENCHMARK_DONE"
    public static let failedPrefix = "MVEDGE BENCHMARK_FAILED"

    public let artifact: String
    public let sha256: String?
    public let precision: String?
    public let delegate: String
    public let device: DeviceInfo
    public let warmup: Int
    public let loadMs: Double?
    public let stats: LatencyStats
    public let peakMemoryMB: Double?

    public init(artifact: String, sha256: String?, precision: String?, delegate: String, device: DeviceInfo, warmup: Int, loadMs: Double?, stats: LatencyStats, peakMemoryMB: Double?) {
        self.artifact = artifact
        self.sha256 = sha256
        self.precision = precision
        self.delegate = delegate
        self.device = device
        self.warmup = warmup
        self.loadMs = loadMs
        self.stats = stats
        self.peakMemoryMB = peakMemoryMB
    }

    public func jsonObject() -> [String: Any] {
        let null = NSNull()
        func orNull(_ value: Any?) -> Any { value ?? null }
        return [
            "schema": Self.schema,
            "artifact": artifact,
            "sha256": orNull(sha256),
            "target": "coreml",
            "precision": orNull(precision),
            "runtime": "coreml",
            "delegate": delegate,
            "device": ["platform": device.platform, "model": device.model, "os": device.os, "abi": orNull(device.abi), "source": device.source] as [String: Any],
            "threads": null,
            "warmup": warmup,
            "runs": stats.samples.count,
            "load_ms": orNull(loadMs),
            "latency_ms": ["p50": stats.p50, "p90": stats.p90, "min": stats.min, "mean": stats.mean],
            "samples_ms": stats.samples,
            "throughput_fps": orNull(stats.p50 > 0 ? 1000.0 / stats.p50 : nil),
            "peak_memory_mb": orNull(peakMemoryMB),
            "operators": null,
        ]
    }

    public func jsonData() throws -> Data {
        try JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys])
    }

    /// The Core ML compute units as the profile's "delegate" string.
    public static func delegateName(_ computeUnits: String) -> String {
        switch computeUnits {
        case "cpuOnly": return "CPU_ONLY"
        case "cpuAndGPU": return "CPU_AND_GPU"
        case "cpuAndNeuralEngine": return "CPU_AND_NE"
        default: return "ALL"
        }
    }

    /// Times `runs` calls of `body` after `warmup` untimed ones (milliseconds from `clockNanos`).
    public static func measure(warmup: Int, runs: Int, clockNanos: () -> UInt64, _ body: () throws -> Void) rethrows -> LatencyStats {
        for _ in 0..<warmup { try body() }
        var samples: [Double] = []
        samples.reserveCapacity(runs)
        for _ in 0..<runs {
            let start = clockNanos()
            try body()
            samples.append(Double(clockNanos() - start) / 1e6)
        }
        return LatencyStats(samples)
    }
}

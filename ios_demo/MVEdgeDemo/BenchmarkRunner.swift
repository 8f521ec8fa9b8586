import CoreML
import CryptoKit
import Foundation
import MVEdgeCore
import UIKit

/// Benchmark mode for `mvedge profile --device ios` (launch arguments, see README.md):
/// loads the artifact from Documents or the app bundle, times `runs` predictions after `warmup`
/// untimed ones on a bundled sample (or a synthetic picture), writes an mvedge.profile/1 JSON to
/// Documents/RESULT and prints "MVEDGE BENCHMARK_DONE <path>" (or "MVEDGE BENCHMARK_FAILED <reason>").
enum BenchmarkRunner {
    static func documents() throws -> URL {
        try FileManager.default.url(for: .documentDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
    }

    /// The artifact: Documents/NAME first (pushed with devicectl or the Files app; its sidecar
    /// NAME.mlpackage.json next to it is optional: the package's own metadata stands in), else the app bundle.
    static func resolve(_ name: String, store: ModelStore) throws -> (url: URL, sidecar: Sidecar?) {
        let docs = try documents()
        let pushed = docs.appendingPathComponent(name)
        let stem = (name as NSString).deletingPathExtension
        if FileManager.default.fileExists(atPath: pushed.path) {
            let sidecarURL = docs.appendingPathComponent(stem + ".mlpackage.json")
            guard let data = try? Data(contentsOf: sidecarURL) else { return (pushed, nil) }
            return (pushed, try Sidecar.parse(data))
        }
        guard let model = store.models.first(where: { ($0.file as NSString).deletingPathExtension == stem }) else {
            throw SidecarError("\(name) is neither in Documents nor bundled with the app")
        }
        return (try store.compiledURL(model), try store.sidecar(model))
    }

    static func picture(store: ModelStore) -> RGBImage {
        if let sample = store.samples.first, let url = store.sampleURL(sample), let image = try? ImageConversion.rgb(contentsOf: url) { return image }
        let side = 256
        return RGBImage(width: side, height: side, rgb: (0..<(side * side * 3)).map { UInt8(($0 / 3) % 251) })
    }

    static func deviceModel() -> String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Peak physical footprint of the process (task_vm_info's ledger_phys_footprint_peak), in MB.
    static func peakFootprintMB() -> Double? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let result = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) { task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count) }
        }
        return result == KERN_SUCCESS ? Double(info.ledger_phys_footprint_peak) / 1_048_576 : nil
    }

    static func sha256(_ url: URL) -> String? {
        var hasher = SHA256()
        let base = url
        let files: [URL]
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue {
            // same rule as mvedge's sidecars: sorted relative paths, each path then its bytes
            let all = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])?.allObjects as? [URL]) ?? []
            files = all.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
                .sorted { $0.path.replacingOccurrences(of: base.path + "/", with: "") < $1.path.replacingOccurrences(of: base.path + "/", with: "") }
        } else {
            files = [url]
        }
        for file in files {
            if isDir.boolValue { hasher.update(data: Data(file.path.replacingOccurrences(of: base.path + "/", with: "").utf8)) }
            guard let data = try? Data(contentsOf: file) else { return nil }
            hasher.update(data: data)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Runs the benchmark; returns the line printed to stdout.
    static func run(_ args: BenchmarkArguments) -> String {
        do {
            let store = ModelStore()
            let (found, known) = try resolve(args.artifact, store: store)
            var compiled = found
            var loadMs = 0.0
            if found.pathExtension == "mlpackage" {  // compiling on the device counts as loading
                let start = DispatchTime.now().uptimeNanoseconds
                compiled = try MLModel.compileModel(at: found)
                loadMs += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            }
            let sidecar: Sidecar
            if let known {
                sidecar = known
            } else {
                let model = try MLModel(contentsOf: compiled)
                sidecar = try Sidecar.fromCoreMLMetadata(CoreMLClassifier.metadata(of: model),
                                                         inputName: model.modelDescription.inputDescriptionsByName.keys.first ?? "image")
            }
            let input = Preprocessor(sidecar.preprocessing, sidecar.input).build(picture(store: store))
            let loadStart = DispatchTime.now().uptimeNanoseconds
            let classifier = try CoreMLClassifier(url: compiled, sidecar: sidecar, computeUnits: args.computeUnits)
            let features = try classifier.features(input)
            _ = try classifier.predict(features)  // the first prediction finishes loading (Neural Engine preparation)
            loadMs += Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
            let stats = try BenchmarkResult.measure(warmup: args.warmup, runs: args.runs, clockNanos: { DispatchTime.now().uptimeNanoseconds }) {
                _ = try classifier.predict(features)
            }
            let v = ProcessInfo.processInfo.operatingSystemVersion
            let device = DeviceInfo(platform: "ios", model: deviceModel(), os: "iOS \(v.majorVersion).\(v.minorVersion).\(v.patchVersion)", abi: "arm64", source: "ios_demo")
            let result = BenchmarkResult(artifact: args.artifact, sha256: sha256(found) ?? sidecar.sha256, precision: sidecar.precision,
                                         delegate: BenchmarkResult.delegateName(args.computeUnits), device: device, warmup: args.warmup,
                                         loadMs: loadMs, stats: stats, peakMemoryMB: peakFootprintMB())
            let out = try documents().appendingPathComponent(args.result)
            try result.jsonData().write(to: out, options: .atomic)
            return "\(BenchmarkResult.donePrefix) \(out.path)"
        } catch {
            return "\(BenchmarkResult.failedPrefix) \(String(describing: error).replacingOccurrences(of: "\n", with: " "))"
        }
    }
}

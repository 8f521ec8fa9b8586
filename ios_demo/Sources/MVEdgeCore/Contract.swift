import Foundation

/// One image x artifact case of `mvedge bundle`'s contract vectors.
public struct ContractCase {
    public let image: String, pixels: String, input: String, logits: String
    public let top: [Prediction]
}

/// One artifact's part of contract.json.
public struct ContractArtifact {
    public let file: String, sha256: String, runtime: String
    public let input: InputSpec
    public let preprocessing: Preprocessing
    public let numOutputs: Int
    public let inputAbs: Double, logitsAbs: Double, scoreAbs: Double
    public let cases: [ContractCase]
}

/// contract.json (schema mvedge.contract/1).
public struct Contract {
    public static let schema = "mvedge.contract/1"
    public let images: [String: String]
    public let artifacts: [ContractArtifact]

    public static func parse(_ data: Data) throws -> Contract {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw SidecarError("contract.json is not a JSON object") }
        guard json["schema"] as? String == schema else { throw SidecarError("contract schema is \(json["schema"] ?? "missing"), expected \(schema)") }
        var images: [String: String] = [:]
        for image in json["images"] as? [[String: Any]] ?? [] {
            if let name = image["name"] as? String, let file = image["file"] as? String { images[name] = file }
        }
        var artifacts: [ContractArtifact] = []
        for a in json["artifacts"] as? [[String: Any]] ?? [] {
            guard let file = a["file"] as? String, let input = a["input"] as? [String: Any], let pre = a["preprocessing"] as? [String: Any],
                  let tolerance = a["tolerance"] as? [String: Any] else { throw SidecarError("a contract artifact entry is incomplete") }
            var cases: [ContractCase] = []
            for c in a["cases"] as? [[String: Any]] ?? [] {
                let top = (c["top5"] as? [[String: Any]] ?? []).map { p -> Prediction in
                    let index = p["index"] as? Int ?? -1
                    return Prediction(index: index, label: p["label"] as? String ?? "#\(index)", score: (p["score"] as? NSNumber)?.doubleValue ?? .nan)
                }
                cases.append(ContractCase(image: c["image"] as? String ?? "", pixels: c["pixels"] as? String ?? "",
                                          input: c["input"] as? String ?? "", logits: c["logits"] as? String ?? "", top: top))
            }
            let spec = try InputSpec.parse(input, imageInput: a["image_input"] as? Bool ?? false)
            let preprocessing = try Preprocessing.parse(pre)
            artifacts.append(ContractArtifact(
                file: file, sha256: a["sha256"] as? String ?? "", runtime: a["runtime"] as? String ?? "",
                input: spec,
                preprocessing: preprocessing, numOutputs: a["num_outputs"] as? Int ?? 0,
                inputAbs: (tolerance["input_abs"] as? NSNumber)?.doubleValue ?? 0,
                logitsAbs: (tolerance["logits_abs"] as? NSNumber)?.doubleValue ?? 0,
                scoreAbs: (tolerance["score_abs"] as? NSNumber)?.doubleValue ?? 0,
                cases: cases))
        }
        return Contract(images: images, artifacts: artifacts)
    }

    /// Little-endian float32 values.
    public static func floats(_ data: Data) -> [Float] {
        let count = data.count / 4
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
        return out
    }

    public static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "lengths differ")
        var d = 0.0
        for i in a.indices { d = max(d, abs(Double(a[i]) - Double(b[i]))) }
        return d
    }
}

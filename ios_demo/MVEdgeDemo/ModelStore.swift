import Foundation
import MVEdgeCore

/// One model of Models/index.json (written by `mvedge bundle --app ios`).
struct BundledModel: Identifiable, Hashable {
    let file: String          // NAME.mlpackage (Xcode compiles it to NAME.mlmodelc in the app bundle)
    let sidecarFile: String   // NAME.mlpackage.json
    let precision: String?
    let digitCanvas: Bool
    var id: String { file }
    var stem: String { (file as NSString).deletingPathExtension }
}

/// One sample picture of Samples/ listed in index.json.
struct SamplePicture: Hashable {
    let file: String
    let label: String?
}

/// The bundled models and samples. Xcode flattens the Models group into the bundle's top level:
/// NAME.mlmodelc, NAME.mlpackage.json and index.json; Samples/ stays a folder.
struct ModelStore {
    let bundle: Bundle
    let models: [BundledModel]
    let samples: [SamplePicture]

    init(bundle: Bundle = .main) {
        self.bundle = bundle
        var models: [BundledModel] = []
        var samples: [SamplePicture] = []
        if let url = bundle.url(forResource: "index", withExtension: "json"),
           let data = try? Data(contentsOf: url),
           let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            for m in json["models"] as? [[String: Any]] ?? [] {
                guard let file = m["file"] as? String, let sidecar = m["sidecar"] as? String else { continue }
                models.append(BundledModel(file: file, sidecarFile: sidecar, precision: m["precision"] as? String, digitCanvas: m["digit_canvas"] as? Bool ?? false))
            }
            for s in json["samples"] as? [[String: Any]] ?? [] {
                if let file = s["file"] as? String { samples.append(SamplePicture(file: file, label: s["label"] as? String)) }
            }
        }
        self.models = models
        self.samples = samples
    }

    func sidecar(_ model: BundledModel) throws -> Sidecar {
        guard let url = bundle.url(forResource: model.sidecarFile, withExtension: nil) else { throw SidecarError("\(model.sidecarFile) is not in the app bundle") }
        return try Sidecar.parse(Data(contentsOf: url))
    }

    /// The compiled model in the app bundle.
    func compiledURL(_ model: BundledModel) throws -> URL {
        guard let url = bundle.url(forResource: model.stem, withExtension: "mlmodelc") else {
            throw SidecarError("\(model.stem).mlmodelc is not in the app bundle (is \(model.file) in MVEdgeDemo/Models when building?)")
        }
        return url
    }

    func sampleURL(_ sample: SamplePicture) -> URL? {
        bundle.url(forResource: sample.file, withExtension: nil, subdirectory: "Samples")
    }
}

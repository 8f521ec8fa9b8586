import Foundation

/// A sidecar (or contract) problem, with a one-line reason.
public struct SidecarError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a picture becomes the model input, read from the artifact's sidecar (never hard-coded).
public struct Preprocessing: Equatable {
    public static let interpolations = ["bilinear", "bicubic", "nearest"]
    public static let cropModes = ["center", "squash"]

    public let inputSize: Int
    public let mean: [Float]
    public let std: [Float]
    public let interpolation: String
    public let cropPct: Double
    public let cropMode: String

    public init(inputSize: Int, mean: [Float], std: [Float], interpolation: String, cropPct: Double, cropMode: String) {
        self.inputSize = inputSize
        self.mean = mean
        self.std = std
        self.interpolation = interpolation
        self.cropPct = cropPct
        self.cropMode = cropMode
    }

    /// Side the picture is resized to before the centre crop: floor(inputSize / cropPct).
    public var resizeSize: Int { Int((Double(inputSize) / cropPct).rounded(.down)) }

    public static func parse(_ json: [String: Any]) throws -> Preprocessing {
        guard let size = json["input_size"] as? Int, size > 0 else { throw SidecarError("preprocessing.input_size must be a positive integer") }
        let mean = try floats(json["mean"], "preprocessing.mean")
        let std = try floats(json["std"], "preprocessing.std")
        guard mean.count == 3, std.count == 3 else { throw SidecarError("preprocessing.mean and std need 3 values (RGB)") }
        guard std.allSatisfy({ $0 > 0 }) else { throw SidecarError("preprocessing.std values must be positive") }
        let interpolation = json["interpolation"] as? String ?? "bicubic"
        guard interpolations.contains(interpolation) else { throw SidecarError("preprocessing.interpolation must be one of \(interpolations), got \(interpolation)") }
        let cropMode = json["crop_mode"] as? String ?? "center"
        guard cropModes.contains(cropMode) else { throw SidecarError("preprocessing.crop_mode must be one of \(cropModes), got \(cropMode)") }
        let cropPct = (json["crop_pct"] as? NSNumber)?.doubleValue ?? 1.0
        guard cropPct > 0 else { throw SidecarError("preprocessing.crop_pct must be positive") }
        let channels = json["channels"] as? String ?? "RGB"
        guard channels == "RGB" else { throw SidecarError("preprocessing.channels must be RGB, got \(channels)") }
        return Preprocessing(inputSize: size, mean: mean, std: std, interpolation: interpolation, cropPct: cropPct, cropMode: cropMode)
    }
}

/// The model input: shape, layout (NCHW or NHWC), element type, integer quantization, and whether it
/// is a Core ML image input (8-bit RGB pixels; the model normalises them itself).
public struct InputSpec: Equatable {
    public let name: String
    public let shape: [Int]
    public let layout: String
    public let dtype: String
    public let imageInput: Bool

    public var channels: Int { layout == "NCHW" ? shape[1] : shape[3] }
    public var side: Int { layout == "NCHW" ? shape[2] : shape[1] }
    public var elementCount: Int { shape.reduce(1, *) }

    public static func parse(_ json: [String: Any], imageInput: Bool) throws -> InputSpec {
        guard let shape = json["shape"] as? [Int], shape.count == 4 else { throw SidecarError("input.shape must have 4 dimensions") }
        let layout = json["layout"] as? String ?? "NCHW"
        guard layout == "NCHW" || layout == "NHWC" else { throw SidecarError("input.layout must be NCHW or NHWC, got \(layout)") }
        guard shape[0] == 1 else { throw SidecarError("the app feeds one image at a time; input batch is \(shape[0])") }
        let dtype = json["dtype"] as? String ?? "float32"
        // a Core ML image input: dtype "image" (sidecars before mvedge recorded it as such: "uint8")
        guard dtype == "float32" || ((dtype == "image" || dtype == "uint8") && imageInput) else { throw SidecarError("input.dtype \(dtype) is not supported by the Core ML app") }
        return InputSpec(name: json["name"] as? String ?? "image", shape: shape, layout: layout, dtype: dtype, imageInput: imageInput)
    }
}

/// The parts of an artifact's sidecar JSON (written by mvedge convert) that the app uses.
public struct Sidecar {
    public let model: String
    public let source: String
    public let target: String
    public let precision: String?
    public let input: InputSpec
    public let preprocessing: Preprocessing
    public let labels: [String]
    public let numClasses: Int
    public let sha256: String?

    /// The label of class `index`, or "#index" when the model ships no labels.
    public func label(_ index: Int) -> String { labels.indices.contains(index) ? labels[index] : "#\(index)" }

    /// The embedded digits model: the app offers its drawing canvas.
    public var isDigitsModel: Bool { source == "embedded" }

    public static func parse(_ data: Data) throws -> Sidecar {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw SidecarError("the sidecar is not a JSON object") }
        guard let input = json["input"] as? [String: Any] else { throw SidecarError("the sidecar has no input section") }
        guard let pre = json["preprocessing"] as? [String: Any] else { throw SidecarError("the sidecar has no preprocessing section") }
        let target = json["target"] as? String ?? ""
        let conversion = json["conversion"] as? [String: Any] ?? [:]
        let imageInput = target == "coreml" && (conversion["input_kind"] as? String ?? "image") == "image"
        let spec = try InputSpec.parse(input, imageInput: imageInput)
        let preprocessing = try Preprocessing.parse(pre)
        guard spec.side == preprocessing.inputSize else { throw SidecarError("input side \(spec.side) differs from preprocessing.input_size \(preprocessing.inputSize)") }
        let labels = json["labels"] as? [String] ?? []
        let numClasses = (json["config"] as? [String: Any])?["num_classes"] as? Int ?? labels.count
        return Sidecar(model: json["model"] as? String ?? "model", source: json["source"] as? String ?? "", target: target,
                       precision: json["precision"] as? String, input: spec, preprocessing: preprocessing, labels: labels,
                       numClasses: numClasses, sha256: json["sha256"] as? String)
    }
}

extension Sidecar {
    /// A sidecar rebuilt from the metadata mvedge writes into every .mlpackage (mvedge.preprocessing,
    /// mvedge.config, mvedge.labels, mvedge.input_kind, mvedge.precision): for a package that was
    /// pushed to the device without its NAME.mlpackage.json.
    public static func fromCoreMLMetadata(_ meta: [String: String], inputName: String) throws -> Sidecar {
        func json(_ key: String) -> Any? { meta[key].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } }
        guard let pre = json("mvedge.preprocessing") as? [String: Any] else {
            throw SidecarError("the package has no mvedge.preprocessing metadata; push its sidecar NAME.mlpackage.json next to it")
        }
        let preprocessing = try Preprocessing.parse(pre)
        let config = json("mvedge.config") as? [String: Any] ?? [:]
        let labels = json("mvedge.labels") as? [String] ?? []
        let imageInput = (meta["mvedge.input_kind"] ?? "image") == "image"
        let side = preprocessing.inputSize
        let spec = InputSpec(name: inputName, shape: [1, config["in_channels"] as? Int ?? 3, side, side], layout: "NCHW",
                             dtype: imageInput ? "image" : "float32", imageInput: imageInput)
        return Sidecar(model: meta["mvedge.model"] ?? "model", source: meta["mvedge.source"] ?? "", target: "coreml",
                       precision: meta["mvedge.precision"], input: spec, preprocessing: preprocessing, labels: labels,
                       numClasses: config["num_classes"] as? Int ?? labels.count, sha256: nil)
    }
}

func floats(_ value: Any?, _ what: String) throws -> [Float] {
    guard let list = value as? [Any] else { throw SidecarError("\(what) is missing") }
    return try list.map {
        guard let n = $0 as? NSNumber else { throw SidecarError("\(what) must hold numbers") }
        return n.floatValue
    }
}

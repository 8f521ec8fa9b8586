import CoreML
import Foundation
import MVEdgeCore

/// A Core ML model made by mvedge: an image input (8-bit RGB, normalisation inside the model) or a
/// tensor input (float32 NCHW), and a "logits" output (classifiers also have classLabel_probs).
final class CoreMLClassifier {
    let model: MLModel
    let sidecar: Sidecar
    let inputName: String
    let computeUnits: String

    static func units(_ name: String) -> MLComputeUnits {
        switch name {
        case "cpuOnly": return .cpuOnly
        case "cpuAndGPU": return .cpuAndGPU
        case "cpuAndNeuralEngine": return .cpuAndNeuralEngine
        default: return .all
        }
    }

    /// `url`: a compiled .mlmodelc (an .mlpackage is compiled first, on the device).
    init(url: URL, sidecar: Sidecar, computeUnits: String = "all") throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = Self.units(computeUnits)
        var compiled = url
        if url.pathExtension == "mlpackage" { compiled = try MLModel.compileModel(at: url) }
        model = try MLModel(contentsOf: compiled, configuration: configuration)
        self.sidecar = sidecar
        self.computeUnits = computeUnits
        guard let name = model.modelDescription.inputDescriptionsByName.keys.first else { throw SidecarError("the model has no input") }
        inputName = model.modelDescription.inputDescriptionsByName[sidecar.input.name] != nil ? sidecar.input.name : name
    }

    /// mvedge's metadata in the package (preprocessing, config, labels, input kind, precision).
    static func metadata(of model: MLModel) -> [String: String] {
        model.modelDescription.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: String] ?? [:]
    }

    /// The feature provider for one input (built once, reused by the benchmark loop).
    func features(_ input: ModelInput) throws -> MLFeatureProvider {
        let value: MLFeatureValue
        if sidecar.input.imageInput {
            value = MLFeatureValue(pixelBuffer: try ImageConversion.pixelBuffer(input.pixels))
        } else {
            let array = try MLMultiArray(shape: sidecar.input.shape.map { NSNumber(value: $0) }, dataType: .float32)
            let pointer = array.dataPointer.assumingMemoryBound(to: Float.self)
            for i in 0..<input.tensor.count { pointer[i] = input.tensor[i] }
            value = MLFeatureValue(multiArray: array)
        }
        return try MLDictionaryFeatureProvider(dictionary: [inputName: value])
    }

    func predict(_ features: MLFeatureProvider) throws -> MLFeatureProvider {
        try model.prediction(from: features)
    }

    /// The logits of a prediction (or the class probabilities, in label order, when there are none).
    func logits(_ output: MLFeatureProvider) throws -> [Float] {
        if let array = output.featureValue(for: "logits")?.multiArrayValue {
            return (0..<array.count).map { array[$0].floatValue }
        }
        if let probs = output.featureValue(for: "classLabel_probs")?.dictionaryValue as? [String: NSNumber] {
            // Probabilities, not logits: log() keeps the softmax of the result equal to them.
            return sidecar.labels.map { Float(Foundation.log(max(probs[$0]?.doubleValue ?? 0, 1e-30))) }
        }
        throw SidecarError("the model has neither a logits nor a classLabel_probs output")
    }

    func run(_ input: ModelInput) throws -> [Float] {
        try logits(predict(features(input)))
    }
}

import Foundation

/// The model input built from a picture: the 8-bit pixels after resize and crop (what a Core ML image
/// input takes) and the normalised float tensor in the model's layout (what a tensor input takes).
public struct ModelInput {
    public let pixels: RGBImage
    public let tensor: [Float]
}

/// Picture -> model input, entirely from the sidecar, with the same steps and float32 arithmetic as
/// mvedge's Python preprocessing and the Android app.
public struct Preprocessor {
    public let pre: Preprocessing
    public let spec: InputSpec

    public init(_ pre: Preprocessing, _ spec: InputSpec) {
        self.pre = pre
        self.spec = spec
    }

    public func pixels(_ image: RGBImage) -> RGBImage {
        let (w, h) = ImageOps.resizedSize(width: image.width, height: image.height, pre)
        return ImageOps.centerCrop(ImageOps.resize(image, width: w, height: h, filter: pre.interpolation), size: pre.inputSize)
    }

    /// (pixel / 255 - mean) / std per channel in float32, NCHW or NHWC; other channel counts than 3
    /// get the mean of the normalised RGB planes.
    public func tensor(_ pixels: RGBImage) -> [Float] {
        let plane = pre.inputSize * pre.inputSize
        var rgb = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 {
                let v = Float(pixels.rgb[i * 3 + c]) / Float(255.0)
                rgb[c * plane + i] = (v - pre.mean[c]) / pre.std[c]
            }
        }
        let channels = spec.channels
        var chw = rgb
        if channels != 3 {
            chw = [Float](repeating: 0, count: channels * plane)
            for i in 0..<plane {
                let m = (rgb[i] + rgb[plane + i] + rgb[2 * plane + i]) / Float(3)
                for c in 0..<channels { chw[c * plane + i] = m }
            }
        }
        if spec.layout == "NCHW" { return chw }
        var hwc = [Float](repeating: 0, count: channels * plane)
        for i in 0..<plane { for c in 0..<channels { hwc[i * channels + c] = chw[c * plane + i] } }
        return hwc
    }

    public func build(_ image: RGBImage) -> ModelInput {
        let p = pixels(image)
        return ModelInput(pixels: p, tensor: tensor(p))
    }
}

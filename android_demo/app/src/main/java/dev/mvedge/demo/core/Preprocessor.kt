package dev.mvedge.demo.core

/** The model input built from a picture, as the sidecar says: the 8-bit pixels after resize and
 *  crop, the normalised float tensor in the model's layout, and its integer form for int8 inputs. */
class ModelInput(val pixels: RgbImage, val tensor: FloatArray, val quantized: ByteArray?)

/** Picture -> model input, entirely from the sidecar (size, crop, interpolation, mean/std, layout,
 *  channels, dtype): the same steps and float32 arithmetic as mvedge's Python preprocessing. */
class Preprocessor(private val pre: Preprocessing, private val spec: InputSpec) {

    /** Resize and centre-crop to the model's side (the pixels a Core ML image input would take). */
    fun pixels(image: RgbImage): RgbImage {
        val size = ImageOps.resizedSize(image.width, image.height, pre)
        val resized = ImageOps.resize(image, size[0], size[1], pre.interpolation)
        return ImageOps.centerCrop(resized, pre.inputSize)
    }

    /** (pixel / 255 - mean) / std per channel in float32, laid out as the model wants (NCHW or NHWC);
     *  a model with another channel count than 3 gets the mean of the normalised RGB planes. */
    fun tensor(pixels: RgbImage): FloatArray {
        val side = pre.inputSize
        require(pixels.width == side && pixels.height == side) { "pixels must be ${side}x$side" }
        val channels = spec.channels
        val plane = side * side
        val rgb = FloatArray(3 * plane)
        for (i in 0 until plane) {
            for (c in 0 until 3) {
                val v = (pixels.rgb[i * 3 + c].toInt() and 0xFF).toFloat() / 255.0f
                rgb[c * plane + i] = (v - pre.mean[c]) / pre.std[c]
            }
        }
        val chw = if (channels == 3) rgb else {
            val mean = FloatArray(plane) { (rgb[it] + rgb[plane + it] + rgb[2 * plane + it]) / 3.0f }
            FloatArray(channels * plane) { mean[it % plane] }
        }
        if (spec.layout == "NCHW") return chw
        val hwc = FloatArray(channels * plane)
        for (i in 0 until plane) for (c in 0 until channels) hwc[i * channels + c] = chw[c * plane + i]
        return hwc
    }

    /** Float input -> int8/uint8 with the input's scale and zero point (round half to even, clipped). */
    fun quantize(tensor: FloatArray): ByteArray {
        val scale = spec.scale ?: throw IllegalStateException("input ${spec.name} has no quantization")
        val zero = spec.zeroPoint ?: 0
        val lo = if (spec.dtype == "int8") -128 else 0
        val hi = if (spec.dtype == "int8") 127 else 255
        return ByteArray(tensor.size) {
            val q = Math.rint((tensor[it] / scale).toDouble()).toInt() + zero
            Math.max(lo, Math.min(hi, q)).toByte()
        }
    }

    fun build(image: RgbImage): ModelInput {
        val pixels = pixels(image)
        val tensor = tensor(pixels)
        return ModelInput(pixels, tensor, if (spec.quantized) quantize(tensor) else null)
    }
}

package dev.mvedge.demo.core

import org.json.JSONArray
import org.json.JSONObject

/** How a picture becomes the model input, read from the artifact's sidecar (never hard-coded). */
class Preprocessing(
    val inputSize: Int,
    val mean: FloatArray,
    val std: FloatArray,
    val interpolation: String,
    val cropPct: Double,
    val cropMode: String
) {
    /** Side the picture is resized to before the centre crop: floor(inputSize / cropPct). */
    fun resizeSize(): Int = Math.floor(inputSize / cropPct).toInt()

    companion object {
        val INTERPOLATIONS = listOf("bilinear", "bicubic", "nearest")
        val CROP_MODES = listOf("center", "squash")

        /** Parses the sidecar's "preprocessing" object; IllegalArgumentException names the bad field. */
        fun fromJson(json: JSONObject): Preprocessing {
            val size = json.optInt("input_size", -1)
            require(size > 0) { "preprocessing.input_size must be a positive integer" }
            val mean = floats(json.optJSONArray("mean"), "preprocessing.mean")
            val std = floats(json.optJSONArray("std"), "preprocessing.std")
            require(mean.size == 3 && std.size == 3) { "preprocessing.mean and std need 3 values (RGB)" }
            for (s in std) require(s > 0f) { "preprocessing.std values must be positive" }
            val interpolation = json.optString("interpolation", "bicubic")
            require(interpolation in INTERPOLATIONS) { "preprocessing.interpolation must be one of $INTERPOLATIONS, got $interpolation" }
            val cropMode = json.optString("crop_mode", "center")
            require(cropMode in CROP_MODES) { "preprocessing.crop_mode must be one of $CROP_MODES, got $cropMode" }
            val cropPct = json.optDouble("crop_pct", 1.0)
            require(cropPct > 0.0) { "preprocessing.crop_pct must be positive" }
            val channels = json.optString("channels", "RGB")
            require(channels == "RGB") { "preprocessing.channels must be RGB, got $channels" }
            return Preprocessing(size, mean, std, interpolation, cropPct, cropMode)
        }
    }
}

/** The model input tensor: shape, layout (NCHW or NHWC), element type and integer quantization. */
class InputSpec(
    val name: String,
    val shape: IntArray,
    val layout: String,
    val dtype: String,
    val scale: Float?,
    val zeroPoint: Int?
) {
    val channels: Int get() = if (layout == "NCHW") shape[1] else shape[3]
    val side: Int get() = if (layout == "NCHW") shape[2] else shape[1]
    val elementCount: Int get() { var n = 1; for (d in shape) n *= d; return n }
    val quantized: Boolean get() = dtype == "int8" || dtype == "uint8"

    companion object {
        fun fromJson(json: JSONObject): InputSpec {
            val shapeJson = json.optJSONArray("shape") ?: throw IllegalArgumentException("input.shape is missing")
            val shape = IntArray(shapeJson.length()) { shapeJson.getInt(it) }
            val layout = json.optString("layout", "NCHW")
            require(shape.size == 4) { "input.shape must have 4 dimensions, got ${shape.size}" }
            require(layout == "NCHW" || layout == "NHWC") { "input.layout must be NCHW or NHWC, got $layout" }
            require(shape[0] == 1) { "the app feeds one image at a time; input batch is ${shape[0]}" }
            val dtype = json.optString("dtype", "float32")
            require(dtype == "float32" || dtype == "int8" || dtype == "uint8") { "input.dtype $dtype is not supported (float32, int8, uint8)" }
            val q = json.optJSONObject("quantization")
            val scale = if (q != null) q.getDouble("scale").toFloat() else null
            val zeroPoint = if (q != null) q.getInt("zero_point") else null
            require(dtype == "float32" || scale != null) { "an integer input needs input.quantization (scale, zero_point)" }
            return InputSpec(json.optString("name", "input"), shape, layout, dtype, scale, zeroPoint)
        }
    }
}

/** The parts of an artifact's sidecar JSON (written by mvedge convert) that the app uses. */
class Sidecar(
    val model: String,
    val source: String,
    val target: String,
    val precision: String?,
    val input: InputSpec,
    val preprocessing: Preprocessing,
    val labels: List<String>,
    val numClasses: Int,
    val sha256: String?,
    val outputScale: Float? = null,
    val outputZeroPoint: Int? = null,
    val backend: String? = null
) {
    /** The label of class [index], or "#index" when the model ships no labels. */
    fun label(index: Int): String = if (index in labels.indices) labels[index] else "#$index"

    /** The embedded digits model: the app offers its drawing canvas. */
    val isDigitsModel: Boolean get() = source == "embedded"

    companion object {
        /** Parses a sidecar; IllegalArgumentException with a one-line reason when it is not usable. */
        fun parse(text: String): Sidecar {
            val json = try { JSONObject(text) } catch (e: org.json.JSONException) {
                throw IllegalArgumentException("the sidecar is not JSON: ${e.message}")
            }
            val input = json.optJSONObject("input") ?: throw IllegalArgumentException("the sidecar has no input section")
            val pre = json.optJSONObject("preprocessing") ?: throw IllegalArgumentException("the sidecar has no preprocessing section")
            val spec = InputSpec.fromJson(input)
            val preprocessing = Preprocessing.fromJson(pre)
            require(spec.side == preprocessing.inputSize) { "input side ${spec.side} differs from preprocessing.input_size ${preprocessing.inputSize}" }
            val labelsJson = json.optJSONArray("labels")
            val labels = ArrayList<String>()
            if (labelsJson != null) for (i in 0 until labelsJson.length()) labels.add(labelsJson.getString(i))
            val config = json.optJSONObject("config")
            val output = json.optJSONObject("output")
            val outQ = output?.optJSONObject("quantization")
            val conversion = json.optJSONObject("conversion")
            val numClasses = if (config != null && !config.isNull("num_classes")) config.getInt("num_classes") else labels.size
            return Sidecar(
                json.optString("model", "model"),
                json.optString("source", ""),
                json.optString("target", ""),
                if (json.isNull("precision")) null else json.optString("precision"),
                spec,
                preprocessing,
                labels,
                numClasses,
                if (json.isNull("sha256")) null else json.optString("sha256", ""),
                if (outQ != null) outQ.getDouble("scale").toFloat() else null,
                if (outQ != null) outQ.getInt("zero_point") else null,
                if (conversion != null && conversion.has("backend") && !conversion.isNull("backend")) conversion.getString("backend") else null
            )
        }
    }
}

internal fun floats(array: JSONArray?, what: String): FloatArray {
    if (array == null) throw IllegalArgumentException("$what is missing")
    return FloatArray(array.length()) { array.getDouble(it).toFloat() }
}

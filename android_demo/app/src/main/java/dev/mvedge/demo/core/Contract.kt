package dev.mvedge.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.json.JSONObject

/** One image x artifact case of `mvedge bundle`'s contract vectors. */
class ContractCase(val image: String, val pixels: String, val input: String, val inputQuantized: String?, val logits: String, val top: List<Prediction>)

/** One artifact's part of contract.json. */
class ContractArtifact(
    val file: String,
    val sha256: String,
    val runtime: String,
    val input: InputSpec,
    val preprocessing: Preprocessing,
    val numOutputs: Int,
    val inputAbs: Double,
    val logitsAbs: Double,
    val scoreAbs: Double,
    val cases: List<ContractCase>
)

/** contract.json (schema mvedge.contract/1): the images and, per artifact, what the app must compute. */
class Contract(val images: Map<String, String>, val artifacts: List<ContractArtifact>) {
    companion object {
        const val SCHEMA = "mvedge.contract/1"

        fun parse(text: String): Contract {
            val json = JSONObject(text)
            require(json.optString("schema") == SCHEMA) { "contract schema is ${json.optString("schema")}, expected $SCHEMA" }
            val images = LinkedHashMap<String, String>()
            val imagesJson = json.getJSONArray("images")
            for (i in 0 until imagesJson.length()) {
                val image = imagesJson.getJSONObject(i)
                images[image.getString("name")] = image.getString("file")
            }
            val artifacts = ArrayList<ContractArtifact>()
            val list = json.getJSONArray("artifacts")
            for (i in 0 until list.length()) {
                val a = list.getJSONObject(i)
                val tolerance = a.getJSONObject("tolerance")
                val cases = ArrayList<ContractCase>()
                val casesJson = a.getJSONArray("cases")
                for (j in 0 until casesJson.length()) {
                    val c = casesJson.getJSONObject(j)
                    val top = ArrayList<Prediction>()
                    val topJson = c.getJSONArray("top5")
                    for (t in 0 until topJson.length()) {
                        val p = topJson.getJSONObject(t)
                        top.add(Prediction(p.getInt("index"), if (p.isNull("label")) "#${p.getInt("index")}" else p.getString("label"), p.getDouble("score")))
                    }
                    cases.add(ContractCase(c.getString("image"), c.getString("pixels"), c.getString("input"),
                        if (c.isNull("input_quantized")) null else c.getString("input_quantized"), c.getString("logits"), top))
                }
                artifacts.add(ContractArtifact(
                    a.getString("file"), a.getString("sha256"), a.getString("runtime"),
                    InputSpec.fromJson(a.getJSONObject("input")), Preprocessing.fromJson(a.getJSONObject("preprocessing")),
                    a.getInt("num_outputs"), tolerance.getDouble("input_abs"), tolerance.getDouble("logits_abs"), tolerance.getDouble("score_abs"), cases))
            }
            return Contract(images, artifacts)
        }

        /** Little-endian float32 values. */
        fun floats(bytes: ByteArray): FloatArray {
            require(bytes.size % 4 == 0) { "a float32 vector needs a multiple of 4 bytes, got ${bytes.size}" }
            val buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
            val out = FloatArray(buffer.remaining())
            buffer.get(out)
            return out
        }

        /** Largest absolute difference of two equally long vectors. */
        fun maxAbsDiff(a: FloatArray, b: FloatArray): Double {
            require(a.size == b.size) { "lengths differ: ${a.size} vs ${b.size}" }
            var d = 0.0
            for (i in a.indices) d = Math.max(d, Math.abs(a[i].toDouble() - b[i].toDouble()))
            return d
        }
    }
}

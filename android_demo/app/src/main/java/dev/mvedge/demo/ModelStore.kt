package dev.mvedge.demo

import android.content.Context
import dev.mvedge.demo.core.Sidecar
import java.io.File
import org.json.JSONObject

/** One model of assets/models/index.json (written by `mvedge bundle --app android`). */
class BundledModel(val file: String, val sidecarFile: String, val runtime: String, val precision: String?, val digitCanvas: Boolean) {
    override fun toString(): String = "$file ($runtime)"
}

/** One sample picture of assets/samples/ listed in index.json. */
class SamplePicture(val file: String, val label: String?)

/** The bundled models and samples, and their copies in the app's files folder (the runtimes load
 *  from a file path; assets are compressed-or-not entries of the APK). */
class ModelStore(private val context: Context) {
    val models: List<BundledModel>
    val samples: List<SamplePicture>

    init {
        val text = try {
            context.assets.open("$MODELS/index.json").bufferedReader().use { it.readText() }
        } catch (e: java.io.IOException) {
            null
        }
        val index = if (text != null) JSONObject(text) else null
        val models = ArrayList<BundledModel>()
        val list = index?.optJSONArray("models")
        if (list != null) for (i in 0 until list.length()) {
            val m = list.getJSONObject(i)
            models.add(BundledModel(m.getString("file"), m.getString("sidecar"), m.getString("runtime"),
                if (m.isNull("precision")) null else m.optString("precision"), m.optBoolean("digit_canvas", false)))
        }
        val samples = ArrayList<SamplePicture>()
        val sampleList = index?.optJSONArray("samples")
        if (sampleList != null) for (i in 0 until sampleList.length()) {
            val s = sampleList.getJSONObject(i)
            samples.add(SamplePicture(s.getString("file"), if (s.isNull("label")) null else s.optString("label")))
        }
        this.models = models
        this.samples = samples
    }

    fun sidecar(model: BundledModel): Sidecar =
        Sidecar.parse(context.assets.open("$MODELS/${model.sidecarFile}").bufferedReader().use { it.readText() })

    /** The model as a file in filesDir/models (copied from the APK when missing or of another size). */
    fun file(model: BundledModel): File {
        val target = File(File(context.filesDir, MODELS), model.file)
        val size = context.assets.openFd("$MODELS/${model.file}").use { it.length }
        if (!target.isFile || target.length() != size) {
            target.parentFile!!.mkdirs()
            val tmp = File(target.parentFile, target.name + ".tmp")
            context.assets.open("$MODELS/${model.file}").use { input -> tmp.outputStream().use { input.copyTo(it) } }
            check(tmp.renameTo(target)) { "could not write ${target.path}" }
        }
        return target
    }

    fun openSample(sample: SamplePicture) = context.assets.open("$SAMPLES/${sample.file}")

    companion object {
        const val MODELS = "models"
        const val SAMPLES = "samples"
    }
}

package dev.mvedge.demo

import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.widget.TextView
import dev.mvedge.demo.core.BenchmarkRequest
import dev.mvedge.demo.core.BenchmarkResult
import dev.mvedge.demo.core.DeviceInfo
import dev.mvedge.demo.core.Preprocessor
import dev.mvedge.demo.core.RgbImage
import dev.mvedge.demo.core.Sidecar
import java.io.File
import java.security.MessageDigest

/**
 * Benchmark mode for `mvedge profile --device android` (contract in README.md):
 *   adb shell am start -W -n dev.mvedge.demo/.BenchmarkActivity --es artifact /data/local/tmp/mvedge/M.tflite
 *     --es runtime litert --ei threads 4 --ei runs 50 --ei warmup 5 --es result M.json
 * Loads the artifact (and its sidecar M.tflite.json next to it), times `runs` inferences after `warmup`
 * untimed ones on a bundled sample (or a synthetic picture), writes an mvedge.profile/1 JSON to
 * getExternalFilesDir("benchmark")/RESULT and logs "BENCHMARK_DONE <path>" (or "BENCHMARK_FAILED
 * <reason>") with tag MVEDGE.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this)
        status.setPadding(32, 32, 32, 32)
        status.text = "mvedge benchmark running ..."
        setContentView(status)
        val extras = HashMap<String, Any?>()
        intent.extras?.let { b -> for (key in b.keySet()) @Suppress("DEPRECATION") extras[key] = b.get(key) }
        Thread {
            val line = try {
                val path = run(BenchmarkRequest.fromExtras(extras))
                "${BenchmarkResult.DONE} ${path.absolutePath}"
            } catch (e: Throwable) {
                "${BenchmarkResult.FAILED} ${(e.message ?: e.javaClass.simpleName).replace('\n', ' ')}"
            }
            if (line.startsWith(BenchmarkResult.DONE)) Log.i(BenchmarkResult.LOG_TAG, line) else Log.e(BenchmarkResult.LOG_TAG, line)
            runOnUiThread {
                status.text = line
                finish()
            }
        }.start()
    }

    /** Where an artifact named [name] can be read: the given path, else the app's own folders, else
     *  the APK's bundled models (copied out). The app may not be allowed to read /data/local/tmp. */
    private fun resolve(path: String): File {
        val given = File(path)
        if (given.canRead()) return given
        val name = given.name
        val candidates = listOfNotNull(getExternalFilesDir("models")?.let { File(it, name) }, File(File(filesDir, "models"), name))
        candidates.firstOrNull { it.canRead() }?.let { return it }
        val store = ModelStore(this)
        store.models.firstOrNull { it.file == name }?.let { return store.file(it) }
        throw IllegalArgumentException("cannot read $path (app storage is private); push it to " +
            "${getExternalFilesDir("models")}/$name instead, with its sidecar $name.json")
    }

    private fun sidecarFor(artifact: File): Sidecar {
        val next = File(artifact.parentFile, artifact.name + ".json")
        if (next.canRead()) return Sidecar.parse(next.readText())
        val store = ModelStore(this)
        store.models.firstOrNull { it.file == artifact.name }?.let { return store.sidecar(it) }
        throw IllegalArgumentException("no sidecar ${artifact.name}.json next to ${artifact.path}; push it too (mvedge convert writes it)")
    }

    private fun benchmarkPicture(): RgbImage {
        val store = ModelStore(this)
        val sample = store.samples.firstOrNull()
        if (sample != null) return store.openSample(sample).use { Pictures.toRgb(Pictures.decode(it)) }
        val side = 256
        return RgbImage(side, side, ByteArray(side * side * 3) { ((it / 3) % 251).toByte() })
    }

    private fun run(request: BenchmarkRequest): File {
        val artifact = resolve(request.artifact)
        val sidecar = sidecarFor(artifact)
        val input = Preprocessor(sidecar.preprocessing, sidecar.input).build(benchmarkPicture())
        val loadStart = SystemClock.elapsedRealtimeNanos()
        val classifier = Classifier.open(artifact, sidecar, request.threads)
        val loadMs = (SystemClock.elapsedRealtimeNanos() - loadStart) / 1e6
        val stats = classifier.use { c ->
            BenchmarkResult.measure(request.warmup, request.runs, { SystemClock.elapsedRealtimeNanos() }) { c.run(input) }
        }
        val result = BenchmarkResult(
            artifact.name, sha256(artifact), sidecar.target.ifEmpty { BenchmarkResult.targetFor(request.runtime) }, sidecar.precision,
            request.runtime, classifier.delegate,
            DeviceInfo("android", "${Build.MANUFACTURER} ${Build.MODEL}", "Android ${Build.VERSION.RELEASE}", Build.SUPPORTED_ABIS.firstOrNull(), "android_demo"),
            request.threads, request.warmup, loadMs, stats, BenchmarkResult.peakRssMb(File("/proc/self/status").readText())
        )
        val dir = getExternalFilesDir("benchmark") ?: throw IllegalStateException("no external files folder")
        dir.mkdirs()
        val out = File(dir, request.result)
        val tmp = File(dir, request.result + ".tmp")
        tmp.writeText(result.toJson().toString(1))
        if (!tmp.renameTo(out)) throw IllegalStateException("could not write ${out.path}")
        return out
    }

    private fun sha256(file: File): String {
        val digest = MessageDigest.getInstance("SHA-256")
        file.inputStream().use { s ->
            val buffer = ByteArray(1 shl 20)
            while (true) {
                val n = s.read(buffer)
                if (n < 0) break
                digest.update(buffer, 0, n)
            }
        }
        return digest.digest().joinToString("") { "%02x".format(it) }
    }
}

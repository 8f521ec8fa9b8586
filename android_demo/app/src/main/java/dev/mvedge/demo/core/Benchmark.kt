package dev.mvedge.demo.core

import org.json.JSONArray
import org.json.JSONObject

/** What `adb shell am start ... BenchmarkActivity --es artifact ... --es runtime ...` asks for. */
class BenchmarkRequest(
    val artifact: String,
    val runtime: String,
    val threads: Int?,
    val runs: Int,
    val warmup: Int,
    val result: String
) {
    companion object {
        val RUNTIMES = listOf("litert", "executorch")
        const val DEFAULT_RUNS = 50
        const val DEFAULT_WARMUP = 5

        /** From the intent extras (any Map view of them); IllegalArgumentException with a one-line reason. */
        fun fromExtras(extras: Map<String, Any?>): BenchmarkRequest {
            val artifact = extras["artifact"] as? String ?: throw IllegalArgumentException("missing --es artifact <path on device>")
            require(artifact.isNotBlank()) { "--es artifact is empty" }
            val runtime = (extras["runtime"] as? String) ?: runtimeFor(artifact)
            require(runtime in RUNTIMES) { "--es runtime must be litert or executorch, got $runtime" }
            val expected = runtimeFor(artifact)
            require(expected == runtime) { "$artifact is a ${suffix(artifact)} file: it runs with runtime $expected, not $runtime" }
            val threads = extras["threads"] as? Int
            require(threads == null || threads >= 0) { "--ei threads must be >= 0 (0: the runtime's default), got $threads" }
            val runs = (extras["runs"] as? Int) ?: DEFAULT_RUNS
            require(runs >= 1) { "--ei runs must be >= 1, got $runs" }
            val warmup = (extras["warmup"] as? Int) ?: DEFAULT_WARMUP
            require(warmup >= 0) { "--ei warmup must be >= 0, got $warmup" }
            val result = (extras["result"] as? String) ?: (baseName(artifact) + ".json")
            require(result.isNotBlank() && !result.contains('/') && result != "." && result != "..") { "--es result must be a plain file name, got $result" }
            return BenchmarkRequest(artifact, runtime, if (threads == 0) null else threads, runs, warmup, result)
        }

        fun baseName(path: String): String = path.substring(path.lastIndexOf('/') + 1)

        private fun suffix(path: String): String {
            val name = baseName(path)
            val dot = name.lastIndexOf('.')
            return if (dot < 0) "" else name.substring(dot)
        }

        /** The runtime that runs a file: .tflite -> litert, .pte -> executorch. */
        fun runtimeFor(path: String): String = when (suffix(path)) {
            ".tflite" -> "litert"
            ".pte" -> "executorch"
            else -> throw IllegalArgumentException("${baseName(path)}: the app runs .tflite (LiteRT) and .pte (ExecuTorch) files")
        }
    }
}

/** The device the benchmark ran on ("device" of the mvedge.profile/1 result). */
class DeviceInfo(val platform: String, val model: String, val os: String, val abi: String?, val source: String)

/** One benchmark result in the shared schema mvedge.profile/1 (`mvedge profile --device android` reads it). */
class BenchmarkResult(
    val artifact: String,
    val sha256: String?,
    val target: String,
    val precision: String?,
    val runtime: String,
    val delegate: String,
    val device: DeviceInfo,
    val threads: Int?,
    val warmup: Int,
    val loadMs: Double?,
    val stats: LatencyStats,
    val peakMemoryMb: Double?
) {
    fun toJson(): JSONObject {
        val json = JSONObject()
        json.put("schema", SCHEMA)
        json.put("artifact", artifact)
        json.put("sha256", sha256 ?: JSONObject.NULL)
        json.put("target", target)
        json.put("precision", precision ?: JSONObject.NULL)
        json.put("runtime", runtime)
        json.put("delegate", delegate)
        val d = JSONObject()
        d.put("platform", device.platform)
        d.put("model", device.model)
        d.put("os", device.os)
        d.put("abi", device.abi ?: JSONObject.NULL)
        d.put("source", device.source)
        json.put("device", d)
        json.put("threads", threads ?: JSONObject.NULL)
        json.put("warmup", warmup)
        json.put("runs", stats.samples.size)
        json.put("load_ms", loadMs ?: JSONObject.NULL)
        val latency = JSONObject()
        latency.put("p50", stats.p50)
        latency.put("p90", stats.p90)
        latency.put("min", stats.min)
        latency.put("mean", stats.mean)
        json.put("latency_ms", latency)
        val samples = JSONArray()
        for (s in stats.samples) samples.put(s)
        json.put("samples_ms", samples)
        json.put("throughput_fps", if (stats.p50 > 0.0) 1000.0 / stats.p50 else JSONObject.NULL)
        json.put("peak_memory_mb", peakMemoryMb ?: JSONObject.NULL)
        json.put("operators", JSONObject.NULL)
        return json
    }

    companion object {
        const val SCHEMA = "mvedge.profile/1"
        const val LOG_TAG = "MVEDGE"
        const val DONE = "BENCHMARK_DONE"
        const val FAILED = "BENCHMARK_FAILED"

        /** The target name for a file, for results without a sidecar. */
        fun targetFor(runtime: String): String = if (runtime == "litert") "tflite" else "executorch"

        /** Peak resident set size in MB from /proc/self/status's VmHWM line (null when absent). */
        fun peakRssMb(procStatus: String): Double? {
            for (line in procStatus.split('\n')) {
                if (line.startsWith("VmHWM:")) {
                    val kb = line.substring(6).trim().split(' ')[0].toDoubleOrNull() ?: return null
                    return kb / 1024.0
                }
            }
            return null
        }

        /** Times [runs] calls of [body] after [warmup] untimed ones; milliseconds from [clockNanos]. */
        fun measure(warmup: Int, runs: Int, clockNanos: () -> Long, body: () -> Unit): LatencyStats {
            for (i in 0 until warmup) body()
            val samples = ArrayList<Double>(runs)
            for (i in 0 until runs) {
                val start = clockNanos()
                body()
                samples.add((clockNanos() - start) / 1e6)
            }
            return LatencyStats(samples)
        }
    }
}

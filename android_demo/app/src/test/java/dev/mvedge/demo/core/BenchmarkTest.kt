package dev.mvedge.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class BenchmarkTest {
    private fun refused(extras: Map<String, Any?>, fragment: String) {
        try {
            BenchmarkRequest.fromExtras(extras)
            fail("accepted $extras")
        } catch (e: IllegalArgumentException) {
            assertTrue("'${e.message}' should mention '$fragment'", e.message!!.contains(fragment))
        }
    }

    @Test fun readsTheAdbExtras() {
        val r = BenchmarkRequest.fromExtras(mapOf("artifact" to "/data/local/tmp/mvedge/m-tflite-fp32.tflite", "runtime" to "litert",
            "threads" to 4, "runs" to 20, "warmup" to 3, "result" to "r.json"))
        assertEquals("litert", r.runtime)
        assertEquals(4, r.threads)
        assertEquals(20, r.runs)
        assertEquals(3, r.warmup)
        assertEquals("r.json", r.result)
        val d = BenchmarkRequest.fromExtras(mapOf("artifact" to "/data/local/tmp/mvedge/m.pte", "threads" to 0))
        assertEquals("executorch", d.runtime)
        assertNull(d.threads)
        assertEquals(BenchmarkRequest.DEFAULT_RUNS, d.runs)
        assertEquals("m.pte.json", d.result)
    }

    @Test fun refusesBadExtras() {
        refused(mapOf(), "artifact")
        refused(mapOf("artifact" to "/x/m.onnx"), ".tflite")
        refused(mapOf("artifact" to "/x/m.pte", "runtime" to "litert"), "runs with runtime executorch")
        refused(mapOf("artifact" to "/x/m.tflite", "runtime" to "tflite"), "litert or executorch")
        refused(mapOf("artifact" to "/x/m.tflite", "runs" to 0), "runs")
        refused(mapOf("artifact" to "/x/m.tflite", "warmup" to -1), "warmup")
        refused(mapOf("artifact" to "/x/m.tflite", "result" to "../evil.json"), "plain file name")
    }

    @Test fun resultFollowsTheProfileSchema() {
        val stats = LatencyStats(listOf(10.0, 12.0, 11.0, 30.0))
        val device = DeviceInfo("android", "Pixel 8", "Android 14", "arm64-v8a", "android_demo")
        val json = BenchmarkResult("m.tflite", "abc", "tflite", "fp32", "litert", "XNNPACK", device, 4, 2, 35.5, stats, null).toJson()
        assertEquals("mvedge.profile/1", json.getString("schema"))
        assertEquals(11.0, json.getJSONObject("latency_ms").getDouble("p50"), 0.0)
        assertEquals(30.0, json.getJSONObject("latency_ms").getDouble("p90"), 0.0)
        assertEquals(1000.0 / 11.0, json.getDouble("throughput_fps"), 1e-9)
        assertEquals(4, json.getJSONArray("samples_ms").length())
        assertEquals(4, json.getInt("runs"))
        assertTrue(json.isNull("peak_memory_mb"))
        assertTrue(json.isNull("operators"))
        assertEquals("android_demo", json.getJSONObject("device").getString("source"))
    }

    @Test fun peakRssComesFromVmHwm() {
        assertEquals(100.0, BenchmarkResult.peakRssMb("Name:\tx\nVmHWM:\t  102400 kB\nVmRSS:\t 1 kB\n")!!, 1e-9)
        assertNull(BenchmarkResult.peakRssMb("Name:\tx\n"))
    }
}

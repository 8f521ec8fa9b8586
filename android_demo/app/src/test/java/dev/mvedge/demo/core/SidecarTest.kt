package dev.mvedge.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SidecarTest {
    private fun sidecar(input: String = """{"name": "image", "shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "float32", "quantization": null}""",
                        pre: String = """{"input_size": 128, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.25, 0.5], "interpolation": "bilinear", "crop_pct": 1.0, "crop_mode": "squash", "channels": "RGB", "layout": "NCHW"}""") =
        """{"model": "mambavision-digits", "source": "embedded", "target": "tflite", "precision": "fp32", "config": {"num_classes": 10},
            "input": $input, "preprocessing": $pre, "labels": ["0","1","2","3","4","5","6","7","8","9"], "sha256": "ab"}"""

    private fun refused(text: String, fragment: String) {
        try {
            Sidecar.parse(text)
            fail("accepted a sidecar that should be refused ($fragment)")
        } catch (e: IllegalArgumentException) {
            assertTrue("message '${e.message}' should mention '$fragment'", e.message!!.contains(fragment))
        }
    }

    @Test fun parsesWhatTheAppNeeds() {
        val s = Sidecar.parse(sidecar())
        assertEquals(128, s.preprocessing.inputSize)
        assertEquals(0.25f, s.preprocessing.std[1], 0f)
        assertEquals("bilinear", s.preprocessing.interpolation)
        assertEquals("squash", s.preprocessing.cropMode)
        assertEquals("NCHW", s.input.layout)
        assertEquals(3, s.input.channels)
        assertEquals(128, s.input.side)
        assertEquals(10, s.numClasses)
        assertEquals("7", s.label(7))
        assertEquals("#12", s.label(12))
        assertTrue(s.isDigitsModel)
    }

    @Test fun readsNhwcAndInt8Inputs() {
        val s = Sidecar.parse(sidecar(input = """{"name": "x", "shape": [1, 128, 128, 3], "layout": "NHWC", "dtype": "int8", "quantization": {"scale": 0.0078, "zero_point": -1}}"""))
        assertEquals(3, s.input.channels)
        assertEquals(128, s.input.side)
        assertTrue(s.input.quantized)
        assertEquals(-1, s.input.zeroPoint)
    }

    @Test fun refusesWhatItCannotFeed() {
        refused("not json", "not JSON")
        refused("""{"input": {"shape": [1, 3, 128, 128]}}""", "preprocessing")
        refused(sidecar(input = """{"shape": [2, 3, 128, 128], "layout": "NCHW"}"""), "batch")
        refused(sidecar(input = """{"shape": [1, 3, 128, 128], "layout": "CHWN"}"""), "layout")
        refused(sidecar(input = """{"shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "int8"}"""), "quantization")
        refused(sidecar(input = """{"shape": [1, 3, 64, 64], "layout": "NCHW"}"""), "input_size")
        refused(sidecar(pre = """{"input_size": 128, "mean": [0.5], "std": [0.5]}"""), "3 values")
        refused(sidecar(pre = """{"input_size": 128, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "lanczos"}"""), "interpolation")
    }
}

package dev.mvedge.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class PreprocessorTest {
    private fun pre(size: Int, mode: String = "squash", pct: Double = 1.0, interpolation: String = "bilinear") =
        Preprocessing(size, floatArrayOf(0.5f, 0.25f, 0f), floatArrayOf(0.5f, 0.5f, 2f), interpolation, pct, mode)

    private fun spec(size: Int, layout: String, channels: Int = 3, dtype: String = "float32", scale: Float? = null, zero: Int? = null) =
        InputSpec("x", if (layout == "NCHW") intArrayOf(1, channels, size, size) else intArrayOf(1, size, size, channels), layout, dtype, scale, zero)

    private fun image(w: Int, h: Int) = RgbImage(w, h, ByteArray(w * h * 3) { ((it * 37 + it / 3) % 256).toByte() })

    @Test fun normalisesPerChannelInTheSidecarLayout() {
        val px = RgbImage(1, 1, byteArrayOf(255.toByte(), 0, 51))
        val nchw = Preprocessor(pre(1), spec(1, "NCHW")).tensor(px)
        assertArrayEquals(floatArrayOf((1f - 0.5f) / 0.5f, (0f - 0.25f) / 0.5f, (51f / 255f - 0f) / 2f), nchw, 0f)
        val img = image(2, 2)
        val a = Preprocessor(pre(2), spec(2, "NCHW")).tensor(img)
        val b = Preprocessor(pre(2), spec(2, "NHWC")).tensor(img)
        for (c in 0 until 3) for (i in 0 until 4) assertEquals(a[c * 4 + i], b[i * 3 + c], 0f)
    }

    @Test fun otherChannelCountsAverageThePlanes() {
        val px = RgbImage(1, 1, byteArrayOf(255.toByte(), 0, 51))
        val rgb = Preprocessor(pre(1), spec(1, "NCHW")).tensor(px)
        val gray = Preprocessor(pre(1), spec(1, "NCHW", channels = 1)).tensor(px)
        assertEquals((rgb[0] + rgb[1] + rgb[2]) / 3f, gray[0], 0f)
    }

    @Test fun quantizesHalfToEven() {
        val p = Preprocessor(pre(1), spec(1, "NCHW", dtype = "int8", scale = 0.5f, zero = 1))
        assertArrayEquals(byteArrayOf(1, 3, 127, -128, 1), p.quantize(floatArrayOf(0.25f, 0.75f, 1000f, -1000f, 0f)))
    }

    @Test fun centerModeKeepsAspectThenCropsTorchvisionStyle() {
        val p = pre(4, mode = "center", pct = 0.8)   // resize short side to floor(4 / 0.8) = 5
        assertArrayEquals(intArrayOf(5, 10), ImageOps.resizedSize(6, 12, p))
        assertArrayEquals(intArrayOf(7, 5), ImageOps.resizedSize(9, 6, p))
        val src = image(5, 7)
        val crop = ImageOps.centerCrop(src, 4)
        // offsets round((5 - 4) / 2) = 0 (half to even), round((7 - 4) / 2) = 2
        for (y in 0 until 4) for (x in 0 until 4) for (c in 0 until 3) assertEquals(src.at(x, y + 2, c), crop.at(x, y, c))
        val padded = ImageOps.centerCrop(RgbImage(1, 1, byteArrayOf(9, 9, 9)), 3)
        assertEquals(9, padded.at(1, 1, 0))
        assertEquals(0, padded.at(0, 0, 0))
    }

    @Test fun resizeKeepsAConstantPictureConstant() {
        val flat = RgbImage(7, 5, ByteArray(7 * 5 * 3) { 200.toByte() })
        for (f in listOf("bilinear", "bicubic", "nearest")) {
            val r = ImageOps.resize(flat, 16, 3, f)
            for (b in r.rgb) assertEquals(200, b.toInt() and 0xFF)
        }
    }

    @Test fun alphaIsCompositedOntoWhite() {
        val img = RgbImage.fromArgb(2, 1, intArrayOf(0x00000000, 0xFF102030.toInt()))
        assertEquals(255, img.at(0, 0, 0))
        assertEquals(0x10, img.at(1, 0, 0))
        assertEquals(0x30, img.at(1, 0, 2))
    }
}

class FitInkTest {
    @Test fun cropsToTheInkWithAMarginOnWhite() {
        val w = 20
        val h = 10
        val rgb = ByteArray(w * h * 3) { 255.toByte() }
        for (y in 2..5) for (x in 10..11) for (c in 0 until 3) rgb[(y * w + x) * 3 + c] = 0
        val fitted = ImageOps.fitInk(RgbImage(w, h, rgb), 0.25)
        assertEquals(6, fitted.width)          // ink 2x4 -> side 4 + 2 * ceil(4 * 0.25)
        assertEquals(6, fitted.height)
        assertEquals(255, fitted.at(0, 0, 0))
        assertEquals(0, fitted.at(2, 1, 0))    // ink starts at x = (6 - 2) / 2, y = (6 - 4) / 2
        assertEquals(0, fitted.at(3, 4, 0))
        assertEquals(255, fitted.at(4, 4, 0))
        val blank = RgbImage(3, 3, ByteArray(27) { 255.toByte() })
        assertEquals(3, ImageOps.fitInk(blank, 0.2).width)
    }
}

package dev.mvedge.demo.core

/**
 * An 8-bit RGB picture: [rgb] holds width * height * 3 bytes, row by row (HWC).
 *
 * The resize below reproduces Pillow's (the library mvedge preprocesses with) to the bit, so the app
 * builds the same pixels as `mvedge bundle`'s contract vectors: separable filters (bilinear support 1,
 * bicubic a = -0.5 support 2, both widened by the scale when shrinking), coefficients normalised and
 * turned into 22-bit fixed point, one pass per axis (in Pillow's order), each rounded and clipped to
 * 0..255; nearest takes the source pixel under each output pixel centre.
 */
class RgbImage(val width: Int, val height: Int, val rgb: ByteArray) {
    init {
        require(width > 0 && height > 0) { "image size must be positive, got ${width}x$height" }
        require(rgb.size == width * height * 3) { "expected ${width * height * 3} bytes, got ${rgb.size}" }
    }

    fun at(x: Int, y: Int, c: Int): Int = rgb[(y * width + x) * 3 + c].toInt() and 0xFF

    companion object {
        /** From packed ARGB ints (Android Bitmap.getPixels, Java BufferedImage.getRGB); translucent
         *  pixels are composited onto white, as mvedge's image loader does. */
        fun fromArgb(width: Int, height: Int, argb: IntArray): RgbImage {
            require(argb.size == width * height) { "expected ${width * height} pixels, got ${argb.size}" }
            val out = ByteArray(width * height * 3)
            for (i in argb.indices) {
                val p = argb[i]
                val a = (p ushr 24) and 0xFF
                for (c in 0 until 3) {
                    val v = (p shr (16 - 8 * c)) and 0xFF
                    val composited = if (a == 255) v else (v * a + 255 * (255 - a) + 127) / 255
                    out[i * 3 + c] = composited.toByte()
                }
            }
            return RgbImage(width, height, out)
        }
    }
}

object ImageOps {
    private const val PRECISION_BITS = 22

    private fun bilinear(x0: Double): Double {
        val x = if (x0 < 0.0) -x0 else x0
        return if (x < 1.0) 1.0 - x else 0.0
    }

    private fun bicubic(x0: Double): Double {
        val a = -0.5
        val x = if (x0 < 0.0) -x0 else x0
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a
        return 0.0
    }

    private fun support(filter: String): Double = when (filter) {
        "bilinear" -> 1.0
        "bicubic" -> 2.0
        else -> throw IllegalArgumentException("unsupported filter $filter")
    }

    private fun weight(filter: String, x: Double): Double = if (filter == "bilinear") bilinear(x) else bicubic(x)

    /** Fixed-point coefficients of one axis: bounds[2i] = first source index, bounds[2i+1] = count. */
    private class Coefficients(val ksize: Int, val bounds: IntArray, val k: IntArray)

    private fun coefficients(inSize: Int, outSize: Int, filter: String): Coefficients {
        val scale = inSize.toFloat().toDouble() / outSize
        val filterScale = if (scale < 1.0) 1.0 else scale
        val support = support(filter) * filterScale
        val ksize = Math.ceil(support).toInt() * 2 + 1
        val bounds = IntArray(outSize * 2)
        val k = IntArray(outSize * ksize)
        val w = DoubleArray(ksize)
        for (xx in 0 until outSize) {
            val center = 0.0 + (xx + 0.5) * scale
            var ww = 0.0
            val ss = 1.0 / filterScale
            var xmin = (center - support + 0.5).toInt()
            if (xmin < 0) xmin = 0
            var xmax = (center + support + 0.5).toInt()
            if (xmax > inSize) xmax = inSize
            xmax -= xmin
            for (x in 0 until xmax) {
                val v = weight(filter, (x + xmin - center + 0.5) * ss)
                w[x] = v
                ww += v
            }
            for (x in 0 until ksize) {
                var v = if (x < xmax) w[x] else 0.0
                if (x < xmax && ww != 0.0) v /= ww
                k[xx * ksize + x] = if (v < 0) (-0.5 + v * (1 shl PRECISION_BITS)).toInt() else (0.5 + v * (1 shl PRECISION_BITS)).toInt()
            }
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = xmax
        }
        return Coefficients(ksize, bounds, k)
    }

    private fun clip8(v: Int): Int {
        val s = v shr PRECISION_BITS
        return if (s < 0) 0 else if (s > 255) 255 else s
    }

    private fun horizontal(src: RgbImage, outWidth: Int, c: Coefficients): RgbImage {
        val out = ByteArray(outWidth * src.height * 3)
        for (y in 0 until src.height) {
            for (xx in 0 until outWidth) {
                val xmin = c.bounds[xx * 2]
                val count = c.bounds[xx * 2 + 1]
                for (ch in 0 until 3) {
                    var ss = 1 shl (PRECISION_BITS - 1)
                    for (x in 0 until count) ss += src.at(x + xmin, y, ch) * c.k[xx * c.ksize + x]
                    out[(y * outWidth + xx) * 3 + ch] = clip8(ss).toByte()
                }
            }
        }
        return RgbImage(outWidth, src.height, out)
    }

    private fun vertical(src: RgbImage, outHeight: Int, c: Coefficients): RgbImage {
        val out = ByteArray(src.width * outHeight * 3)
        for (yy in 0 until outHeight) {
            val ymin = c.bounds[yy * 2]
            val count = c.bounds[yy * 2 + 1]
            for (x in 0 until src.width) {
                for (ch in 0 until 3) {
                    var ss = 1 shl (PRECISION_BITS - 1)
                    for (y in 0 until count) ss += src.at(x, y + ymin, ch) * c.k[yy * c.ksize + y]
                    out[(yy * src.width + x) * 3 + ch] = clip8(ss).toByte()
                }
            }
        }
        return RgbImage(src.width, outHeight, out)
    }

    private fun nearest(src: RgbImage, outWidth: Int, outHeight: Int): RgbImage {
        val out = ByteArray(outWidth * outHeight * 3)
        val ax = src.width.toDouble() / outWidth
        val ay = src.height.toDouble() / outHeight
        val xin = IntArray(outWidth)
        var xo = ax * 0.5
        for (x in 0 until outWidth) {
            xin[x] = Math.min(if (xo < 0.0) -1 else xo.toInt(), src.width - 1)
            xo += ax
        }
        var yo = ay * 0.5
        for (y in 0 until outHeight) {
            val yi = Math.min(if (yo < 0.0) -1 else yo.toInt(), src.height - 1)
            for (x in 0 until outWidth) for (ch in 0 until 3) out[(y * outWidth + x) * 3 + ch] = src.rgb[(yi * src.width + xin[x]) * 3 + ch]
            yo += ay
        }
        return RgbImage(outWidth, outHeight, out)
    }

    /** Resize to [outWidth] x [outHeight] with "bilinear", "bicubic" or "nearest", as Pillow does. */
    fun resize(src: RgbImage, outWidth: Int, outHeight: Int, filter: String): RgbImage {
        require(outWidth > 0 && outHeight > 0) { "resize target must be positive, got ${outWidth}x$outHeight" }
        if (outWidth == src.width && outHeight == src.height) return src
        if (filter == "nearest") return nearest(src, outWidth, outHeight)
        var image = src
        // Pillow (since 11) runs the vertical pass first when the height shrinks by more than twice
        // as many pixels as the width; the order changes the rounding of the intermediate picture.
        val shrinkY = src.height - outHeight
        val verticalFirst = shrinkY > 0 && shrinkY > (src.width - outWidth) * 2
        if (verticalFirst && outHeight != src.height) image = vertical(image, outHeight, coefficients(src.height, outHeight, filter))
        if (outWidth != src.width) image = horizontal(image, outWidth, coefficients(src.width, outWidth, filter))
        if (!verticalFirst && outHeight != src.height) image = vertical(image, outHeight, coefficients(src.height, outHeight, filter))
        return image
    }

    /** Size before the centre crop: "squash" -> both sides floor(S / crop_pct); "center" -> the shorter
     *  side to it, the longer side int(side * long / short) (aspect kept, torchvision's Resize). */
    fun resizedSize(width: Int, height: Int, pre: Preprocessing): IntArray {
        val side = pre.resizeSize()
        require(side >= 1) { "input_size ${pre.inputSize} with crop_pct ${pre.cropPct} gives an empty resize" }
        if (pre.cropMode == "squash") return intArrayOf(side, side)
        return if (width <= height) intArrayOf(side, Math.max(1, (side.toDouble() * height / width).toInt()))
        else intArrayOf(Math.max(1, (side.toDouble() * width / height).toInt()), side)
    }

    /** Centre crop [size] x [size] with torchvision's offsets round((side - size) / 2), halves to
     *  even; a picture smaller than the crop is padded with black first. */
    fun centerCrop(src: RgbImage, size: Int): RgbImage {
        var image = src
        if (src.width < size || src.height < size) {
            val padW = Math.max(size - src.width, 0)
            val padH = Math.max(size - src.height, 0)
            val w = src.width + padW
            val h = src.height + padH
            val out = ByteArray(w * h * 3)
            for (y in 0 until src.height) System.arraycopy(src.rgb, y * src.width * 3, out, ((y + padH / 2) * w + padW / 2) * 3, src.width * 3)
            image = RgbImage(w, h, out)
        }
        val top = Math.rint((image.height - size) / 2.0).toInt()
        val left = Math.rint((image.width - size) / 2.0).toInt()
        val out = ByteArray(size * size * 3)
        for (y in 0 until size) System.arraycopy(image.rgb, ((y + top) * image.width + left) * 3, out, y * size * 3, size * 3)
        return RgbImage(size, size, out)
    }

    /** A drawing (dark ink on white) cropped to its ink with a [margin] fraction around it, centred
     *  on a white square: the framing of the handwritten digits the embedded model learned from.
     *  Returns the picture unchanged when it has no ink (no pixel darker than [threshold]). */
    fun fitInk(src: RgbImage, margin: Double, threshold: Int = 128): RgbImage {
        var minX = src.width
        var minY = src.height
        var maxX = -1
        var maxY = -1
        for (y in 0 until src.height) for (x in 0 until src.width) {
            if ((src.at(x, y, 0) + src.at(x, y, 1) + src.at(x, y, 2)) / 3 < threshold) {
                if (x < minX) minX = x
                if (x > maxX) maxX = x
                if (y < minY) minY = y
                if (y > maxY) maxY = y
            }
        }
        if (maxX < 0) return src
        val inkW = maxX - minX + 1
        val inkH = maxY - minY + 1
        val side = Math.max(inkW, inkH) + 2 * Math.ceil(Math.max(inkW, inkH) * margin).toInt()
        val out = ByteArray(side * side * 3) { 255.toByte() }
        val offX = (side - inkW) / 2
        val offY = (side - inkH) / 2
        for (y in 0 until inkH) System.arraycopy(src.rgb, ((y + minY) * src.width + minX) * 3, out, ((y + offY) * side + offX) * 3, inkW * 3)
        return RgbImage(side, side, out)
    }
}

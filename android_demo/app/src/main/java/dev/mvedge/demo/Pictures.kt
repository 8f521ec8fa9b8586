package dev.mvedge.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import androidx.exifinterface.media.ExifInterface
import dev.mvedge.demo.core.RgbImage
import java.io.InputStream

/** Decoding pictures to the RGB the Preprocessor takes: no density scaling, EXIF orientation applied,
 *  translucent pixels composited onto white (as mvedge's Python loader does). */
object Pictures {
    private const val MAX_SIDE = 4096

    fun decode(stream: InputStream, sampleSize: Int = 1): Bitmap {
        val options = BitmapFactory.Options()
        options.inScaled = false
        options.inPreferredConfig = Bitmap.Config.ARGB_8888
        options.inSampleSize = sampleSize
        return BitmapFactory.decodeStream(stream, null, options) ?: throw IllegalArgumentException("not a readable picture")
    }

    /** A gallery or camera picture, upright; very large photos are decoded at a power-of-two fraction. */
    fun fromUri(context: Context, uri: Uri): Bitmap {
        val bounds = BitmapFactory.Options()
        bounds.inJustDecodeBounds = true
        context.contentResolver.openInputStream(uri)!!.use { BitmapFactory.decodeStream(it, null, bounds) }
        var sample = 1
        while (Math.max(bounds.outWidth, bounds.outHeight) / sample > MAX_SIDE) sample *= 2
        val bitmap = context.contentResolver.openInputStream(uri)!!.use { decode(it, sample) }
        val orientation = context.contentResolver.openInputStream(uri)!!.use {
            ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
        }
        val matrix = Matrix()
        when (orientation) {
            ExifInterface.ORIENTATION_ROTATE_90 -> matrix.postRotate(90f)
            ExifInterface.ORIENTATION_ROTATE_180 -> matrix.postRotate(180f)
            ExifInterface.ORIENTATION_ROTATE_270 -> matrix.postRotate(270f)
            ExifInterface.ORIENTATION_FLIP_HORIZONTAL -> matrix.postScale(-1f, 1f)
            ExifInterface.ORIENTATION_FLIP_VERTICAL -> matrix.postScale(1f, -1f)
            ExifInterface.ORIENTATION_TRANSPOSE -> { matrix.postRotate(90f); matrix.postScale(-1f, 1f) }
            ExifInterface.ORIENTATION_TRANSVERSE -> { matrix.postRotate(270f); matrix.postScale(-1f, 1f) }
            else -> return bitmap
        }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, false)
    }

    fun toRgb(bitmap: Bitmap): RgbImage {
        val argb = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(argb, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        return RgbImage.fromArgb(bitmap.width, bitmap.height, argb)
    }

    fun toBitmap(image: RgbImage): Bitmap {
        val argb = IntArray(image.width * image.height) {
            (0xFF shl 24) or (image.at(it % image.width, it / image.width, 0) shl 16) or
                (image.at(it % image.width, it / image.width, 1) shl 8) or image.at(it % image.width, it / image.width, 2)
        }
        return Bitmap.createBitmap(argb, image.width, image.height, Bitmap.Config.ARGB_8888)
    }
}

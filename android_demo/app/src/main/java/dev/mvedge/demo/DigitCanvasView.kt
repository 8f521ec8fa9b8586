package dev.mvedge.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Path
import android.util.AttributeSet
import android.view.MotionEvent
import android.view.View

/** A square to draw a digit on with a finger: dark ink on white, like the digits the embedded model
 *  was trained on. [picture] returns what was drawn at the view's size. */
class DigitCanvasView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private val paths = ArrayList<Path>()
    private var current: Path? = null
    private val ink = Paint().apply {
        color = Color.BLACK
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
        isAntiAlias = true
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) {
        ink.strokeWidth = Math.min(w, h) / 12f
    }

    override fun onDraw(canvas: Canvas) {
        canvas.drawColor(Color.WHITE)
        for (p in paths) canvas.drawPath(p, ink)
    }

    override fun onTouchEvent(event: MotionEvent): Boolean {
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> {
                val p = Path()
                p.moveTo(event.x, event.y)
                paths.add(p)
                current = p
            }
            MotionEvent.ACTION_MOVE -> current?.lineTo(event.x, event.y)
            MotionEvent.ACTION_UP -> {
                current?.lineTo(event.x, event.y)
                current = null
                performClick()
            }
        }
        invalidate()
        return true
    }

    override fun performClick(): Boolean = super.performClick()

    fun clear() {
        paths.clear()
        invalidate()
    }

    val isEmpty: Boolean get() = paths.isEmpty()

    fun picture(): Bitmap {
        val bitmap = Bitmap.createBitmap(Math.max(width, 1), Math.max(height, 1), Bitmap.Config.ARGB_8888)
        val canvas = Canvas(bitmap)
        canvas.drawColor(Color.WHITE)
        for (p in paths) canvas.drawPath(p, ink)
        return bitmap
    }
}

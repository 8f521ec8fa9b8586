package dev.mvedge.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.net.Uri
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.os.SystemClock
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.core.content.ContextCompat
import androidx.core.content.FileProvider
import dev.mvedge.demo.core.ImageOps
import dev.mvedge.demo.core.LatencyWindow
import dev.mvedge.demo.core.ModelInput
import dev.mvedge.demo.core.Preprocessor
import dev.mvedge.demo.core.RgbImage
import dev.mvedge.demo.core.Scores
import dev.mvedge.demo.core.Sidecar
import java.io.File
import java.util.concurrent.Executors

/** Pick a model and a picture (gallery, camera, bundled sample, or a digit drawn on the canvas), see
 *  the top-5 classes with their scores and the latency of the last run and the median of the last N. */
class MainActivity : AppCompatActivity() {
    private val worker = Executors.newSingleThreadExecutor()
    private val ui = Handler(Looper.getMainLooper())
    private lateinit var store: ModelStore
    private lateinit var preview: ImageView
    private lateinit var canvas: DigitCanvasView
    private lateinit var results: TextView
    private lateinit var latency: TextView
    private lateinit var runsInput: EditText
    private lateinit var threadsInput: EditText

    // touched only on the worker thread
    private var classifier: Classifier? = null
    private var sidecar: Sidecar? = null
    private var lastInput: ModelInput? = null
    private val window = LatencyWindow(WINDOW)

    private var sampleIndex = 0
    private var cameraUri: Uri? = null

    private val pickImage = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) classifyUri(uri)
    }
    private val takePicture = registerForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        val uri = cameraUri
        if (saved && uri != null) classifyUri(uri)
    }
    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) launchCamera() else results.text = "Camera permission denied."
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        store = ModelStore(this)
        preview = findViewById(R.id.preview)
        canvas = findViewById(R.id.canvas)
        results = findViewById(R.id.results)
        latency = findViewById(R.id.latency)
        runsInput = findViewById(R.id.runs_input)
        threadsInput = findViewById(R.id.threads_input)
        val spinner = findViewById<Spinner>(R.id.model_spinner)
        if (store.models.isEmpty()) {
            results.text = getString(R.string.no_models)
            return
        }
        spinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, store.models)
        spinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) = load(store.models[position])
            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        findViewById<Button>(R.id.gallery_button).setOnClickListener {
            pickImage.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.camera_button).setOnClickListener {
            if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) launchCamera()
            else cameraPermission.launch(Manifest.permission.CAMERA)
        }
        findViewById<Button>(R.id.sample_button).setOnClickListener { nextSample() }
        findViewById<Button>(R.id.draw_button).setOnClickListener { toggleCanvas() }
        findViewById<Button>(R.id.clear_button).setOnClickListener { canvas.clear() }
        findViewById<Button>(R.id.classify_drawing_button).setOnClickListener {
            if (!canvas.isEmpty) {
                // frame the ink like the training digits: cropped to the drawing with a margin, square
                val drawn = ImageOps.fitInk(Pictures.toRgb(canvas.picture()), 0.15)
                classify(drawn, Pictures.toBitmap(drawn))
            }
        }
        findViewById<Button>(R.id.run_n_button).setOnClickListener { runRepeatedly() }
    }

    private fun threads(): Int? = threadsInput.text.toString().toIntOrNull()?.takeIf { it > 0 }

    private fun load(model: BundledModel) {
        results.text = "Loading ${model.file} ..."
        val threads = threads()
        worker.execute {
            val message = try {
                classifier?.close()
                classifier = null
                val s = store.sidecar(model)
                val start = SystemClock.elapsedRealtimeNanos()
                classifier = Classifier.open(store.file(model), s, threads)
                sidecar = s
                lastInput = null
                window.clear()
                "Loaded ${model.file} in ${"%.0f".format((SystemClock.elapsedRealtimeNanos() - start) / 1e6)} ms " +
                    "(${s.input.layout} ${s.input.dtype} ${s.input.side}x${s.input.side}, ${classifier!!.runtime}, ${classifier!!.delegate}, " +
                    "threads ${threads ?: "default"}). Pick a picture."
            } catch (e: Exception) {
                "Could not load ${model.file}: ${e.message}"
            }
            val digits = model.digitCanvas
            ui.post {
                results.text = message
                findViewById<Button>(R.id.draw_button).isEnabled = digits
                if (!digits) showCanvas(false)
            }
        }
    }

    private fun launchCamera() {
        val dir = File(cacheDir, "camera").apply { mkdirs() }
        val uri = FileProvider.getUriForFile(this, "$packageName.fileprovider", File(dir, "picture.jpg"))
        cameraUri = uri
        takePicture.launch(uri)
    }

    private fun nextSample() {
        if (store.samples.isEmpty()) return
        val sample = store.samples[sampleIndex % store.samples.size]
        sampleIndex++
        val bitmap = store.openSample(sample).use { Pictures.decode(it) }
        showCanvas(false)
        classify(Pictures.toRgb(bitmap), bitmap, sample.label?.let { "sample ${sample.file}, shows $it" })
    }

    private fun classifyUri(uri: Uri) {
        showCanvas(false)
        val bitmap = try {
            Pictures.fromUri(this, uri)
        } catch (e: Exception) {
            results.text = "Cannot read that picture: ${e.message}"
            return
        }
        classify(Pictures.toRgb(bitmap), bitmap)
    }

    private fun toggleCanvas() = showCanvas(canvas.visibility != View.VISIBLE)

    private fun showCanvas(show: Boolean) {
        canvas.visibility = if (show) View.VISIBLE else View.GONE
        findViewById<View>(R.id.canvas_buttons).visibility = canvas.visibility
        preview.visibility = if (show) View.GONE else View.VISIBLE
    }

    private fun classify(image: RgbImage, shown: Bitmap, note: String? = null) {
        preview.setImageBitmap(if (shown.width < 64) Bitmap.createScaledBitmap(shown, shown.width * 16, shown.height * 16, false) else shown)
        worker.execute {
            val c = classifier
            val s = sidecar
            if (c == null || s == null) {
                ui.post { results.text = "No model loaded." }
                return@execute
            }
            val text = try {
                val input = Preprocessor(s.preprocessing, s.input).build(image)
                lastInput = input
                val start = SystemClock.elapsedRealtimeNanos()
                val logits = c.run(input)
                val ms = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
                window.add(ms)
                describe(logits, s, note)
            } catch (e: Exception) {
                "Failed: ${e.message}"
            }
            ui.post {
                results.text = text
                latency.text = latencyText()
            }
        }
    }

    private fun runRepeatedly() {
        val n = runsInput.text.toString().toIntOrNull()?.takeIf { it > 0 } ?: return
        worker.execute {
            val c = classifier
            val input = lastInput
            if (c == null || input == null) {
                ui.post { results.text = "Classify a picture first." }
                return@execute
            }
            for (i in 0 until n) {
                val start = SystemClock.elapsedRealtimeNanos()
                c.run(input)
                window.add((SystemClock.elapsedRealtimeNanos() - start) / 1e6)
            }
            ui.post { latency.text = latencyText() }
        }
    }

    private fun latencyText(): String {
        val stats = window.stats() ?: return ""
        return "last run %.2f ms   median of %d: %.2f ms   (min %.2f, p90 %.2f)".format(stats.last, stats.samples.size, stats.median, stats.min, stats.p90)
    }

    private fun describe(logits: FloatArray, s: Sidecar, note: String?): String {
        val top = Scores.topK(Scores.softmax(logits), 5) { s.label(it) }
        val lines = top.joinToString("\n") { "%-12s %6.2f%%".format(it.label, it.score * 100) }
        return (if (note != null) "$note\n" else "") + lines
    }

    override fun onDestroy() {
        worker.execute { classifier?.close(); classifier = null }
        worker.shutdown()
        super.onDestroy()
    }

    companion object {
        const val WINDOW = 50
    }
}

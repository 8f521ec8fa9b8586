package dev.mvedge.demo

import dev.mvedge.demo.core.ModelInput
import dev.mvedge.demo.core.Sidecar
import java.io.File

/** A loaded model in one runtime: the input the Preprocessor built in, logits out. */
interface Classifier : AutoCloseable {
    /** "litert" or "executorch" (the names of the profile schema). */
    val runtime: String

    /** What executes the graph, e.g. "XNNPACK". */
    val delegate: String

    /** Logits (float) for one input. */
    fun run(input: ModelInput): FloatArray

    companion object {
        /** Opens [file] in the runtime its suffix calls for; [threads] null: the runtime's default. */
        fun open(file: File, sidecar: Sidecar, threads: Int?): Classifier = when {
            file.name.endsWith(".tflite") -> LiteRtClassifier(file, sidecar, threads)
            file.name.endsWith(".pte") -> ExecuTorchClassifier(file, sidecar, threads)
            else -> throw IllegalArgumentException("${file.name}: the app runs .tflite (LiteRT) and .pte (ExecuTorch) files")
        }
    }
}

package dev.mvedge.demo

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import dev.mvedge.demo.core.ModelInput
import dev.mvedge.demo.core.Sidecar
import java.io.File

/** A .tflite in LiteRT's CompiledModel API on the CPU accelerator (XNNPACK). Integer inputs and
 *  outputs use the scale / zero point of the sidecar (written from the model's own tensors). */
class LiteRtClassifier(file: File, private val sidecar: Sidecar, threads: Int?) : Classifier {
    override val runtime = "litert"
    override val delegate = "XNNPACK"

    private val model: CompiledModel
    private val inputs: List<TensorBuffer>
    private val outputs: List<TensorBuffer>

    init {
        val options = CompiledModel.Options(Accelerator.CPU)
        if (threads != null) options.cpuOptions = CompiledModel.CpuOptions(numThreads = threads)
        model = CompiledModel.create(file.absolutePath, options)
        inputs = model.createInputBuffers()
        outputs = model.createOutputBuffers()
    }

    override fun run(input: ModelInput): FloatArray {
        val quantized = input.quantized
        if (quantized != null) inputs[0].writeInt8(quantized) else inputs[0].writeFloat(input.tensor)
        model.run(inputs, outputs)
        val scale = sidecar.outputScale
        if (scale == null) return outputs[0].readFloat()
        val zero = sidecar.outputZeroPoint ?: 0
        val raw = outputs[0].readInt8()
        val unsigned = sidecar.input.dtype == "uint8"
        return FloatArray(raw.size) { ((if (unsigned) raw[it].toInt() and 0xFF else raw[it].toInt()) - zero) * scale }
    }

    override fun close() {
        inputs.forEach { it.close() }
        outputs.forEach { it.close() }
        model.close()
    }
}

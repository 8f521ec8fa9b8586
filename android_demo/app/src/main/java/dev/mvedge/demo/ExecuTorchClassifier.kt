package dev.mvedge.demo

import dev.mvedge.demo.core.ModelInput
import dev.mvedge.demo.core.Sidecar
import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor

/** A .pte in the ExecuTorch runtime; mvedge lowers it to XNNPACK (the sidecar's conversion.backend). */
class ExecuTorchClassifier(file: File, private val sidecar: Sidecar, threads: Int?) : Classifier {
    override val runtime = "executorch"
    override val delegate: String = when (val b = sidecar.backend) {
        null -> "unknown"
        else -> if (b.equals("xnnpack", ignoreCase = true)) "XNNPACK" else b
    }

    private val module: Module = Module.load(file.absolutePath, Module.LOAD_MODE_MMAP, threads ?: 0)
    private val shape = LongArray(sidecar.input.shape.size) { sidecar.input.shape[it].toLong() }

    init {
        val status = module.loadMethod("forward")
        check(status == 0) { "ExecuTorch could not load forward() of ${file.name} (error 0x${Integer.toHexString(status)})" }
    }

    override fun run(input: ModelInput): FloatArray {
        val outputs = module.forward(EValue.from(Tensor.fromBlob(input.tensor, shape)))
        check(outputs.isNotEmpty()) { "forward() returned nothing" }
        return outputs[0].toTensor().dataAsFloatArray
    }

    override fun close() {
        module.destroy()
    }
}

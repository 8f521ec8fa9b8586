package dev.mvedge.demo.core

import java.io.File
import javax.imageio.ImageIO
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test

/**
 * The app's preprocessing against `mvedge bundle`'s contract vectors, on the host JVM (no model run:
 * that is the instrumented test's job). Reads the contract from -Dmvedge.contract=DIR, else from
 * src/androidTest/assets/contract (Gradle runs unit tests in the module folder); skipped when absent.
 * Also checks the resize against Pillow outputs when -Dmvedge.resizeCases=DIR is given.
 */
class ContractVectorsTest {
    private fun contractDir(): File = File(System.getProperty("mvedge.contract") ?: "src/androidTest/assets/contract")

    private fun decode(file: File): RgbImage {
        val image = ImageIO.read(file) ?: throw IllegalArgumentException("cannot decode $file")
        val argb = image.getRGB(0, 0, image.width, image.height, null, 0, image.width)
        return RgbImage.fromArgb(image.width, image.height, argb)
    }

    @Test fun preprocessingReproducesTheContractInputs() {
        val dir = contractDir()
        assumeTrue("no contract vectors at $dir (run mvedge bundle --app android first)", File(dir, "contract.json").isFile)
        val contract = Contract.parse(File(dir, "contract.json").readText())
        assertTrue("the contract lists no artifact", contract.artifacts.isNotEmpty())
        var checked = 0
        for (artifact in contract.artifacts) {
            val preprocessor = Preprocessor(artifact.preprocessing, artifact.input)
            for (case in artifact.cases) {
                val built = preprocessor.build(decode(File(dir, contract.images.getValue(case.image))))
                val where = "${artifact.file} / ${case.image}"
                assertArrayEquals("$where: pixels", File(dir, case.pixels).readBytes(), built.pixels.rgb)
                val expected = Contract.floats(File(dir, case.input).readBytes())
                assertEquals("$where: input length", artifact.input.elementCount, expected.size)
                val diff = Contract.maxAbsDiff(expected, built.tensor)
                assertTrue("$where: input differs by $diff", diff <= artifact.inputAbs)
                if (case.inputQuantized != null) assertArrayEquals("$where: quantized input", File(dir, case.inputQuantized).readBytes(), built.quantized)
                val logits = Contract.floats(File(dir, case.logits).readBytes())
                assertEquals(artifact.numOutputs, logits.size)
                assertTrue("$where: stored logits disagree with the stored top-5", Scores.compare(logits, case.top, logits, 0.0, 1e-9).isEmpty())
                checked++
            }
        }
        println("contract: $checked cases reproduced")
    }

    /** Cases written by tests/apps (Python): <name>.json {w, h, out_w, out_h, filter}, <name>.in, <name>.out (RGB bytes). */
    @Test fun resizeMatchesPillow() {
        val dir = File(System.getProperty("mvedge.resizeCases") ?: "")
        assumeTrue("no -Dmvedge.resizeCases", dir.isDirectory)
        val metas = dir.listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
        assertTrue(metas.isNotEmpty())
        for (meta in metas) {
            val m = org.json.JSONObject(meta.readText())
            val base = meta.name.removeSuffix(".json")
            val src = RgbImage(m.getInt("w"), m.getInt("h"), File(dir, "$base.in").readBytes())
            val out = ImageOps.resize(src, m.getInt("out_w"), m.getInt("out_h"), m.getString("filter"))
            assertArrayEquals("resize case $base", File(dir, "$base.out").readBytes(), out.rgb)
        }
        println("resize: ${metas.size} cases equal to Pillow")
    }
}

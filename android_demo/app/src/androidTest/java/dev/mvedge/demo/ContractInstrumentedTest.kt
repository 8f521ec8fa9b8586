package dev.mvedge.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.mvedge.demo.core.Contract
import dev.mvedge.demo.core.Preprocessor
import dev.mvedge.demo.core.Scores
import java.security.MessageDigest
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import org.junit.runner.RunWith

/**
 * On the device or emulator: every artifact bundled by `mvedge bundle --app android` reproduces the
 * contract vectors mvedge wrote for it. For each contract image the app decodes the PNG, builds the
 * input from the sidecar (pixels must be equal, the tensor within input_abs), runs it in LiteRT or
 * ExecuTorch and compares the logits and top-5 with what the artifact gave in mvedge (the rule in
 * contract.json). Run: ./gradlew connectedDebugAndroidTest
 */
@RunWith(AndroidJUnit4::class)
class ContractInstrumentedTest {
    private val testAssets = InstrumentationRegistry.getInstrumentation().context.assets
    private val app = InstrumentationRegistry.getInstrumentation().targetContext

    private fun bytes(path: String) = testAssets.open("contract/$path").use { it.readBytes() }

    @Test
    fun bundledArtifactsReproduceTheirContract() {
        val names = testAssets.list("contract") ?: emptyArray()
        assumeTrue("no contract vectors (run mvedge bundle --app android)", names.contains("contract.json"))
        val contract = Contract.parse(String(bytes("contract.json")))
        val store = ModelStore(app)
        val problems = ArrayList<String>()
        var cases = 0
        for (artifact in contract.artifacts) {
            val model = store.models.firstOrNull { it.file == artifact.file }
            if (model == null) {
                problems.add("${artifact.file}: in the contract but not bundled in the app")
                continue
            }
            val file = store.file(model)
            val digest = MessageDigest.getInstance("SHA-256").digest(file.readBytes()).joinToString("") { "%02x".format(it) }
            if (digest != artifact.sha256) problems.add("${artifact.file}: the bundled file is not the one the contract was written for")
            val sidecar = store.sidecar(model)
            val preprocessor = Preprocessor(sidecar.preprocessing, sidecar.input)
            Classifier.open(file, sidecar, null).use { classifier ->
                for (case in artifact.cases) {
                    val where = "${artifact.file} / ${case.image}"
                    val picture = testAssets.open("contract/${contract.images.getValue(case.image)}").use { Pictures.toRgb(Pictures.decode(it)) }
                    val input = preprocessor.build(picture)
                    if (!bytes(case.pixels).contentEquals(input.pixels.rgb)) problems.add("$where: pixels differ from mvedge's")
                    val diff = Contract.maxAbsDiff(Contract.floats(bytes(case.input)), input.tensor)
                    if (!(diff <= artifact.inputAbs)) problems.add("$where: input differs by $diff")
                    val q = case.inputQuantized
                    val built = input.quantized
                    if (q != null && (built == null || !bytes(q).contentEquals(built))) problems.add("$where: quantized input differs")
                    val logits = classifier.run(input)
                    problems += Scores.compare(Contract.floats(bytes(case.logits)), case.top, logits, artifact.logitsAbs, artifact.scoreAbs).map { "$where: $it" }
                    cases++
                }
            }
        }
        assertTrue("contract not reproduced:\n" + problems.joinToString("\n"), problems.isEmpty())
        assertTrue("the contract has no case", cases > 0)
    }
}

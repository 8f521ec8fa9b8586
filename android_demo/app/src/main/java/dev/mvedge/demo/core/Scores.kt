package dev.mvedge.demo.core

/** One row of the top-5 list. */
class Prediction(val index: Int, val label: String, val score: Double)

/** Softmax, top-k and the contract's comparison rule (the same as mvedge/apps/contract.py). */
object Scores {
    /** Softmax in double precision (the scores the app shows and the contract stores). */
    fun softmax(logits: FloatArray): DoubleArray {
        require(logits.isNotEmpty()) { "no outputs" }
        var max = logits[0].toDouble()
        for (v in logits) if (v > max) max = v.toDouble()
        val e = DoubleArray(logits.size) { Math.exp(logits[it].toDouble() - max) }
        var sum = 0.0
        for (v in e) sum += v
        return DoubleArray(e.size) { e[it] / sum }
    }

    /** The [k] best classes, best first; ties go to the lower class index. */
    fun topK(scores: DoubleArray, k: Int, label: (Int) -> String): List<Prediction> {
        val order = scores.indices.sortedWith(Comparator { a, b ->
            val byScore = scores[b].compareTo(scores[a])
            if (byScore != 0) byScore else a.compareTo(b)
        })
        return order.take(Math.min(k, scores.size)).map { Prediction(it, label(it), scores[it]) }
    }

    /** Problems of [logits] against the expected logits and top-k (empty: within the contract):
     *  logits within logitsAbs * max(1, max|expected|); each expected class's score within scoreAbs;
     *  the same top-1 unless the expected top-1 and top-2 are closer than 2 * scoreAbs. */
    fun compare(expectedLogits: FloatArray, expectedTop: List<Prediction>, logits: FloatArray, logitsAbs: Double, scoreAbs: Double): List<String> {
        if (logits.size != expectedLogits.size) return listOf("${logits.size} outputs, expected ${expectedLogits.size}")
        val problems = ArrayList<String>()
        var maxAbs = 1.0
        var diff = 0.0
        for (i in logits.indices) {
            maxAbs = Math.max(maxAbs, Math.abs(expectedLogits[i].toDouble()))
            diff = Math.max(diff, Math.abs(logits[i].toDouble() - expectedLogits[i].toDouble()))
        }
        if (!(diff <= logitsAbs * maxAbs)) problems.add("logits differ by $diff (allowed ${logitsAbs * maxAbs})")
        val scores = softmax(logits)
        for (p in expectedTop) {
            val got = scores[p.index]
            if (!(Math.abs(got - p.score) <= scoreAbs)) problems.add("class ${p.index} score $got, expected ${p.score} (+-$scoreAbs)")
        }
        if (expectedTop.isNotEmpty()) {
            val best = topK(scores, 1) { "" }[0].index
            val gap = if (expectedTop.size > 1) expectedTop[0].score - expectedTop[1].score else Double.POSITIVE_INFINITY
            if (best != expectedTop[0].index && gap >= 2 * scoreAbs) problems.add("top-1 is class $best, expected class ${expectedTop[0].index}")
        }
        return problems
    }
}

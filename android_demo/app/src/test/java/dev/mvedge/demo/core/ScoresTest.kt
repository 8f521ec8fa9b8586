package dev.mvedge.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class ScoresTest {
    @Test fun softmaxIsAProbabilityVector() {
        val s = Scores.softmax(floatArrayOf(1f, 2f, 3f, 1000f))
        var sum = 0.0
        for (v in s) sum += v
        assertEquals(1.0, sum, 1e-12)
        assertEquals(1.0, s[3], 1e-12)
        val t = Scores.softmax(floatArrayOf(0f, Math.log(3.0).toFloat()))
        assertEquals(0.25, t[0], 1e-7)
    }

    @Test fun topKIsOrderedAndTiesGoToTheLowerIndex() {
        val top = Scores.topK(doubleArrayOf(0.1, 0.3, 0.3, 0.05, 0.2, 0.05), 5) { "c$it" }
        assertEquals(listOf(1, 2, 4, 0, 3), top.map { it.index })
        assertEquals("c4", top[2].label)
        assertEquals(2, Scores.topK(doubleArrayOf(0.4, 0.6), 5) { "" }.size)
    }

    @Test fun compareFollowsTheContractRule() {
        val expected = floatArrayOf(4f, 1f, 0f, -1f)
        val top = Scores.topK(Scores.softmax(expected), 4) { "" }
        assertTrue(Scores.compare(expected, top, floatArrayOf(4.0005f, 1f, 0f, -1f), 1e-3, 1e-3).isEmpty())
        val shifted = Scores.compare(expected, top, floatArrayOf(4.2f, 1f, 0f, -1f), 1e-3, 1e-3)
        assertTrue(shifted.toString(), shifted.any { it.startsWith("logits differ") })
        val swapped = Scores.compare(expected, top, floatArrayOf(1f, 4f, 0f, -1f), 10.0, 1e-3)
        assertTrue(swapped.toString(), swapped.any { it.startsWith("top-1 is class 1") })
        assertTrue(Scores.compare(expected, top, floatArrayOf(1f, 2f), 1.0, 1.0)[0].contains("outputs"))
        // a near tie may swap: expected top-1/top-2 gap below 2 x score tolerance
        val tie = floatArrayOf(1.0f, 0.999f)
        val tieTop = Scores.topK(Scores.softmax(tie), 2) { "" }
        assertTrue(Scores.compare(tie, tieTop, floatArrayOf(0.999f, 1.0f), 1e-2, 1e-3).isEmpty())
    }
}

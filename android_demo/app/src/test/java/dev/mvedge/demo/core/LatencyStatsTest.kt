package dev.mvedge.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class LatencyStatsTest {
    @Test fun nearestRankPercentiles() {
        val stats = LatencyStats(listOf(5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 9.0, 8.0, 7.0, 6.0))
        assertEquals(5.0, stats.p50, 0.0)   // ceil(0.5 * 10) = 5th smallest
        assertEquals(9.0, stats.p90, 0.0)   // ceil(0.9 * 10) = 9th smallest
        assertEquals(1.0, stats.min, 0.0)
        assertEquals(5.5, stats.mean, 1e-12)
        assertEquals(6.0, stats.last, 0.0)
        val odd = LatencyStats(listOf(3.0, 1.0, 2.0))
        assertEquals(2.0, odd.median, 0.0)
        assertEquals(3.0, odd.p90, 0.0)
        assertEquals(7.0, LatencyStats(listOf(7.0)).p90, 0.0)
    }

    @Test(expected = IllegalArgumentException::class)
    fun noSamplesIsAnError() {
        LatencyStats(emptyList())
    }

    @Test fun windowKeepsTheLastN() {
        val window = LatencyWindow(3)
        assertNull(window.stats())
        for (v in listOf(100.0, 1.0, 2.0, 3.0)) window.add(v)
        assertEquals(3, window.size)
        assertEquals(2.0, window.stats()!!.median, 0.0)
        assertEquals(1.0, window.stats()!!.min, 0.0)
    }

    @Test fun measureTimesEachRunAfterTheWarmup() {
        var clock = 0L
        var calls = 0
        val stats = BenchmarkResult.measure(2, 3, { clock }) { calls++; clock += 1_000_000L * calls }
        assertEquals(5, calls)
        assertEquals(listOf(3.0, 4.0, 5.0), stats.samples)
    }
}

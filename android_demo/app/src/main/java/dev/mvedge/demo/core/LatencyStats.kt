package dev.mvedge.demo.core

/** Latency samples (ms) and the statistics the app shows and the benchmark reports: nearest-rank
 *  percentiles on the sorted samples (p = sorted[ceil(q / 100 * n) - 1]), min, mean. */
class LatencyStats(samples: List<Double>) {
    val samples: List<Double> = ArrayList(samples)
    private val sorted: List<Double> = samples.sorted()

    init {
        require(samples.isNotEmpty()) { "no latency samples" }
        for (s in samples) require(!s.isNaN() && s >= 0.0) { "latency samples must be non-negative numbers" }
    }

    fun percentile(q: Double): Double {
        require(q > 0.0 && q <= 100.0) { "percentile must be in (0, 100], got $q" }
        val rank = Math.ceil(q / 100.0 * sorted.size).toInt()
        return sorted[Math.max(rank, 1) - 1]
    }

    val p50: Double get() = percentile(50.0)
    val p90: Double get() = percentile(90.0)
    val median: Double get() = p50
    val min: Double get() = sorted[0]
    val mean: Double get() { var s = 0.0; for (v in samples) s += v; return s / samples.size }
    val last: Double get() = samples[samples.size - 1]
}

/** The last [capacity] latencies of the interactive screen ("last run" and "median of N"). */
class LatencyWindow(private val capacity: Int) {
    private val values = ArrayList<Double>()

    init { require(capacity > 0) { "capacity must be positive" } }

    fun add(ms: Double) {
        values.add(ms)
        if (values.size > capacity) values.removeAt(0)
    }

    fun clear() {
        values.clear()
    }

    fun stats(): LatencyStats? = if (values.isEmpty()) null else LatencyStats(values)
    val size: Int get() = values.size
}

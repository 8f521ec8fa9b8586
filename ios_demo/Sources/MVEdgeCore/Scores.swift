import Foundation

/// One row of the top-5 list.
public struct Prediction: Equatable {
    public let index: Int
    public let label: String
    public let score: Double
    public init(index: Int, label: String, score: Double) {
        self.index = index
        self.label = label
        self.score = score
    }
}

/// Softmax, top-k and the contract's comparison rule (the same as mvedge/apps/contract.py).
public enum Scores {
    public static func softmax(_ logits: [Float]) -> [Double] {
        precondition(!logits.isEmpty, "no outputs")
        let m = Double(logits.max()!)
        let e = logits.map { Foundation.exp(Double($0) - m) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The k best classes, best first; ties go to the lower class index.
    public static func topK(_ scores: [Double], _ k: Int, label: (Int) -> String) -> [Prediction] {
        let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
        return order.prefix(min(k, scores.count)).map { Prediction(index: $0, label: label($0), score: scores[$0]) }
    }

    /// Problems of `logits` against the expected ones (empty: within the contract): logits within
    /// logitsAbs * max(1, max|expected|); every expected class's score within scoreAbs; the same top-1
    /// unless the expected top-1 and top-2 are closer than 2 * scoreAbs.
    public static func compare(expected: [Float], expectedTop: [Prediction], logits: [Float], logitsAbs: Double, scoreAbs: Double) -> [String] {
        guard logits.count == expected.count else { return ["\(logits.count) outputs, expected \(expected.count)"] }
        var problems: [String] = []
        var maxAbs = 1.0, diff = 0.0
        for i in logits.indices {
            maxAbs = max(maxAbs, abs(Double(expected[i])))
            diff = max(diff, abs(Double(logits[i]) - Double(expected[i])))
        }
        if !(diff <= logitsAbs * maxAbs) { problems.append("logits differ by \(diff) (allowed \(logitsAbs * maxAbs))") }
        let scores = softmax(logits)
        for p in expectedTop where !(abs(scores[p.index] - p.score) <= scoreAbs) {
            problems.append("class \(p.index) score \(scores[p.index]), expected \(p.score) (+-\(scoreAbs))")
        }
        if let first = expectedTop.first {
            let best = topK(scores, 1, label: { _ in "" })[0].index
            let gap = expectedTop.count > 1 ? first.score - expectedTop[1].score : Double.infinity
            if best != first.index && gap >= 2 * scoreAbs { problems.append("top-1 is class \(best), expected class \(first.index)") }
        }
        return problems
    }
}

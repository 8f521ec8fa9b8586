import CoreML
import MVEdgeCore
import XCTest
@testable import MVEdgeDemo

/// On a simulator or device: every .mlpackage bundled by `mvedge bundle --app ios` reproduces the
/// contract vectors mvedge wrote for it (MVEdgeDemoTests/Contract, a folder reference in the test
/// bundle). For each contract image the app decodes the PNG, builds the pixels from the sidecar
/// (must equal mvedge's), the normalised tensor (within input_abs), runs Core ML and compares logits
/// and top-5 with the rule in contract.json. Run: xcodebuild test -scheme MVEdgeDemo -destination ...
final class ContractTests: XCTestCase {
    func contractFolder() throws -> URL {
        guard let url = Bundle(for: ContractTests.self).url(forResource: "Contract", withExtension: nil),
              FileManager.default.fileExists(atPath: url.appendingPathComponent("contract.json").path) else {
            throw XCTSkip("no contract vectors in the test bundle (run mvedge bundle --app ios, then xcodegen generate)")
        }
        return url
    }

    func testBundledModelsReproduceTheirContract() throws {
        let folder = try contractFolder()
        let contract = try Contract.parse(Data(contentsOf: folder.appendingPathComponent("contract.json")))
        let store = ModelStore(bundle: .main)
        var problems: [String] = []
        var cases = 0
        for artifact in contract.artifacts {
            guard let model = store.models.first(where: { $0.file == artifact.file }) else {
                problems.append("\(artifact.file): in the contract but not bundled in the app")
                continue
            }
            let sidecar = try store.sidecar(model)
            if let sha = sidecar.sha256, sha != artifact.sha256 { problems.append("\(artifact.file): the bundled sidecar is for another file than the contract") }
            // CPU only: the closest to the reference semantics mvedge computed the expectations with
            let classifier = try CoreMLClassifier(url: store.compiledURL(model), sidecar: sidecar, computeUnits: "cpuOnly")
            let preprocessor = Preprocessor(sidecar.preprocessing, sidecar.input)
            for c in artifact.cases {
                let where_ = "\(artifact.file) / \(c.image)"
                guard let file = contract.images[c.image] else { problems.append("\(where_): image missing"); continue }
                let input = preprocessor.build(try ImageConversion.rgb(contentsOf: folder.appendingPathComponent(file)))
                let pixels = [UInt8](try Data(contentsOf: folder.appendingPathComponent(c.pixels)))
                if pixels != input.pixels.rgb { problems.append("\(where_): pixels differ from mvedge's") }
                let diff = Contract.maxAbsDiff(Contract.floats(try Data(contentsOf: folder.appendingPathComponent(c.input))), input.tensor)
                if !(diff <= artifact.inputAbs) { problems.append("\(where_): input differs by \(diff)") }
                let logits = try classifier.run(input)
                let expected = Contract.floats(try Data(contentsOf: folder.appendingPathComponent(c.logits)))
                problems += Scores.compare(expected: expected, expectedTop: c.top, logits: logits, logitsAbs: artifact.logitsAbs, scoreAbs: artifact.scoreAbs).map { "\(where_): \($0)" }
                cases += 1
            }
        }
        XCTAssertTrue(problems.isEmpty, "contract not reproduced:\n" + problems.joined(separator: "\n"))
        XCTAssertGreaterThan(cases, 0)
    }
}

import Foundation
import XCTest
@testable import MVEdgeCore

final class SidecarTests: XCTestCase {
    func sidecar(target: String = "coreml", input: String = #"{"name": "image", "shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "uint8"}"#,
                 pre: String = #"{"input_size": 128, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.25, 0.5], "interpolation": "bilinear", "crop_pct": 1.0, "crop_mode": "squash", "channels": "RGB"}"#) -> Data {
        Data(#"{"model": "mambavision-digits", "source": "embedded", "target": "\#(target)", "precision": "fp16", "config": {"num_classes": 10}, "conversion": {"input_kind": "image"}, "input": \#(input), "preprocessing": \#(pre), "labels": ["0","1","2","3","4","5","6","7","8","9"]}"#.utf8)
    }

    func testParsesWhatTheAppNeeds() throws {
        let s = try Sidecar.parse(sidecar())
        XCTAssertEqual(s.preprocessing.inputSize, 128)
        XCTAssertEqual(s.preprocessing.std[1], 0.25)
        XCTAssertTrue(s.input.imageInput)
        XCTAssertEqual(s.input.side, 128)
        XCTAssertEqual(s.label(3), "3")
        XCTAssertEqual(s.label(42), "#42")
        XCTAssertTrue(s.isDigitsModel)
    }

    func testRebuildsASidecarFromCoreMLMetadata() throws {
        let meta = ["mvedge.preprocessing": #"{"input_size": 128, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bilinear", "crop_pct": 1.0, "crop_mode": "squash", "channels": "RGB"}"#,
                    "mvedge.config": #"{"in_channels": 3, "num_classes": 10}"#, "mvedge.labels": #"["0","1","2","3","4","5","6","7","8","9"]"#,
                    "mvedge.input_kind": "image", "mvedge.precision": "fp16", "mvedge.source": "embedded"]
        let s = try Sidecar.fromCoreMLMetadata(meta, inputName: "image")
        XCTAssertEqual(s.input.shape, [1, 3, 128, 128])
        XCTAssertTrue(s.input.imageInput)
        XCTAssertEqual(s.labels.count, 10)
        XCTAssertEqual(s.precision, "fp16")
        XCTAssertThrowsError(try Sidecar.fromCoreMLMetadata([:], inputName: "image"))
    }

    func testReadsAnImageInputAsWrittenNowAndBefore() throws {
        for dtype in ["image", "uint8"] {
            let s = try Sidecar.parse(sidecar(input: #"{"name": "image", "shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": ""# + dtype + #"", "color_layout": "RGB", "dynamic_batch": false}"#))
            XCTAssertTrue(s.input.imageInput)
        }
    }

    func testRefusesWhatItCannotFeed() {
        XCTAssertThrowsError(try Sidecar.parse(Data("nope".utf8)))
        XCTAssertThrowsError(try Sidecar.parse(sidecar(input: #"{"shape": [2, 3, 128, 128], "layout": "NCHW", "dtype": "uint8"}"#)))
        XCTAssertThrowsError(try Sidecar.parse(sidecar(input: #"{"shape": [1, 3, 64, 64], "layout": "NCHW", "dtype": "uint8"}"#)))
        XCTAssertThrowsError(try Sidecar.parse(sidecar(target: "tflite", input: #"{"shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "int8"}"#)))
        XCTAssertThrowsError(try Sidecar.parse(sidecar(pre: #"{"input_size": 128, "mean": [0.5], "std": [0.5]}"#)))
    }
}

final class PreprocessingTests: XCTestCase {
    func testNormalisesPerChannelInTheLayout() {
        let pre = Preprocessing(inputSize: 1, mean: [0.5, 0.25, 0], std: [0.5, 0.5, 2], interpolation: "bilinear", cropPct: 1, cropMode: "squash")
        let nchw = Preprocessor(pre, InputSpec(name: "x", shape: [1, 3, 1, 1], layout: "NCHW", dtype: "float32", imageInput: false))
        XCTAssertEqual(nchw.tensor(RGBImage(width: 1, height: 1, rgb: [255, 0, 51])), [1, -0.5, (Float(51) / 255 - 0) / 2])
    }

    func testCenterCropUsesTorchvisionOffsets() {
        let src = RGBImage(width: 5, height: 7, rgb: (0..<105).map { UInt8($0) })
        let crop = ImageOps.centerCrop(src, size: 4)
        for y in 0..<4 { for x in 0..<4 { XCTAssertEqual(crop.at(x, y, 0), src.at(x, y + 2, 0)) } }
        let pre = Preprocessing(inputSize: 4, mean: [0, 0, 0], std: [1, 1, 1], interpolation: "bilinear", cropPct: 0.8, cropMode: "center")
        XCTAssertTrue(ImageOps.resizedSize(width: 6, height: 12, pre) == (5, 10))
    }

    func testConstantPictureStaysConstant() {
        let flat = RGBImage(width: 7, height: 5, rgb: [UInt8](repeating: 200, count: 105))
        for f in ["bilinear", "bicubic", "nearest"] {
            XCTAssertTrue(ImageOps.resize(flat, width: 16, height: 3, filter: f).rgb.allSatisfy { $0 == 200 })
        }
    }

    /// Pillow outputs written by tests/apps (MVEDGE_RESIZE_CASES=DIR): NAME.json, NAME.in, NAME.out.
    func testResizeMatchesPillow() throws {
        guard let dir = ProcessInfo.processInfo.environment["MVEDGE_RESIZE_CASES"] else { throw XCTSkip("MVEDGE_RESIZE_CASES not set") }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertFalse(files.isEmpty)
        for name in files {
            let base = String(name.dropLast(5))
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))) as! [String: Any]
            let src = RGBImage(width: meta["w"] as! Int, height: meta["h"] as! Int, rgb: [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(base).in"))))
            let out = ImageOps.resize(src, width: meta["out_w"] as! Int, height: meta["out_h"] as! Int, filter: meta["filter"] as! String)
            XCTAssertEqual(out.rgb, [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(base).out"))), "resize case \(base)")
        }
    }
}

final class ScoresAndStatsTests: XCTestCase {
    func testTopKAndTies() {
        XCTAssertEqual(Scores.topK([0.1, 0.3, 0.3, 0.05, 0.2, 0.05], 5) { "c\($0)" }.map(\.index), [1, 2, 4, 0, 3])
    }

    func testCompareRule() {
        let expected: [Float] = [4, 1, 0, -1]
        let top = Scores.topK(Scores.softmax(expected), 4) { _ in "" }
        XCTAssertTrue(Scores.compare(expected: expected, expectedTop: top, logits: [4.0005, 1, 0, -1], logitsAbs: 1e-3, scoreAbs: 1e-3).isEmpty)
        XCTAssertFalse(Scores.compare(expected: expected, expectedTop: top, logits: [4.2, 1, 0, -1], logitsAbs: 1e-3, scoreAbs: 1e-3).isEmpty)
        XCTAssertTrue(Scores.compare(expected: expected, expectedTop: top, logits: [1, 4, 0, -1], logitsAbs: 10, scoreAbs: 1e-3).contains { $0.hasPrefix("top-1 is class 1") })
    }

    func testNearestRankPercentiles() {
        let s = LatencyStats([5, 1, 4, 2, 3, 10, 9, 8, 7, 6])
        XCTAssertEqual(s.p50, 5)
        XCTAssertEqual(s.p90, 9)
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(s.mean, 5.5, accuracy: 1e-12)
        var w = LatencyWindow(capacity: 3)
        for v in [100.0, 1, 2, 3] { w.add(v) }
        XCTAssertEqual(w.stats?.median, 2)
    }
}

final class BenchmarkTests: XCTestCase {
    func testParsesLaunchArguments() throws {
        XCTAssertNil(try BenchmarkArguments.parse(["MVEdgeDemo"]))
        let a = try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.mlpackage", "--runs", "20", "--warmup", "2", "--compute-units", "cpuAndNeuralEngine", "--result", "r.json"])!
        XCTAssertEqual(a, BenchmarkArguments(artifact: "m.mlpackage", runs: 20, warmup: 2, computeUnits: "cpuAndNeuralEngine", result: "r.json"))
        XCTAssertEqual(try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.mlmodelc"])?.result, "m.mlmodelc.json")
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark"]))
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.tflite"]))
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.mlpackage", "--runs", "0"]))
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.mlpackage", "--compute-units", "gpu"]))
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--artifact", "m.mlpackage", "--result", "../x.json"]))
    }

    func testResultFollowsTheProfileSchema() throws {
        let device = DeviceInfo(platform: "ios", model: "iPhone16,1", os: "iOS 18.1", abi: "arm64", source: "ios_demo")
        let r = BenchmarkResult(artifact: "m.mlpackage", sha256: nil, precision: "fp16", delegate: "ALL", device: device, warmup: 2, loadMs: 40, stats: LatencyStats([10, 12, 11, 30]), peakMemoryMB: nil)
        let json = try JSONSerialization.jsonObject(with: r.jsonData()) as! [String: Any]
        XCTAssertEqual(json["schema"] as? String, "mvedge.profile/1")
        XCTAssertEqual((json["latency_ms"] as! [String: Any])["p50"] as? Double, 11)
        XCTAssertEqual(json["runs"] as? Int, 4)
        XCTAssertTrue(json["threads"] is NSNull)
        XCTAssertEqual((json["device"] as! [String: Any])["source"] as? String, "ios_demo")
    }
}

import MVEdgeCore
import PhotosUI
import SwiftUI

/// Pick a model and a picture (photo library, camera, bundled sample, or a digit drawn on the
/// canvas); see the top-5 classes with their scores and the latency of the last run and the median
/// of the last N runs.
@MainActor
final class DemoModel: ObservableObject {
    let store = ModelStore()
    @Published var selected: BundledModel?
    @Published var computeUnits = "all"
    @Published var picture: UIImage?
    @Published var results: [Prediction] = []
    @Published var message = ""
    @Published var latencyText = ""
    private var classifier: CoreMLClassifier?
    private var lastInput: ModelInput?
    private var window = LatencyWindow(capacity: 50)
    private var sampleIndex = 0

    init() {
        selected = store.models.first
        if store.models.isEmpty {
            message = "No models bundled. On your Mac run:\nmvedge convert --target coreml\nmvedge bundle --app ios mvedge-out/*.mlpackage\nthen rebuild."
        }
        load()
    }

    func load() {
        guard let model = selected else { return }
        do {
            let sidecar = try store.sidecar(model)
            let start = DispatchTime.now().uptimeNanoseconds
            classifier = try CoreMLClassifier(url: store.compiledURL(model), sidecar: sidecar, computeUnits: computeUnits)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            window.clear()
            lastInput = nil
            message = String(format: "Loaded %@ in %.0f ms (%@, %ldx%ld, compute units %@).", model.file, ms,
                             sidecar.input.imageInput ? "image input" : "tensor input", sidecar.input.side, sidecar.input.side, computeUnits)
        } catch {
            classifier = nil
            message = "Could not load \(model.file): \(error)"
        }
    }

    func classify(_ image: RGBImage, shown: UIImage?, note: String? = nil) {
        guard let classifier else { message = "No model loaded."; return }
        picture = shown
        do {
            let input = Preprocessor(classifier.sidecar.preprocessing, classifier.sidecar.input).build(image)
            lastInput = input
            let features = try classifier.features(input)
            let start = DispatchTime.now().uptimeNanoseconds
            let output = try classifier.predict(features)
            window.add(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            let logits = try classifier.logits(output)
            results = Scores.topK(Scores.softmax(logits), 5) { classifier.sidecar.label($0) }
            message = note ?? ""
            updateLatency()
        } catch {
            message = "Failed: \(error)"
        }
    }

    func classify(_ image: UIImage) {
        do { classify(try ImageConversion.rgb(image), shown: image) } catch { message = "Cannot read that picture: \(error)" }
    }

    func nextSample() {
        guard !store.samples.isEmpty else { return }
        let sample = store.samples[sampleIndex % store.samples.count]
        sampleIndex += 1
        guard let url = store.sampleURL(sample), let image = try? ImageConversion.rgb(contentsOf: url) else { return }
        classify(image, shown: ImageConversion.uiImage(image), note: sample.label.map { "sample \(sample.file), shows \($0)" })
    }

    func classifyDrawing(_ strokes: [[CGPoint]], side: CGFloat) {
        guard let drawn = DigitCanvas.render(strokes, side: side), let rgb = try? ImageConversion.rgb(drawn) else { return }
        let framed = ImageOps.fitInk(rgb, margin: 0.15)
        classify(framed, shown: ImageConversion.uiImage(framed))
    }

    func runRepeatedly(_ n: Int) {
        guard let classifier, let input = lastInput, let features = try? classifier.features(input) else { message = "Classify a picture first."; return }
        for _ in 0..<n {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try? classifier.predict(features)
            window.add(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        updateLatency()
    }

    private func updateLatency() {
        guard let s = window.stats else { latencyText = ""; return }
        latencyText = String(format: "last run %.2f ms   median of %ld: %.2f ms   (min %.2f, p90 %.2f)", s.last, s.samples.count, s.median, s.min, s.p90)
    }
}

struct ContentView: View {
    @StateObject private var demo = DemoModel()
    @State private var photoItem: PhotosPickerItem?
    @State private var showCamera = false
    @State private var drawing = false
    @State private var strokes: [[CGPoint]] = []
    @State private var runs = 20
    private let canvasSide: CGFloat = 280

    var body: some View {
        NavigationStack {
            ScrollView {
                VStack(alignment: .leading, spacing: 12) {
                    Picker("Model", selection: $demo.selected) {
                        ForEach(demo.store.models) { Text($0.file).tag(Optional($0)) }
                    }
                    .onChange(of: demo.selected) { demo.load() }
                    Picker("Compute units", selection: $demo.computeUnits) {
                        ForEach(BenchmarkArguments.computeUnitChoices, id: \.self) { Text($0) }
                    }
                    .pickerStyle(.segmented)
                    .onChange(of: demo.computeUnits) { demo.load() }
                    HStack {
                        PhotosPicker("Photos", selection: $photoItem, matching: .images)
                        Button("Camera") { showCamera = true }.disabled(!CameraPicker.isAvailable)
                        Button("Sample") { drawing = false; demo.nextSample() }
                        Button("Draw") { drawing.toggle() }.disabled(!(demo.selected?.digitCanvas ?? false))
                    }
                    .buttonStyle(.bordered)
                    if drawing {
                        DigitCanvas(strokes: $strokes, side: canvasSide)
                        HStack {
                            Button("Classify drawing") { demo.classifyDrawing(strokes, side: canvasSide) }
                            Button("Clear") { strokes = [] }
                        }
                        .buttonStyle(.bordered)
                    } else if let picture = demo.picture {
                        Image(uiImage: picture).resizable().interpolation(.none).scaledToFit().frame(maxHeight: 240)
                    }
                    HStack {
                        Stepper("N = \(runs)", value: $runs, in: 1...1000, step: 10)
                        Button("Run N times") { demo.runRepeatedly(runs) }.buttonStyle(.bordered)
                    }
                    Text(demo.latencyText).font(.footnote)
                    ForEach(demo.results, id: \.index) { p in
                        HStack { Text(p.label); Spacer(); Text(String(format: "%.2f%%", p.score * 100)).monospacedDigit() }
                    }
                    Text(demo.message).font(.footnote).foregroundStyle(.secondary)
                }
                .padding()
            }
            .navigationTitle("MVEdge demo")
        }
        .sheet(isPresented: $showCamera) { CameraPicker { demo.classify($0) } }
        .onChange(of: photoItem) {
            guard let item = photoItem else { return }
            Task {
                if let data = try? await item.loadTransferable(type: Data.self), let image = UIImage(data: data) {
                    drawing = false
                    demo.classify(image)
                }
            }
        }
    }
}

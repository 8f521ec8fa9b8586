import SwiftUI

/// A square to draw a digit on: dark ink on white, like the digits the embedded model was trained on.
struct DigitCanvas: View {
    @Binding var strokes: [[CGPoint]]
    let side: CGFloat

    var body: some View {
        Canvas { context, size in
            context.fill(Path(CGRect(origin: .zero, size: size)), with: .color(.white))
            for stroke in strokes { context.stroke(DigitCanvas.path(stroke), with: .color(.black), style: DigitCanvas.style(side)) }
        }
        .frame(width: side, height: side)
        .border(Color.gray)
        .gesture(DragGesture(minimumDistance: 0).onChanged { value in
            if value.translation == .zero || strokes.isEmpty { strokes.append([value.location]) } else { strokes[strokes.count - 1].append(value.location) }
        }.onEnded { _ in strokes.append([]) })
    }

    static func path(_ points: [CGPoint]) -> Path {
        var path = Path()
        guard let first = points.first else { return path }
        path.move(to: first)
        for p in points.dropFirst() { path.addLine(to: p) }
        if points.count == 1 { path.addLine(to: first) }
        return path
    }

    static func style(_ side: CGFloat) -> StrokeStyle { StrokeStyle(lineWidth: side / 12, lineCap: .round, lineJoin: .round) }

    /// What was drawn, as a picture of side x side pixels.
    @MainActor static func render(_ strokes: [[CGPoint]], side: CGFloat) -> UIImage? {
        let renderer = ImageRenderer(content: Canvas { context, size in
            context.fill(Path(CGRect(origin: .zero, size: size)), with: .color(.white))
            for stroke in strokes { context.stroke(path(stroke), with: .color(.black), style: style(side)) }
        }.frame(width: side, height: side))
        renderer.scale = 1
        return renderer.uiImage
    }
}

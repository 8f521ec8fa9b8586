import MVEdgeCore
import SwiftUI

/// The app: the demo screen, or benchmark mode when launched with `--benchmark ...` (README.md).
@main
struct MVEdgeDemoApp: App {
    @State private var benchmarkLine = "mvedge benchmark running ..."
    private let benchmark: Result<BenchmarkArguments?, Error> = Result { try BenchmarkArguments.parse(ProcessInfo.processInfo.arguments) }

    var body: some Scene {
        WindowGroup {
            switch benchmark {
            case .success(nil):
                ContentView()
            case .success(let args?):
                Text(benchmarkLine).padding().task {
                    let line = await Task.detached(priority: .userInitiated) { BenchmarkRunner.run(args) }.value
                    print(line)
                    fflush(stdout)
                    benchmarkLine = line
                }
            case .failure(let error):
                Text(report(error)).padding()
            }
        }
    }

    private func report(_ error: Error) -> String {
        let line = "\(BenchmarkResult.failedPrefix) \(error)"
        print(line)
        fflush(stdout)
        return line
    }
}

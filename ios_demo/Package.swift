// swift-tools-version:5.9
// MVEdgeCore: the platform-free part of the iOS demo (sidecar parsing, Pillow-exact preprocessing,
// top-5, latency statistics, benchmark arguments and result JSON, contract parsing). Foundation only,
// so `swift test` runs on macOS and on Linux. The app itself is the XcodeGen project in project.yml.
import PackageDescription

let package = Package(
    name: "MVEdgeCore",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "MVEdgeCore", targets: ["MVEdgeCore"]),
    ],
    targets: [
        .target(name: "MVEdgeCore", path: "Sources/MVEdgeCore"),
        .testTarget(name: "MVEdgeCoreTests", dependencies: ["MVEdgeCore"], path: "Tests/MVEdgeCoreTests"),
    ]
)

// swift-tools-version:6.1
import PackageDescription

// Decant's benchmarks, a package of their own so that the main build and CI never compile
// package-benchmark. Run from this directory (see README.md):
//   swift package benchmark
//
// package-benchmark 1.38 turns on two traits by default. "RuntimeInterposer" pulls in
// ordo-one/swift-runtime-interposer on Linux with Swift 6.3, which the local package mirror does not
// have; naming the traits here replaces the defaults, so only the malloc interposer is built.
let package = Package(
    name: "DecantBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Decant", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
    ],
    targets: [
        // What both benchmark targets share: the layer (make-layer.sh), fresh extraction
        // directories, diagnostics, the custom metrics.
        .target(
            name: "DecantBenchSupport",
            dependencies: [.product(name: "Benchmark", package: "package-benchmark")],
            path: "Support"
        ),
        // The applier end to end (blob to directory) against GNU tar.
        .executableTarget(
            name: "ApplyLayer",
            dependencies: [
                "DecantBenchSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "DecantArchive", package: "Decant"),
                .product(name: "DecantIO", package: "Decant"),
            ],
            path: "Benchmarks/ApplyLayer",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Inflate, hash, tar parsing, writing and the registry hand-off one at a time; reaches
        // DecantArchive's and DecantRemote's internals through `@_spi(Benchmarks)`.
        .executableTarget(
            name: "Stages",
            dependencies: [
                "DecantBenchSupport",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "DecantArchive", package: "Decant"),
                .product(name: "DecantIO", package: "Decant"),
                .product(name: "DecantOCI", package: "Decant"),
                .product(name: "DecantRemote", package: "Decant"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/Stages",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

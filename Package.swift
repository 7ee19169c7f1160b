// swift-tools-version:6.1
import PackageDescription

// Module boundaries follow ../shared/DESIGN.md: arrows are the only allowed imports.
//   C targets → DecantIO → DecantArchive → decant
//   DecantOCI (pure values) → DecantArchive
let package = Package(
    name: "Decant",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "DecantIO", targets: ["DecantIO"]),
        .library(name: "DecantOCI", targets: ["DecantOCI"]),
        .library(name: "DecantArchive", targets: ["DecantArchive"]),
        .library(name: "DecantStore", targets: ["DecantStore"]),
        .library(name: "DecantRemote", targets: ["DecantRemote"]),
        .library(name: "Decant", targets: ["Decant"]),
        .executable(name: "decant", targets: ["decant"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages, found through pkg-config).
        .systemLibrary(name: "CLiburing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // The only hand-written C: what Swift cannot call directly (macros, variadic syscall()).
        .target(name: "CDecantShim", dependencies: ["CLiburing", "CZlib"]),

        .target(
            name: "DecantIO",
            dependencies: [
                "CDecantShim",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DecantOCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "DecantArchive",
            dependencies: [
                "DecantIO", "DecantOCI", "CZstd", "CZlib", "CISAL", "CDecantShim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DecantStore",
            dependencies: [
                "DecantIO", "DecantOCI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DecantRemote",
            dependencies: [
                "DecantIO", "DecantOCI",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "Decant",
            dependencies: [
                "DecantIO", "DecantOCI", "DecantArchive", "DecantStore", "DecantRemote",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "decant",
            dependencies: [
                "Decant", "DecantArchive", "DecantOCI", "DecantIO", "DecantStore", "DecantRemote",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "DecantOCITests", dependencies: ["DecantOCI"]),
        .testTarget(name: "DecantRemoteTests", dependencies: ["DecantRemote", "DecantOCI", "DecantTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        // Helpers the test targets share: running programs, scratch directories.
        .target(name: "DecantTestSupport", dependencies: ["DecantIO", .product(name: "SystemPackage", package: "swift-system")], path: "Tests/DecantTestSupport"),
        .testTarget(name: "DecantTests", dependencies: ["Decant", "DecantStore", "DecantOCI", "DecantTestSupport"]),
        .testTarget(name: "DecantStoreTests", dependencies: ["DecantStore", "DecantOCI", "DecantIO", "DecantTestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "DecantIOTests", dependencies: ["DecantIO", "CDecantShim", "DecantTestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(
            name: "DecantArchiveTests",
            dependencies: ["DecantArchive", "DecantOCI", "DecantIO", "CArchive", "DecantTestSupport", .product(name: "SystemPackage", package: "swift-system")],
            exclude: []
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.0
import PackageDescription

// Layers, bottom up: C shims (one per C library), thin Swift wrappers that own the C handles,
// a pure core that does no I/O, the store and the fleet on top, and one small executable.
let package = Package(
    name: "rostersync",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rostersync", targets: ["rostersync"])
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(name: "RosterSupport"),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "RosterSupport"]),
        .target(name: "AMQPClient", dependencies: ["CRabbitMQ", "RosterSupport"]),
        .target(name: "HTTPClient", dependencies: ["CCurl", "RosterSupport"]),
        .target(name: "RosterCore", dependencies: ["RosterSupport"]),
        .target(name: "CleverClient", dependencies: ["HTTPClient", "RosterCore", "RosterSupport"]),
        .target(name: "RosterStore", dependencies: ["PostgresClient", "CleverClient", "RosterCore", "RosterSupport"]),
        .target(
            name: "Fleet", dependencies: ["AMQPClient", "RosterStore", "CleverClient", "RosterCore", "RosterSupport"]),
        .executableTarget(
            name: "rostersync",
            dependencies: ["Fleet", "RosterStore", "CleverClient", "RosterCore", "RosterSupport"]
        ),

        .target(
            name: "RosterTestSupport",
            dependencies: ["PostgresClient", "HTTPClient", "RosterSupport"],
            path: "Tests/RosterTestSupport"
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "RosterTestSupport"]),
        .testTarget(name: "AMQPClientTests", dependencies: ["AMQPClient", "RosterTestSupport"]),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient", "RosterTestSupport"]),
        .testTarget(name: "RosterCoreTests", dependencies: ["RosterCore", "RosterTestSupport"]),
        .testTarget(name: "CleverClientTests", dependencies: ["CleverClient", "RosterTestSupport"]),
        .testTarget(name: "RosterStoreTests", dependencies: ["RosterStore", "RosterTestSupport"]),
        .testTarget(
            name: "FleetTests",
            dependencies: ["Fleet", "RosterStore", "AMQPClient", "PostgresClient", "RosterTestSupport"]
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["RosterTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

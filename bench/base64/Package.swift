// swift-tools-version:6.0
// bench/base64: smimegate's base64 (Sources/MIME/Base64.swift, compiled here as it is) against
// swift-extras-base64, the package issue 14 names. A package of its own so that smimegate itself
// keeps its single dependency. Run by bench/base64.sh.
import PackageDescription

let package = Package(
    name: "base64-bench",
    dependencies: [
        .package(url: "https://github.com/swift-extras/swift-extras-base64", exact: "1.2.0")
    ],
    targets: [
        // Base64.swift is a symbolic link to smimegate's own file; Shim.swift gives it the two
        // MIME types it names.
        .target(name: "OurBase64"),
        .executableTarget(
            name: "base64-bench",
            dependencies: ["OurBase64", .product(name: "ExtrasBase64", package: "swift-extras-base64")]),
    ]
)

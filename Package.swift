// swift-tools-version:6.0
// smimegate — an S/MIME security gateway for mail at rest.
// Layers (DESIGN.md): smimegate (CLI) → SMIME / Keystore → CMS / PKI / MIME → C modules.
import PackageDescription

let package = Package(
    name: "smimegate",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "smimegate", targets: ["smimegate"])
    ],
    dependencies: [
        // The command-line tree (DESIGN.md, STYLE.md).
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The PostgreSQL keystore's client (--keystore postgresql://…, module KeystorePostgres only), and the
        // NIO pieces it is driven with: an event loop of its own, TLS, a silent logger.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.3"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        // The filter language's regular expressions (Policy/Pattern.swift).
        .systemLibrary(
            name: "CPCRE2", pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]),
        // A few lines of C for what Swift cannot call (mallopt, syncfs).
        .target(name: "CSmimegate"),
        // A value behind a pthread mutex: state shared by workers, visible to ThreadSanitizer.
        .target(name: "Locking"),
        .target(name: "MIME"),
        .target(name: "CMS", dependencies: ["COpenSSL", "Locking"]),
        .target(name: "PKI", dependencies: ["CMS", "COpenSSL", "Locking"]),
        .target(name: "SMIME", dependencies: ["MIME", "CMS", "PKI"]),
        .target(name: "Keystore", dependencies: ["CSQLite", "CArchive", "CMS", "PKI", "FileIO", "Locking"]),
        // The keystore in PostgreSQL, shared by the machines of a sharded run: postgres-nio behind the
        // synchronous KeystoreDatabase protocol. Only the command line links it (not the fuzzers).
        .target(
            name: "KeystorePostgres",
            dependencies: [
                "Keystore", "FileIO",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Writing files safely: whole writes, fsync, 0700 directories, atomic replacement of -o files.
        .target(name: "FileIO", dependencies: ["CSmimegate"]),
        // Mailboxes: maildirs, mbox files (compressed ones read through libarchive), output mbox files.
        .target(name: "Mailstore", dependencies: ["FileIO", "CArchive", "CSmimegate", "Locking"]),
        .target(name: "Policy", dependencies: ["MIME", "CPCRE2"]),
        // Handing mail to the mail system: an SMTP client (STARTTLS via CMS/TLS.swift) and sendmail.
        .target(name: "Submission", dependencies: ["CMS", "FileIO", "CSmimegate"]),
        .target(
            name: "Pipeline",
            dependencies: [
                "MIME", "CMS", "PKI", "SMIME", "Keystore", "Policy", "Mailstore", "FileIO", "Submission", "Locking",
            ]),
        .executableTarget(
            name: "smimegate",
            dependencies: [
                "MIME", "CMS", "PKI", "SMIME", "Keystore", "KeystorePostgres", "Policy", "Mailstore", "Pipeline",
                "CSmimegate", "FileIO", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // bench/micro: in-process timings that split a signature's cost (bench/README.md).
        .executableTarget(
            name: "smimegate-microbench", dependencies: ["CMS", "MIME", "SMIME", "PKI", "Policy", "Pipeline"],
            path: "bench/micro"),
        // scripts/fuzz.sh: libFuzzer targets (built with -sanitize=fuzzer -D FUZZING); otherwise a replayer of
        // saved inputs, which the regression tests run.
        .executableTarget(
            name: "smimegate-fuzz",
            dependencies: ["MIME", "CMS", "PKI", "SMIME", "Mailstore", "Keystore", "Policy", "Pipeline", "CSmimegate"],
            path: "Fuzz", exclude: ["regressions", "seeds", "README.md"]),
        // Paths to fixtures, vectors and peers (openssl, python3) shared by the test targets.
        .target(name: "TestSupport", dependencies: ["FileIO"], path: "Tests/TestSupport"),
        .testTarget(name: "MIMETests", dependencies: ["MIME", "TestSupport"]),
        .testTarget(name: "FileIOTests", dependencies: ["FileIO", "TestSupport"]),
        .testTarget(name: "CMSTests", dependencies: ["CMS", "PKI", "TestSupport"]),
        .testTarget(name: "SMIMETests", dependencies: ["SMIME", "MIME", "CMS", "PKI", "TestSupport"]),
        .testTarget(
            name: "KeystoreTests", dependencies: ["Keystore", "KeystorePostgres", "CMS", "PKI", "TestSupport"]),
        .testTarget(
            name: "PipelineTests",
            dependencies: ["Mailstore", "Policy", "Pipeline", "MIME", "CMS", "PKI", "Locking", "TestSupport"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "MIME", "TestSupport"]),
        .testTarget(name: "SubmissionTests", dependencies: ["Submission"]),
        .testTarget(name: "CLITests", dependencies: ["smimegate", "Locking", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

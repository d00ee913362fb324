import FileIO
import Foundation

/// Where the tests find the package, its fixtures, the shared third-party
/// vectors, the smimegate binary and the peers (openssl, python3).
public enum Paths {
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var fixtures: URL { packageRoot.appendingPathComponent("Fixtures") }

    /// ../shared/vectors beside the checkout (or $SMIMEGATE_VECTORS).
    public static var vectors: URL {
        if let env = ProcessInfo.processInfo.environment["SMIMEGATE_VECTORS"] { return URL(fileURLWithPath: env) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors")
    }

    public static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }
    public static func vector(_ path: String) -> URL { vectors.appendingPathComponent(path) }

    /// The built smimegate executable ($SMIMEGATE_BIN, else next to the test bundle, else .build/debug).
    public static var binary: URL {
        if let env = ProcessInfo.processInfo.environment["SMIMEGATE_BIN"] { return URL(fileURLWithPath: env) }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("smimegate"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("smimegate"),
            packageRoot.appendingPathComponent(".build/debug/smimegate"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }

    /// The python3 that has `cryptography` ($SMIMEGATE_PYTHON, else python3 on PATH).
    public static var python: String { ProcessInfo.processInfo.environment["SMIMEGATE_PYTHON"] ?? "python3" }
    public static var peerScript: URL { packageRoot.appendingPathComponent("Tests/peers/pyca_smime.py") }
}

/// A file's bytes ([] when it cannot be read), by read(2): FileManager.contents leaks a buffer per empty
/// file, which LeakSanitizer reports against the test runner (scripts/sanitize.sh).
public func bytes(of url: URL) -> [UInt8] { FileSystem.contents(of: url.path) ?? [] }

public func string(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The result of running a process.
public struct ProcessResult {
    public let status: Int32
    public let stdout: [UInt8]
    public let stderr: String
    public var out: String { string(stdout) }
}

/// Runs `executable` (a path, or a name looked up on PATH) with `arguments`,
/// feeding `input` on stdin. Output is drained concurrently so large outputs never block.
@discardableResult
public func runProcess(
    _ executable: String, _ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:],
    directory: URL? = nil
) throws -> ProcessResult {
    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    if let directory { process.currentDirectoryURL = directory }
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = stdout.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errData = stderr.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    if !input.isEmpty { stdin.fileHandleForWriting.write(Data(input)) }
    try? stdin.fileHandleForWriting.close()
    process.waitUntilExit()
    group.wait()
    return ProcessResult(
        status: process.terminationStatus, stdout: Array(outData), stderr: String(decoding: errData, as: UTF8.self))
}

/// A fresh temporary directory, removed by the caller's teardown if wanted.
public func temporaryDirectory(_ prefix: String = "smimegate-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

public func write(_ bytes: [UInt8], to url: URL) throws { try Data(bytes).write(to: url) }
public func write(_ text: String, to url: URL) throws { try Data(text.utf8).write(to: url) }

/// A test set-up that could not be done, with why.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

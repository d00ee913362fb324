import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL server for the tests (Debian's postgresql, installed by scripts/setup.sh): `initdb`
/// in a temporary directory, listening on 127.0.0.1 only on a free port, password (SCRAM) authentication,
/// TLS on with a certificate made here, stopped when the test process exits. One per test process, started
/// by the first test that asks. As root, the server runs as the `postgres` user (PostgreSQL refuses to run
/// as root).
public final class PostgresServer: @unchecked Sendable {
    public let host = "127.0.0.1"
    public let port: Int
    public let user = "smimegate"
    public let password: String
    /// The server's TLS certificate (CN and SAN localhost and 127.0.0.1), to verify it with.
    public let certificate: String
    let directory: String

    public static let shared: PostgresServer = {
        do { return try PostgresServer() } catch { fatalError("cannot start the test PostgreSQL server: \(error)") }
    }()

    /// A fresh, empty database on the server: its URL (without password; see `environment`).
    public func createDatabase(query: String = "sslmode=disable") throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try psql("CREATE DATABASE \(name)")
        return "postgresql://\(user)@\(host):\(port)/\(name)" + (query.isEmpty ? "" : "?" + query)
    }

    /// What a client process needs to log in: the password.
    public var environment: [String: String] { ["PGPASSWORD": password] }

    /// Runs SQL with the `psql` command line (a peer of its own) in `database`; its output, unaligned.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let result = try runProcess(
            binary("psql"),
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", String(port), "-U", user, "-d", database,
             "-c", sql], environment: environment)
        guard result.status == 0 else { throw TestFailure("psql: \(result.stderr)") }
        return result.out
    }

    private init() throws {
        directory = try temporaryDirectory("smimegate-postgres").path
        certificate = directory + "/server.crt"
        password = UUID().uuidString
        port = try Self.freePort()
        let root = getuid() == 0
        if root { try Self.runChecked("chown", ["postgres:postgres", directory]) }
        let data = directory + "/data"
        let passwordFile = directory + "/password"
        try write(password + "\n", to: URL(fileURLWithPath: passwordFile))
        if root { try Self.runChecked("chown", ["postgres", passwordFile]) }
        try Self.asServerUser(
            Self.binary("initdb"),
            ["-D", data, "-U", user, "--pwfile", passwordFile, "--auth", "scram-sha-256", "-E", "UTF8",
             "--locale", "C.UTF-8"])
        // TLS: a self-signed certificate for localhost and 127.0.0.1.
        try Self.runChecked(
            "openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", data + "/server.key", "-out", certificate])
        try Self.runChecked("cp", [certificate, data + "/server.crt"])
        if root { try Self.runChecked("chown", ["postgres:postgres", data + "/server.key", data + "/server.crt"]) }
        try Self.runChecked("chmod", ["0600", data + "/server.key"])
        try write(
            "host all all 127.0.0.1/32 scram-sha-256\nlocal all all scram-sha-256\n",
            to: URL(fileURLWithPath: data + "/pg_hba.conf"))
        // Through Python's subprocess, which closes every other descriptor: the server outlives pg_ctl, and
        // must hold none of this process's (Foundation's Process then never sees its child end).
        let launcher =
            "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], stdin=subprocess.DEVNULL, "
            + "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True))"
        try Self.asServerUser(
            "/usr/bin/python3",
            ["-c", launcher, Self.binary("pg_ctl"), "-D", data, "-l", directory + "/server.log", "-w", "-t", "60",
             "start", "-o",
             "-p \(port) -c listen_addresses=127.0.0.1 -k \(directory) -c ssl=on -c fsync=off -c max_connections=200"])
        PostgresServer.running = (Self.binary("pg_ctl"), data, root)
        atexit {
            guard let (pgctl, data, root) = PostgresServer.running else { return }
            let arguments = ["-D", data, "-m", "immediate", "-w", "stop"]
            _ = try? runProcess(
                root ? "runuser" : pgctl, root ? ["-u", "postgres", "--", pgctl] + arguments : arguments)
        }
    }

    nonisolated(unsafe) static var running: (String, String, Bool)?

    /// Debian's server programs are not on PATH: /usr/lib/postgresql/VERSION/bin, the newest.
    static func binary(_ name: String) -> String {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [])
            .compactMap(Int.init).sorted()
        return versions.last.map { "\(base)/\($0)/bin/\(name)" } ?? name
    }
    func binary(_ name: String) -> String { Self.binary(name) }

    private static func asServerUser(_ program: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try Self.runChecked("runuser", ["-u", "postgres", "--", program] + arguments)
        } else {
            try Self.runChecked(program, arguments)
        }
    }

    private static func runChecked(_ program: String, _ arguments: [String]) throws {
        let result = try runProcess(program, arguments)
        guard result.status == 0 else {
            throw TestFailure("\(program) \(arguments.joined(separator: " ")): \(result.stderr)\(result.out)")
        }
    }

    /// A TCP port nobody listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

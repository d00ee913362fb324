import Foundation
import TestSupport
import XCTest

/// `process … --shard K/N` and `report --inputs` (issue 16): four shards of a corpus record exactly what
/// one unsharded run records, file names included, and the report's check catches a missing shard and a
/// doubled one.
final class ShardRunTests: CLITestCase {
    /// A maildir (some messages moved to cur/ with flags) and an mbox, 120 messages in all, one junk.
    func corpus() throws -> [String] {
        let inbox = path("in")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        var mbox = ""
        for i in 0..<60 {
            let text =
                "From: alice@example.com\nTo: bob@partner.example\nSubject: \(i)\nMessage-ID: <\(i)@example.com>\n\n"
                + String(repeating: "line \(i)\n", count: 20)
            let name = i % 4 == 0 ? "cur/17644100\(i).M\(i)P1.host:2,S" : "new/17644100\(i).M\(i)P1.host"
            try write(text, to: URL(fileURLWithPath: inbox + "/" + name))
            mbox += "From alice@example.com Sun Nov 29 10:00:00 2026\n" + text + "\n"
        }
        mbox += "From junk Sun Nov 29 10:00:00 2026\nnot a header line\n\n"
        return [inbox, try save(mbox, "box.mbox")]
    }

    @discardableResult
    func process(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        try runProcess(
            Paths.binary.path,
            ["--home", home, "process", "outgoing"] + arguments + ["--workers", "2", "--no-progress", "--json"],
            environment: environment)
    }

    struct Summary: Decodable {
        let messages: Int
        let shard: String?
        let otherShards: Int?
        let inputErrors: [String]
    }

    func summary(_ result: ProcessResult) throws -> Summary {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Summary.self, from: Data(result.stdout))
    }

    /// What a record says, without what differs from run to run (times, elapsed).
    struct Record: Hashable {
        let input: String
        let offset: Int?
        let outcome: String
        let files: [String]
    }

    func records(_ out: String) throws -> [Record] {
        try manifestEntries(out).map {
            Record(input: $0.input, offset: $0.offset, outcome: $0.outcome, files: $0.outputs.map(\.file))
        }
    }

    func testFourShardsRecordWhatOneRunRecords() throws {
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
        let inputs = try corpus()
        let reference = path("reference")
        try process(inputs + ["--out", reference]).expect(1)  // the junk message fails
        let expected = try records(reference)
        XCTAssertEqual(expected.count, 121)

        var union: [Record] = []
        var others = 0
        for k in 0..<4 {
            let result = try process(inputs + ["--out", path("shard\(k)"), "--shard", "\(k)/4"])
            XCTAssertTrue([0, 1].contains(result.status), result.stderr)
            let summary = try summary(result)
            XCTAssertEqual(summary.shard, "\(k)/4")
            let mine = try records(path("shard\(k)"))
            XCTAssertEqual(summary.messages, mine.count)
            XCTAssertEqual(summary.otherShards, 121 - mine.count)
            XCTAssertGreaterThan(mine.count, 10, "shard \(k) has a fair part")
            others += summary.otherShards ?? 0
            union += mine
            // The output files are where the records say, with the reference's names.
            for record in mine {
                for file in record.files {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: path("shard\(k)") + "/" + file), file)
                }
            }
        }
        XCTAssertEqual(union.count, expected.count, "no record twice")
        XCTAssertEqual(Set(union), Set(expected))
        XCTAssertEqual(others, 3 * 121)

        let shards = (0..<4).map { path("shard\($0)") }
        let check = try smimegate(["report"] + shards + ["--inputs"] + inputs).expect(0)
        XCTAssertTrue(check.out.contains("inputs: 121 message(s), 121 record(s): every message recorded exactly once"))

        // A shard missing: its messages are named.
        let missing = try smimegate(["report"] + shards.dropLast() + ["--inputs"] + inputs + ["--top", "500"])
            .expect(1)
        let lost = try records(shards[3]).count
        XCTAssertTrue(missing.out.contains("\(lost) missing, 0 doubled"), missing.out)
        XCTAssertEqual(missing.out.components(separatedBy: "\n  missing: ").count - 1, lost)
        XCTAssertTrue(missing.stderr.contains("not recorded exactly once"), missing.stderr)
        // The unsharded run beside the shards: every message doubled, both places named.
        let doubled = try smimegate(["report"] + shards + [reference, "--inputs"] + inputs + ["--json"]).expect(1)
        let json = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(doubled.stdout)) as? [String: Any])
        let inputCheck = try XCTUnwrap(json["input_check"] as? [String: Any])
        XCTAssertEqual(inputCheck["doubled_count"] as? Int, 121)
        XCTAssertEqual(inputCheck["missing_count"] as? Int, 0)
        XCTAssertEqual(inputCheck["exactly_once"] as? Bool, false)
        let first = try XCTUnwrap((inputCheck["doubled"] as? [[String: Any]])?.first)
        XCTAssertEqual((first["directories"] as? [String])?.last, reference)
        // Records of messages that are no longer among the inputs are counted, not failed.
        let fewer = try smimegate(["report"] + shards + ["--inputs", inputs[0]]).expect(0)
        XCTAssertTrue(fewer.out.contains("61 record(s) of messages not in these inputs"), fewer.out)
    }

    func testShardAutoTakesTheBatchSystemsNumbers() throws {
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
        let inputs = try corpus()
        let slurm = [
            "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
            "SLURM_ARRAY_TASK_COUNT": "4",
        ]
        let fromSlurm = try process(inputs + ["--out", path("slurm"), "--shard", "auto"], environment: slurm)
        XCTAssertEqual(try summary(fromSlurm).shard, "2/4", fromSlurm.stderr)
        let fromKubernetes = try process(
            inputs + ["--out", path("k8s"), "--shard", "auto", "--shards", "4"],
            environment: ["JOB_COMPLETION_INDEX": "2", "SLURM_ARRAY_TASK_ID": ""])
        XCTAssertEqual(try summary(fromKubernetes).shard, "2/4", fromKubernetes.stderr)
        try process(inputs + ["--out", path("explicit"), "--shard", "2/4"])
        XCTAssertEqual(Set(try records(path("slurm"))), Set(try records(path("explicit"))))
        XCTAssertEqual(Set(try records(path("k8s"))), Set(try records(path("explicit"))))

        let none = try process(
            inputs + ["--out", path("none"), "--shard", "auto"],
            environment: ["JOB_COMPLETION_INDEX": "", "SLURM_ARRAY_TASK_ID": ""]
        ).expect(2)
        XCTAssertTrue(none.stderr.contains("neither SLURM_ARRAY_TASK_ID"), none.stderr)
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1, none.stderr)
        let noCount = try process(
            inputs + ["--out", path("none"), "--shard", "auto"],
            environment: ["JOB_COMPLETION_INDEX": "1", "SLURM_ARRAY_TASK_ID": ""]
        ).expect(2)
        XCTAssertTrue(noCount.stderr.contains("needs --shards N"), noCount.stderr)
        try process(inputs + ["--out", path("none"), "--shard", "4/4"]).expect(2)
        try process(inputs + ["--out", path("none"), "--shards", "4"]).expect(2)
    }

    /// A directory keeps the split it was written with: another K/N, or no --shard, into it is refused
    /// (its records would overlap another directory's); standard input cannot be split.
    func testADirectoryKeepsItsShard() throws {
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
        let inputs = try corpus()
        let out = path("s")
        try process(inputs + ["--out", out, "--shard", "1/4"])
        XCTAssertEqual(string(read("s/shard")), "1/4\n")
        let other = try process(inputs + ["--out", out, "--shard", "1/2", "--resume"]).expect(2)
        XCTAssertTrue(other.stderr.contains("holds the records of shard 1/4, not 1/2"), other.stderr)
        let unsharded = try process(inputs + ["--out", out, "--resume"]).expect(2)
        XCTAssertTrue(unsharded.stderr.contains("give --shard 1/4"), unsharded.stderr)
        let again = try process(inputs + ["--out", out, "--shard", "1/4", "--resume"])
        XCTAssertEqual(try summary(again).messages, 0, again.stderr)

        try process(inputs + ["--out", path("whole")])
        let late = try process(inputs + ["--out", path("whole"), "--shard", "0/4", "--resume"]).expect(2)
        XCTAssertTrue(late.stderr.contains("holds an unsharded run's records"), late.stderr)

        let stdin = try runProcess(
            Paths.binary.path, ["--home", home, "process", "outgoing", "-", "--out", path("stdin"), "--shard", "0/2"],
            input: Array(Self.plainLF.utf8)
        ).expect(2)
        XCTAssertTrue(stdin.stderr.contains("standard input cannot be split"), stdin.stderr)
    }

    /// Two shards consume one spool at the same time: each takes its part, the spool ends empty, nothing
    /// is recorded twice; an entry that is not a message is reported by one shard only.
    func testShardsConsumeOneSpoolTogether() throws {
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
        let spool = try corpus()[0]
        XCTAssertEqual(symlink("/etc/passwd", spool + "/new/planted"), 0)
        let runs = (0..<2).map { k in
            let process = Process()
            process.executableURL = Paths.binary
            process.arguments = [
                "--home", home, "process", "outgoing", spool, "--out", path("c\(k)"), "--shard", "\(k)/2",
                "--consume", "--workers", "1", "--no-progress", "--json",
            ]
            let out = Pipe()
            process.standardOutput = out
            let log = path("c\(k).stderr")
            XCTAssertTrue(FileManager.default.createFile(atPath: log, contents: nil))
            process.standardError = FileHandle(forWritingAtPath: log)
            return (process, out, log)
        }
        for (process, _, _) in runs { try process.run() }
        var errors = 0
        var statuses: [Int32] = []
        for (process, out, log) in runs {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            statuses.append(process.terminationStatus)
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            guard let summary = try? decoder.decode(Summary.self, from: data) else {
                return XCTFail(
                    "exit \(process.terminationStatus), no summary: \(string(bytes(of: URL(fileURLWithPath: log))))")
            }
            errors += summary.inputErrors.count
        }
        XCTAssertEqual(errors, 1, "the link is reported once")
        XCTAssertEqual(statuses.sorted(), [0, 1], "the planted link is an input error of one shard")
        let left =
            try FileManager.default.contentsOfDirectory(atPath: spool + "/new")
            + FileManager.default.contentsOfDirectory(atPath: spool + "/cur")
        XCTAssertEqual(left, ["planted"])
        let all = try records(path("c0")) + records(path("c1"))
        XCTAssertEqual(all.count, 60)
        XCTAssertEqual(Set(all.map(\.input)).count, 60)
        // An unsharded consumer waits for the shards (here: refused at once, exit 75).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["--shared", spool + "/.smimegate-consume.lock", "sleep", "5"]
        try holder.run()
        defer { holder.terminate() }
        usleep(300_000)
        let blocked = try process([spool, "--out", path("c2"), "--consume"]).expect(75)
        XCTAssertTrue(blocked.stderr.contains("is being consumed by another run"), blocked.stderr)
        // Shards of a 2-way split at work (the holder, as far as the locks tell): a shard of a 3-way split,
        // whose messages would overlap theirs, is refused; one of theirs goes ahead.
        try write("2\n", to: URL(fileURLWithPath: spool + "/.smimegate-split"))
        let otherSplit = try process([spool, "--out", path("c3"), "--shard", "0/3", "--consume"]).expect(75)
        XCTAssertTrue(otherSplit.stderr.contains("shards of another split (N = 2, not 3)"), otherSplit.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("c3/manifest.jsonl")), "nothing processed")
        try process([spool, "--out", path("c4"), "--shard", "1/2", "--consume"]).expect(1)  // the planted link
    }

    /// contrib/k8s/indexed-job.yaml as Kubernetes would run it: one pod per completion index, each the Job's
    /// container command with JOB_COMPLETION_INDEX set (the example's paths made this test's); together the
    /// pods record every message exactly once, and the Job's shape is what the README says.
    func testTheKubernetesIndexedJobRunsAsWritten() throws {
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
        let spool = try corpus()[0]
        let yaml = Paths.packageRoot.appendingPathComponent("contrib/k8s/indexed-job.yaml").path
        let parsed = try runProcess(
            Paths.python, ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", yaml]
        ).expect(0)
        let job = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(parsed.stdout)) as? [String: Any])
        XCTAssertEqual(job["kind"] as? String, "Job")
        let spec = try XCTUnwrap(job["spec"] as? [String: Any])
        XCTAssertEqual(spec["completionMode"] as? String, "Indexed")
        let completions = try XCTUnwrap(spec["completions"] as? Int)
        XCTAssertLessThanOrEqual(try XCTUnwrap(spec["parallelism"] as? Int), completions)
        let pod = try XCTUnwrap((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        XCTAssertEqual(pod["restartPolicy"] as? String, "Never")
        let container = try XCTUnwrap((pod["containers"] as? [[String: Any]])?.first)
        let command = try XCTUnwrap(container["command"] as? [String]) + (container["args"] as? [String] ?? [])
        XCTAssertEqual(Array(command.prefix(2)), ["/bin/sh", "-c"])
        let script = command[2]
        XCTAssertTrue(script.contains("--shards \(completions) "), "--shards must equal completions: \(script)")
        // Secrets come from the Secret, never as literals.
        let env = try XCTUnwrap(container["env"] as? [[String: Any]])
        for name in ["SMIMEGATE_KEYSTORE", "PGPASSWORD"] {
            let entry = try XCTUnwrap(env.first { $0["name"] as? String == name }, name)
            XCTAssertNil(entry["value"], name)
            XCTAssertNotNil((entry["valueFrom"] as? [String: Any])?["secretKeyRef"], name)
        }
        // The pods, one after the other, with the binary on PATH and this test's home (its keystore: this
        // pass's backend).
        let local = script.replacingOccurrences(of: "/data/spool", with: spool)
            .replacingOccurrences(of: "/data/out", with: path("out"))
        let bin = Paths.binary.deletingLastPathComponent().path
        var records = 0
        for index in 0..<completions {
            let result = try runProcess(
                "/bin/sh", ["-c", local],
                environment: [
                    "JOB_COMPLETION_INDEX": "\(index)", "SMIMEGATE_HOME": home,
                    "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                ]
            ).expect(0)
            XCTAssertTrue(result.out.contains("shard \(index)/\(completions)"), result.out)
            records += try self.records(path("out/shard-\(index)")).count
        }
        XCTAssertEqual(records, 60)
        let shards = (0..<completions).map { path("out/shard-\($0)") }
        let check = try smimegate(["report"] + shards + ["--inputs", spool]).expect(0)
        XCTAssertTrue(check.out.contains("every message recorded exactly once"), check.out)
    }
}

import FileIO
import Foundation
import Mailstore

/// `--shard K/N`: the part of a run's inputs that one of N independent processes takes. Every shard
/// scans every input; a message belongs to shard K when the first 64 bits of the SHA-256 of its
/// identity, modulo N, are K. The identity is a maildir message's unique name (without the `:2,`
/// flags, so a move from new/ to cur/ keeps its shard; without the maildir's path, so machines that
/// mount the spool at different places agree) and an mbox message's canonical path and the offset of
/// its From_ line. The split needs no coordinator: the same inputs give every machine the same answer.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Self.maximum else {
            throw PipelineError("--shard: N must be between 1 and \(Self.maximum)", kind: .usage)
        }
        guard index >= 0, index < count else {
            throw PipelineError("--shard: K must be between 0 and N-1 (\(count - 1)); got \(index)", kind: .usage)
        }
        (self.index, self.count) = (index, count)
    }

    public static let maximum = 1_000_000

    /// "K/N" as written on the command line.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw PipelineError("--shard takes K/N (such as 0/4) or auto; got '\(text)'", kind: .usage)
        }
        try self.init(index: index, count: count)
    }

    /// `--shard auto`: this task's shard as the batch system numbers it — a Slurm array job
    /// (SLURM_ARRAY_TASK_ID within SLURM_ARRAY_TASK_MIN…MAX, step SLURM_ARRAY_TASK_STEP; the indices must
    /// be evenly spaced, which SLURM_ARRAY_TASK_COUNT confirms) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with N from `shards`, since Kubernetes does not pass the completion count).
    public static func fromEnvironment(_ environment: [String: String], shards: Int?) throws -> Shard {
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw PipelineError("--shard auto: \(name)='\(text)' is not a number", kind: .usage)
            }
            return value
        }
        if let task = try number("SLURM_ARRAY_TASK_ID") {
            guard let low = try number("SLURM_ARRAY_TASK_MIN"), let high = try number("SLURM_ARRAY_TASK_MAX")
            else {
                throw PipelineError(
                    "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN/MAX are not", kind: .usage)
            }
            let step = try number("SLURM_ARRAY_TASK_STEP") ?? 1
            guard step >= 1, high >= low, (task - low) % step == 0, task >= low, task <= high else {
                throw PipelineError(
                    "--shard auto: Slurm array task \(task) is not in \(low)-\(high):\(step)", kind: .usage)
            }
            let count = (high - low) / step + 1
            if let given = try number("SLURM_ARRAY_TASK_COUNT"), given != count {
                throw PipelineError(
                    "--shard auto: the Slurm array's indices are not evenly spaced (\(given) tasks in "
                        + "\(low)-\(high):\(step)); submit it as --array=0-\(given - 1)", kind: .usage)
            }
            if let shards, shards != count {
                throw PipelineError(
                    "--shards \(shards) disagrees with the Slurm array's \(count) tasks", kind: .usage)
            }
            return try Shard(index: (task - low) / step, count: count)
        }
        if let index = try number("JOB_COMPLETION_INDEX") {
            guard let shards else {
                throw PipelineError(
                    "--shard auto in a Kubernetes Indexed Job needs --shards N (the Job's completions)", kind: .usage)
            }
            guard index < shards else {
                throw PipelineError(
                    "--shard auto: JOB_COMPLETION_INDEX=\(index) is not below --shards \(shards)", kind: .usage)
            }
            return try Shard(index: index, count: shards)
        }
        throw PipelineError(
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor JOB_COMPLETION_INDEX (a Kubernetes "
                + "Indexed Job) is set; give --shard K/N", kind: .usage)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether the input with this source (a path) and mbox offset is this shard's.
    public func contains(source: String, offset: Int?) -> Bool {
        count == 1 || Int(KeyHash(Self.identity(source: source, offset: offset)).high % UInt64(count)) == index
    }

    /// Whether a scanned message, or an entry reported as a problem, is this shard's (each problem is
    /// reported by one shard only).
    func contains(_ item: SourceItem) -> Bool {
        switch item {
        case .message(let message): return contains(source: message.source, offset: message.offset)
        // A folder that cannot be listed holds messages of every shard: each reports it.
        case .problem(let problem): return problem.folder || contains(source: problem.path, offset: nil)
        }
    }

    /// What is hashed: "path@offset" for an mbox message, the unique name for a maildir file (the
    /// name up to its ":" flags), the path itself for anything else.
    static func identity(source: String, offset: Int?) -> String {
        let key = InputKey.of(source: source, offset: offset)
        // Only a maildir file's key differs from its source (new/ or cur/ and the flags dropped).
        guard offset == nil, key != source, let slash = key.lastIndex(of: "/") else { return key }
        return String(key[key.index(after: slash)...])
    }

    /// DIR/shard: which shard wrote a directory, so that a later run into it with another split
    /// (whose records would overlap another directory's) is refused.
    static let fileName = "shard"

    /// Records `shard` in DIR (or checks it against what is recorded): a sharded run into a directory that
    /// holds another shard's or an unsharded run's records is a usage error, and so is the reverse.
    static func claim(_ shard: Shard?, directory: String, hasRecords: Bool) throws {
        let path = directory + "/" + fileName
        let recorded = FileSystem.contents(of: path).map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        switch (shard, recorded) {
        case (nil, nil):
            return
        case (nil, let recorded?):
            throw PipelineError(
                "\(directory) holds the records of shard \(recorded): give --shard \(recorded), or another --out",
                kind: .usage)
        case (let shard?, let recorded?):
            guard recorded == shard.description else {
                throw PipelineError(
                    "\(directory) holds the records of shard \(recorded), not \(shard): one --out per shard, "
                        + "and the same N for every run into it", kind: .usage)
            }
        case (let shard?, nil):
            if hasRecords {
                throw PipelineError(
                    "\(directory) holds an unsharded run's records: a shard needs an --out of its own", kind: .usage)
            }
            try OutputFile.write(Array("\(shard)\n".utf8), to: path, content: .publicData)
        }
    }
}

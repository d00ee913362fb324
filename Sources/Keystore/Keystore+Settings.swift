import CMS
import Foundation

/// The home-wide settings `settings show` lists and `settings set` changes, kept in the `settings`
/// table beside the home passphrase's check (which is not one of them).
public struct GlobalSettings: Sendable, Equatable {
    /// SPEC F23: the harvested repository's size in bytes (certificates' DER) before the least recently
    /// used are evicted.
    public var harvestCap = 512 * 1_048_576
    /// SPEC F25: whether a certificate of undecided revocation is trusted (`soft`) or not (`hard`).
    public var revocation = RevocationChecking.soft
    /// Ask a certificate's OCSP responder when no CRL covers it.
    public var revocationOCSP = false
    /// SPEC F22: more than one updated certificate for an address or a domain within this many hours
    /// raises an alert.
    public var alertWindowHours = 48

    public init() {}

    public static let names = ["harvest-cap", "revocation", "revocation-ocsp", "alert-window"]

    /// The value of `name` as `settings show` prints it and `settings set` takes it.
    public func value(of name: String) -> String? {
        switch name {
        case "harvest-cap": GlobalSettings.size(harvestCap)
        case "revocation": revocation.rawValue
        case "revocation-ocsp": revocationOCSP ? "yes" : "no"
        case "alert-window": "\(alertWindowHours)h"
        default: nil
        }
    }

    /// Sets `name` from its text form; a one-line error for an unknown name or a bad value.
    public mutating func set(_ name: String, _ given: String) throws {
        let value = given.trimmingCharacters(in: .whitespaces).lowercased()
        // Quoted in one-line errors: control characters shown, not printed.
        let text = String(given.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
        switch name {
        case "harvest-cap":
            guard let bytes = GlobalSettings.parseSize(value), bytes >= 1024 else {
                throw KeystoreError("harvest-cap: \"\(text)\" is not a size of at least 1KB (such as 512MB, 2GB)")
            }
            harvestCap = bytes
        case "revocation":
            guard let mode = RevocationChecking(rawValue: value) else {
                throw KeystoreError("revocation: \"\(text)\" is not soft or hard")
            }
            revocation = mode
        case "revocation-ocsp":
            guard ["yes", "no"].contains(value) else {
                throw KeystoreError("revocation-ocsp: \"\(text)\" is not yes or no")
            }
            revocationOCSP = value == "yes"
        case "alert-window":
            let digits = value.hasSuffix("h") ? String(value.dropLast()) : value
            guard let hours = Int(digits), (1...8760).contains(hours) else {
                throw KeystoreError("alert-window: \"\(text)\" is not a number of hours from 1 to 8760 (such as 48h)")
            }
            alertWindowHours = hours
        default:
            let shown = String(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
            throw KeystoreError(
                "no setting named \"\(shown)\" (settings: \(GlobalSettings.names.joined(separator: ", ")))")
        }
    }

    /// "512MB", "2GB", "100KB", "4096" (bytes); powers of 1,024.
    public static func parseSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("gb", 1 << 30), ("g", 1 << 30), ("mb", 1 << 20), ("m", 1 << 20),
            ("kb", 1 << 10), ("k", 1 << 10), ("b", 1),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let number = Int(text.dropLast(suffix.count)), number >= 0, number <= Int.max / factor else {
                return nil
            }
            return number * factor
        }
        return Int(text)
    }

    static func size(_ bytes: Int) -> String {
        for (suffix, factor) in [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] where bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return "\(bytes)"
    }
}

extension Keystore {
    public func globalSettings() throws -> GlobalSettings {
        var settings = GlobalSettings()
        let placeholders = GlobalSettings.names.map { _ in "?" }.joined(separator: ", ")
        for row in try db.query(
            "SELECT name, value FROM settings WHERE name IN (\(placeholders))", GlobalSettings.names.map { .text($0) })
        {
            try settings.set(row[0] ?? "", row[1] ?? "")
        }
        return settings
    }

    /// Checks and stores one setting; returns the settings now in force.
    @discardableResult
    public func setGlobalSetting(_ name: String, _ value: String) throws -> GlobalSettings {
        var settings = try globalSettings()
        try settings.set(name, value)
        try db.query(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [.text(name), .text(settings.value(of: name)!)])
        return settings
    }
}

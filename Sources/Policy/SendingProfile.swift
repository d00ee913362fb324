import Foundation
import MIME

/// A sending profile (SPEC F7): what to do to outgoing mail — the mode, the
/// signing certificate, the signature form and the action when a recipient
/// has no usable key. Names of algorithms are kept as the command line spells
/// them; the Pipeline maps them onto the CMS layer (Policy knows no OpenSSL).
public struct SendingProfile: Codable, Sendable, Equatable {
    /// F4: sign · encrypt · sign, then encrypt · sign, encrypt, sign again (RFC 2634 triple wrap).
    public enum Mode: String, Codable, CaseIterable, Sendable {
        case sign, encrypt
        case signEncrypt = "sign-encrypt"
        case triple

        public var signs: Bool { self != .encrypt }
        public var encrypts: Bool { self != .sign }
    }

    /// F6: what happens to a message when some recipient has no usable key.
    public enum MissingKeyAction: String, Codable, CaseIterable, Sendable {
        case bounce, drop, split
    }

    public static let signModes = ["detached", "opaque"]
    /// `auto`: AES-GCM (AuthEnvelopedData) when every recipient of an envelope is a harvested
    /// certificate whose owner announced it (SMIMECapabilities), else AES-256-CBC, which every client reads.
    public static let ciphers = ["auto", "aes-256-cbc", "aes-128-cbc", "aes-128-gcm", "aes-256-gcm"]
    public static let digests = ["sha256", "sha384", "sha512"]

    public var name: String
    public var mode: Mode
    public var certificate: String?
    public var signMode: String
    public var missingKey: MissingKeyAction
    public var cipher: String
    public var digest: String
    public var oaep: Bool
    /// F36: header protection (RFC 9788). New profiles protect and obscure (`encrypt`); a profile stored
    /// before the setting existed reads as `none`, so that nothing changes under an existing cron job.
    public var headerProtection: HeaderProtection
    /// F36: a Legacy Display Element (the real Subject at the top of the text) in encrypted messages
    /// whose Subject is obscured, for readers that decrypt but know nothing of header protection.
    public var legacyDisplay: Bool

    public init(
        name: String, mode: Mode, certificate: String? = nil, signMode: String = "detached",
        missingKey: MissingKeyAction = .bounce,
        cipher: String = "auto", digest: String = "sha256", oaep: Bool = false,
        headerProtection: HeaderProtection = .encrypt, legacyDisplay: Bool = false
    ) {
        self.name = name
        self.mode = mode
        self.certificate = certificate
        self.signMode = signMode
        self.missingKey = missingKey
        self.cipher = cipher
        self.digest = digest
        self.oaep = oaep
        self.headerProtection = headerProtection
        self.legacyDisplay = legacyDisplay
    }

    /// Stored profiles (JSON) from before a setting existed read with that setting's old behaviour.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), mode: try c.decode(Mode.self, forKey: .mode),
            certificate: try c.decodeIfPresent(String.self, forKey: .certificate),
            signMode: try c.decode(String.self, forKey: .signMode),
            missingKey: try c.decode(MissingKeyAction.self, forKey: .missingKey),
            cipher: try c.decode(String.self, forKey: .cipher), digest: try c.decode(String.self, forKey: .digest),
            oaep: try c.decode(Bool.self, forKey: .oaep),
            headerProtection: try c.decodeIfPresent(HeaderProtection.self, forKey: .headerProtection) ?? .none,
            legacyDisplay: try c.decodeIfPresent(Bool.self, forKey: .legacyDisplay) ?? false)
    }

    /// Structural problems (the certificate's existence and usability are checked
    /// against the keystore by the caller).
    public var problems: [String] {
        var problems: [String] = []
        if !SendingProfile.validName(name) {
            problems.append("invalid profile name \"\(name)\": use letters, digits, . _ - @")
        }
        if mode.signs && (certificate ?? "").isEmpty {
            problems.append("mode \(mode.rawValue) signs: a certificate (--cert) is required")
        }
        if !SendingProfile.signModes.contains(signMode) {
            problems.append("sign mode must be detached or opaque, not \"\(signMode)\"")
        }
        if !SendingProfile.ciphers.contains(cipher) { problems.append("unknown cipher \"\(cipher)\"") }
        if !SendingProfile.digests.contains(digest) { problems.append("unknown digest \"\(digest)\"") }
        return problems
    }

    public static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128
            && name.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                    || "._-@+".unicodeScalars.contains($0)
            }
    }

    /// A one-line description for listings.
    public var summary: String {
        var parts = ["mode=\(mode.rawValue)"]
        if let certificate { parts.append("cert=\(certificate)") }
        if mode.signs { parts.append("sign-mode=\(signMode)") }
        if mode.encrypts { parts += ["missing-key=\(missingKey.rawValue)", "cipher=\(cipher)"] }
        parts.append("header-protection=\(headerProtection.rawValue)" + (legacyDisplay ? " legacy-display=yes" : ""))
        return parts.joined(separator: " ")
    }

    /// True when TEXT appears in the name, mode or certificate (`profile search`).
    public func matches(_ text: String) -> Bool {
        let needle = text.lowercased()
        return [name, mode.rawValue, certificate ?? ""].contains { $0.lowercased().contains(needle) }
    }
}

/// The readable text format of `profile export` / `profile import`:
///
///     [profile partners]
///     mode = sign-encrypt
///     cert = gw
///     sign-mode = detached
///     missing-key = split
///     cipher = aes-256-cbc
///     digest = sha256
///     oaep = no
///     header-protection = encrypt
///     legacy-display = no
///
/// '#' starts a comment line. Unknown keys and bad values are problems, reported
/// by profile name. A file without `header-protection` (one exported before it existed) means
/// `none`: importing it again changes nothing.
public enum ProfileFile {
    public static func render(_ profiles: [SendingProfile]) -> String {
        var out = "# smimegate sending profiles\n"
        for p in profiles {
            out += "\n[profile \(p.name)]\nmode = \(p.mode.rawValue)\n"
            if let certificate = p.certificate { out += "cert = \(certificate)\n" }
            out += "sign-mode = \(p.signMode)\nmissing-key = \(p.missingKey.rawValue)\ncipher = \(p.cipher)\n"
            out += "digest = \(p.digest)\noaep = \(p.oaep ? "yes" : "no")\n"
            out += "header-protection = \(p.headerProtection.rawValue)\n"
            out += "legacy-display = \(p.legacyDisplay ? "yes" : "no")\n"
        }
        return out
    }

    /// Parses every profile; returns them with every problem found (prefixed by the
    /// profile's name, or the line number outside a profile).
    public static func parse(_ text: String) -> (profiles: [SendingProfile], problems: [String]) {
        var profiles: [SendingProfile] = []
        var problems: [String] = []
        var current: (name: String, fields: [String: String], line: Int)? = nil

        func finish() {
            guard let c = current else { return }
            var local: [String] = []
            let mode = c.fields["mode"].flatMap(SendingProfile.Mode.init(rawValue:))
            if c.fields["mode"] == nil {
                local.append("mode is missing")
            } else if mode == nil {
                local.append("unknown mode \"\(c.fields["mode"]!)\"")
            }
            let missing = c.fields["missing-key"].map { SendingProfile.MissingKeyAction(rawValue: $0) } ?? .bounce
            if missing == nil { local.append("unknown missing-key action \"\(c.fields["missing-key"]!)\"") }
            let oaepText = c.fields["oaep"] ?? "no"
            if !["yes", "no"].contains(oaepText) { local.append("oaep must be yes or no") }
            let protection =
                c.fields["header-protection"].map { HeaderProtection(rawValue: $0) } ?? HeaderProtection.none
            if protection == nil {
                local.append(
                    "header-protection must be none, sign or encrypt, not \"\(c.fields["header-protection"]!)\"")
            }
            let legacyText = c.fields["legacy-display"] ?? "no"
            if !["yes", "no"].contains(legacyText) { local.append("legacy-display must be yes or no") }
            let known = ["mode", "cert", "sign-mode", "missing-key", "cipher", "digest", "oaep"]
            for key in c.fields.keys where !(known + ["header-protection", "legacy-display"]).contains(key) {
                local.append("unknown setting \"\(key)\"")
            }
            if let mode, let missing, let protection {
                let profile = SendingProfile(
                    name: c.name, mode: mode, certificate: c.fields["cert"],
                    signMode: c.fields["sign-mode"] ?? "detached",
                    missingKey: missing, cipher: c.fields["cipher"] ?? "auto",
                    digest: c.fields["digest"] ?? "sha256",
                    oaep: oaepText == "yes", headerProtection: protection, legacyDisplay: legacyText == "yes")
                local += profile.problems
                if local.isEmpty { profiles.append(profile) }
            }
            if profiles.filter({ $0.name == c.name }).count > 1 { local.append("defined twice") }
            problems += local.map { "profile \(c.name): \($0)" }
            current = nil
        }

        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[profile ") && line.hasSuffix("]") {
                finish()
                let name = String(line.dropFirst("[profile ".count).dropLast()).trimmingCharacters(in: .whitespaces)
                current = (name, [:], index + 1)
                continue
            }
            guard current != nil else {
                problems.append("line \(index + 1): expected \"[profile NAME]\"")
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("profile \(current!.name): line \(index + 1) is not \"key = value\"")
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if current!.fields[key] != nil { problems.append("profile \(current!.name): \(key) given twice") }
            current!.fields[key] = value
        }
        finish()
        return (profiles, problems)
    }
}

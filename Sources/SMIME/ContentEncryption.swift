/// The content-encryption algorithm of an S/MIME envelope, and whether it
/// protects integrity: AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) does,
/// EnvelopedData with a CBC cipher (RFC 5652 §6) does not — its ciphertext can be
/// changed block by block without the key (EFAIL, USENIX Security 2018).
public struct ContentEncryption: Sendable, Equatable {
    /// The cipher as people write it ("AES-256-CBC"), or the algorithm's OID when unknown.
    public let name: String
    public let authenticated: Bool

    public init(name: String, authenticated: Bool) {
        self.name = name
        self.authenticated = authenticated
    }

    /// Reads `contentEncryptionAlgorithm` from a ContentInfo holding EnvelopedData or
    /// AuthEnvelopedData (RFC 5652 §6.1, RFC 5083 §2.1); BER with indefinite lengths
    /// is accepted, as OpenSSL streams it. `authenticated` is the envelope type's.
    public init(envelope der: [UInt8], authenticated: Bool) {
        self.authenticated = authenticated
        self.name = Self.algorithmOID(der).map { Self.names[$0] ?? $0 } ?? "unknown cipher"
    }

    static let names = [
        "2.16.840.1.101.3.4.1.2": "AES-128-CBC", "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
        "2.16.840.1.101.3.4.1.42": "AES-256-CBC", "2.16.840.1.101.3.4.1.6": "AES-128-GCM",
        "2.16.840.1.101.3.4.1.26": "AES-192-GCM", "2.16.840.1.101.3.4.1.46": "AES-256-GCM",
        "1.2.840.113549.3.7": "DES-EDE3-CBC", "1.3.14.3.2.7": "DES-CBC", "1.2.840.113549.3.2": "RC2-CBC",
        "1.2.840.113549.1.9.16.3.18": "ChaCha20-Poly1305",
    ]

    /// ContentInfo { contentType, [0] { SEQUENCE { version, [0] originatorInfo OPTIONAL,
    /// recipientInfos SET, SEQUENCE { contentType, AlgorithmIdentifier { OID, ... } } } } }
    static func algorithmOID(_ der: [UInt8]) -> String? {
        var reader = BERReader(der)
        guard let contentInfo = reader.enter(0x30), reader.skip(in: contentInfo), let explicit = reader.enter(0xA0),
            reader.position < explicit.end, let envelope = reader.enter(0x30), reader.skip(in: envelope)
        else { return nil }
        if reader.peekTag == 0xA0 { guard reader.skip(in: envelope) else { return nil } }  // originatorInfo
        guard reader.skip(in: envelope), let info = reader.enter(0x30), reader.skip(in: info),
            reader.enter(0x30) != nil, let oid = reader.primitive(0x06)
        else { return nil }
        return Self.dotted(oid)
    }

    static func dotted(_ oid: [UInt8]) -> String? {
        guard let first = oid.first else { return nil }
        var arcs = [first < 80 ? Int(first) / 40 : 2, first < 80 ? Int(first) % 40 : Int(first) - 80]
        var value = 0
        for byte in oid.dropFirst() {
            guard value < Int.max >> 8 else { return nil }
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                arcs.append(value)
                value = 0
            }
        }
        return arcs.map(String.init).joined(separator: ".")
    }
}

/// Just enough BER (X.690) to walk into nested structures: single-byte tags,
/// definite and indefinite lengths.
struct BERReader {
    /// The end of a constructed value; `indefinite` ones end at an end-of-contents octet pair.
    struct Scope {
        let end: Int
        let indefinite: Bool
    }

    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var peekTag: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// Reads a tag and length; nil for a malformed header.
    mutating func header() -> (tag: UInt8, length: Int?)? {
        guard position + 2 <= bytes.count else { return nil }
        let tag = bytes[position]
        guard tag & 0x1F != 0x1F else { return nil }
        var first = Int(bytes[position + 1])
        position += 2
        if first == 0x80 { return (tag, nil) }
        if first > 0x80 {
            let count = first & 0x7F
            guard count <= 4, position + count <= bytes.count else { return nil }
            first = 0
            for _ in 0..<count {
                first = first << 8 | Int(bytes[position])
                position += 1
            }
        }
        guard position + first <= bytes.count else { return nil }
        return (tag, first)
    }

    /// Enters a constructed value with `tag`.
    mutating func enter(_ tag: UInt8) -> Scope? {
        guard let (found, length) = header(), found == tag else { return nil }
        return length.map { Scope(end: position + $0, indefinite: false) } ?? Scope(end: bytes.count, indefinite: true)
    }

    /// The contents of a primitive value with `tag`.
    mutating func primitive(_ tag: UInt8) -> [UInt8]? {
        guard let (found, length) = header(), found == tag, let length else { return nil }
        defer { position += length }
        return Array(bytes[position..<position + length])
    }

    /// Skips one whole value (any depth of indefinite-length nesting) inside `scope`.
    mutating func skip(in scope: Scope, depth: Int = 0) -> Bool {
        guard depth < 32, position < scope.end, let (tag, length) = header() else { return false }
        if let length {
            position += length
            return true
        }
        guard tag & 0x20 != 0 else { return false }
        while position + 2 <= bytes.count {
            if bytes[position] == 0, bytes[position + 1] == 0 {
                position += 2
                return true
            }
            guard skip(in: scope, depth: depth + 1) else { return false }
        }
        return false
    }
}

/// A minimal reader of DER (X.690 §10) for the few fields OpenSSL 3.0 does not
/// expose: it walks tag-length-value elements of bytes that OpenSSL itself
/// re-encoded, so lengths are definite. Indefinite or overlong lengths are errors.
struct DERReader {
    struct Element {
        let tag: UInt8
        let value: ArraySlice<UInt8>
        var isConstructed: Bool { tag & 0x20 != 0 }
    }

    struct Malformed: Error {}

    private var bytes: ArraySlice<UInt8>
    /// All the bytes the reader was made with (their indices are those of `bytes`).
    let whole: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.whole = bytes
    }

    /// Where the next element starts.
    var position: Int { bytes.startIndex }

    var isAtEnd: Bool { bytes.isEmpty }

    /// The next element without consuming it.
    func peek() throws -> Element {
        var copy = self
        return try copy.read()
    }

    mutating func read() throws -> Element {
        guard let tag = bytes.first, tag & 0x1F != 0x1F else { throw Malformed() }  // no multi-byte tags here
        var index = bytes.index(after: bytes.startIndex)
        guard index < bytes.endIndex else { throw Malformed() }
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count > 0, count <= 4, bytes.endIndex - index >= count else { throw Malformed() }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard bytes.endIndex - index >= length else { throw Malformed() }
        let value = bytes[index..<index + length]
        bytes = bytes[(index + length)...]
        return Element(tag: tag, value: value)
    }

    /// Reads the next element, which must carry `tag`.
    mutating func read(_ tag: UInt8) throws -> Element {
        let element = try read()
        guard element.tag == tag else { throw Malformed() }
        return element
    }

    /// Skips the next element when it carries `tag` (an OPTIONAL field).
    mutating func skip(ifTag tag: UInt8) throws {
        if !isAtEnd, try peek().tag == tag { _ = try read() }
    }

    /// An OBJECT IDENTIFIER in dotted form (X.690 §8.19).
    static func objectIdentifier(_ element: Element) throws -> String {
        guard element.tag == 0x06, let first = element.value.first else { throw Malformed() }
        var arcs = [first < 80 ? Int(first) / 40 : 2, first < 80 ? Int(first) % 40 : Int(first) - 80]
        var value = 0
        for byte in element.value.dropFirst() {
            guard value < Int.max >> 8 else { throw Malformed() }
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 {
                arcs.append(value)
                value = 0
            }
        }
        return arcs.map(String.init).joined(separator: ".")
    }

    /// The non-negative INTEGER of a small element.
    static func integer(_ element: Element) throws -> Int {
        guard element.tag == 0x02, !element.value.isEmpty, element.value.count <= 4,
            element.value.first! & 0x80 == 0
        else { throw Malformed() }
        return element.value.reduce(0) { $0 << 8 | Int($1) }
    }
}

extension CMS {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes` (digests in file names, fingerprints): a table lookup per
    /// nibble, since `String(format: "%02x")` costs microseconds a byte and runs per message.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

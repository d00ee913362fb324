import COpenSSL
import Locking

/// The certificates a SignedData carries, parsed once per run. OpenSSL 3.0 decodes every certificate's
/// public key through its decoder framework as it parses a message — about a million instructions per
/// certificate (callgrind: a third of a verification) — though a run sees the same few partners' certificates
/// again and again. So the certificates are cut out of the DER before OpenSSL parses it, and each distinct
/// one is parsed once and kept; CMS_verify gets them beside the message. The signature does not cover the
/// certificates field (RFC 5652 §5.4), so nothing it checks changes.
enum CarriedCertificates {
    /// A SignedData ContentInfo without its certificates, and their DER, when `der` is definite-length DER
    /// with X.509 certificates only; nil otherwise (BER, other certificate choices, anything unexpected):
    /// then OpenSSL parses the message whole, as before.
    static func split(_ der: [UInt8]) -> (stripped: [UInt8], certificates: [ArraySlice<UInt8>])? {
        do {
            var top = DERReader(der[...])
            let contentInfo = try top.read(0x30)
            guard top.isAtEnd else { return nil }
            var info = DERReader(contentInfo.value)
            let type = try info.readWithHeader(0x06)
            guard try DERReader.objectIdentifier(type.element) == "1.2.840.113549.1.7.2" else { return nil }
            let explicit = try info.read(0xA0)
            guard info.isAtEnd else { return nil }
            var wrapper = DERReader(explicit.value)
            let signedData = try wrapper.read(0x30)
            guard wrapper.isAtEnd else { return nil }
            var fields = DERReader(signedData.value)
            var kept: [UInt8] = []
            var certificates: [ArraySlice<UInt8>] = []
            var found = false
            while !fields.isAtEnd {
                let field = try fields.readWithHeader()
                guard field.element.tag == 0xA0, !found else {
                    kept += field.raw
                    continue
                }
                found = true
                var set = DERReader(field.element.value)
                while !set.isAtEnd {
                    let certificate = try set.readWithHeader()
                    guard certificate.element.tag == 0x30 else { return nil }  // attribute certificates and the like
                    certificates.append(certificate.raw)
                }
            }
            guard found else { return nil }
            let body = DERReader.encode(0xA0, DERReader.encode(0x30, kept))
            return (DERReader.encode(0x30, Array(type.raw) + body), certificates)
        } catch {
            return nil
        }
    }

    /// Each distinct certificate parsed once (by its exact DER), up to `limit` kept at a time.
    static func certificate(_ der: ArraySlice<UInt8>) -> Certificate? {
        let key = Array(der)
        if let known = cache.withLock({ $0[key] }) { return known }
        guard let parsed = try? Certificate(bytes: key) else { return nil }
        cache.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[key] = parsed
        }
        return parsed
    }

    static let limit = 4096
    private static let cache = Locked<[[UInt8]: Certificate]>([:])
}

extension DERReader {
    /// The next element, and its bytes whole (tag and length too).
    mutating func readWithHeader(_ tag: UInt8? = nil) throws -> (element: Element, raw: ArraySlice<UInt8>) {
        let start = position
        let element = try tag.map { try read($0) } ?? read()
        return (element, whole[start..<element.value.endIndex])
    }

    /// A DER element: `tag`, a definite length, `value`.
    static func encode(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        var count = value.count
        if count < 0x80 {
            length = [UInt8(count)]
        } else {
            while count > 0 {
                length.insert(UInt8(count & 0xFF), at: 0)
                count >>= 8
            }
            length.insert(0x80 | UInt8(length.count), at: 0)
        }
        return [tag] + length + value
    }
}

import CMS
import MIME

/// A message or entity that S/MIME could not handle, with a one-line reason.
public struct SMIMEError: Error, CustomStringConvertible, Sendable {
    /// What a caller may act on; most errors are just their reason.
    public enum Kind: Sendable { case other, notAddressed }
    public let reason: String
    public let kind: Kind
    public init(_ reason: String, kind: Kind = .other) {
        self.reason = reason
        self.kind = kind
    }
    public var description: String { reason }
}

/// What kind of S/MIME a message is (RFC 8551 §3.2–3.5). Input is accepted
/// liberally: `application/x-pkcs7-mime`, `x-pkcs7-signature`, a missing
/// `smime-type` (the CMS content type decides), `application/octet-stream`
/// named `*.p7m`, and multipart/signed with a missing or unusual `protocol`.
public enum SMIMEForm: Sendable {
    case signedOpaque(der: [UInt8])
    /// The first part's bytes exactly as written, and the detached signature.
    case signedDetached(content: [UInt8], signature: [UInt8])
    case enveloped(der: [UInt8], authenticated: Bool)
    case certsOnly(der: [UInt8])
    case unsupported(String)
    case notSMIME(mediaType: String)

    public var isSigned: Bool {
        switch self {
        case .signedOpaque, .signedDetached: true
        default: false
        }
    }

    /// Whether the message is S/MIME-encrypted as it stands (the filter condition `encrypted`);
    /// content that cannot be classified is not.
    public static func isEncrypted(_ entity: Entity) -> Bool {
        // Ordinary mail is answered from the field's first bytes: no parsing, no decoding.
        guard let field = entity.fields.first(where: { $0.hasName("Content-Type") }),
            field.value.utf8.prefix(12).map({ $0 | 0x20 }) == Array("application/".utf8)
        else { return false }
        if case .enveloped = try? classify(entity) { return true }
        return false
    }

    public static func classify(_ entity: Entity, limits: MIMELimits = .standard) throws -> SMIMEForm {
        let type = entity.contentType
        if type.mediaType == "multipart/signed" {
            guard let boundary = type["boundary"] else {
                throw SMIMEError("multipart/signed without a boundary parameter")
            }
            let multipart = try Multipart.parse(entity.body, boundary: boundary)
            guard multipart.parts.count == 2 else {
                throw SMIMEError("multipart/signed has \(multipart.parts.count) parts instead of 2")
            }
            let signaturePart = try Entity.parse(multipart.parts[1], limits: limits, allowEmptyHeader: true)
            let signature = try signaturePart.decodedBody()
            if signature.isEmpty { throw SMIMEError("multipart/signed has an empty signature part") }
            return .signedDetached(content: multipart.parts[0], signature: signature)
        }
        let isPKCS7 =
            type.mediaType == "application/pkcs7-mime" || type.mediaType == "application/x-pkcs7-mime"
            || (type.mediaType == "application/octet-stream" && hasP7MName(entity, type))
        guard isPKCS7 else { return .notSMIME(mediaType: type.mediaType) }
        let der = try entity.decodedBody()
        if der.isEmpty { throw SMIMEError("empty \(type.mediaType) body") }
        do {
            switch try CMS.contentType(of: der) {
            case .signedData:
                if type["smime-type"]?.lowercased() == "certs-only" { return .certsOnly(der: der) }
                return .signedOpaque(der: der)
            case .envelopedData: return .enveloped(der: der, authenticated: false)
            case .authEnvelopedData: return .enveloped(der: der, authenticated: true)
            case .compressedData: return .unsupported("compressed-data is not supported")
            case let other: return .unsupported("unexpected CMS content type \(other)")
            }
        } catch let error as OpenSSLError {
            throw SMIMEError(error.reasons.first ?? error.description)
        }
    }

    private static func hasP7MName(_ entity: Entity, _ type: ContentType) -> Bool {
        let name =
            (type["name"]
                ?? entity.field("Content-Disposition").flatMap {
                    ContentType(
                        parsing: "x/x; "
                            + ($0.split(separator: ";", maxSplits: 1).dropFirst().first.map(String.init) ?? ""))?[
                            "filename"]
                }) ?? ""
        return name.lowercased().hasSuffix(".p7m")
    }
}

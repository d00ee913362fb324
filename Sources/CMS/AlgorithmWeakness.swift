import COpenSSL

/// A key or a certificate signature below the `AlgorithmFloor`, named for an
/// operator ("RSA-1024 key of CN=Old Signer", "sha1 signature on CN=Old Signer").
public enum AlgorithmWeakness: Equatable, Sendable, CustomStringConvertible {
    case shortKey(algorithm: String, bits: Int, subject: String)
    case weakSignature(digest: String, subject: String)

    public var description: String {
        switch self {
        case .shortKey(let algorithm, let bits, let subject): "\(algorithm)-\(bits) key of \(subject)"
        case .weakSignature(let digest, let subject): "\(digest) signature on \(subject)"
        }
    }

    /// The weaknesses of a chain ordered leaf first. The signature of a self-signed
    /// anchor proves nothing (it is trusted as configured), so it is not judged.
    public static func find(in chain: [Certificate]) -> [AlgorithmWeakness] {
        var found: [AlgorithmWeakness] = []
        for (index, certificate) in chain.enumerated() {
            let (algorithm, bits) = certificate.publicKey
            let security = X509_get0_pubkey(certificate.x509).map { EVP_PKEY_get_security_bits($0) } ?? 0
            if security < AlgorithmFloor.minimumSecurityBits
                || (algorithm == "EC" && bits < AlgorithmFloor.minimumECBits)
                || (["RSA", "RSA-PSS", "DSA"].contains(algorithm) && bits < AlgorithmFloor.minimumRSABits)
            {
                found.append(.shortKey(algorithm: algorithm, bits: bits, subject: certificate.subject))
            }
            if index == chain.count - 1 && certificate.isSelfSigned { continue }
            var digest: Int32 = 0
            var signatureBits: Int32 = 0
            if X509_get_signature_info(certificate.x509, &digest, nil, &signatureBits, nil) == 1,
                signatureBits < AlgorithmFloor.minimumSecurityBits
            {
                let name = OBJ_nid2sn(digest).map { String(cString: $0).lowercased() } ?? "weak"
                found.append(.weakSignature(digest: name, subject: certificate.subject))
            }
        }
        return found
    }
}

import ArgumentParser
import Foundation
import Keystore

struct Home: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The home itself: how its private keys are protected at rest.",
        subcommands: [HomeEncrypt.self])
}

struct HomeEncrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt the home's private keys with a home passphrase, and require it from then on.",
        discussion: """
            The passphrase is read from --home-passphrase-file FILE or the file named by $SMIMEGATE_PASSPHRASE_FILE. \
            Every private key stored unencrypted is encrypted (PKCS #8, AES-256) and a check of the passphrase \
            (PBKDF2-HMAC-SHA-256, salted) is stored, in one transaction: all or nothing. From then on, commands that \
            store or use a private key refuse to run without the right passphrase; lists and public keys need none. \
            On a home already encrypted with this passphrase there is nothing to do (exit 0); with another passphrase \
            it is refused (exit 2): changing the passphrase is not supported. SQLite overwrites the replaced \
            plaintext in the keystore file, but copies made before (backups, old disk blocks) are not reached.
            """)
    @OptionGroup var home: HomeOptions

    func run() throws {
        let store = try home.open()
        guard store.hasPassphrase else {
            throw Failure.usage(
                "give the new home passphrase with --home-passphrase-file FILE or $SMIMEGATE_PASSPHRASE_FILE")
        }
        let result = try configuring { try store.encryptPrivateKeys() }
        switch result {
        case .alreadyEncrypted:
            print("\(store.home.path): private keys are already encrypted with this home passphrase: nothing to do")
        case .encrypted(let keys):
            print("\(store.home.path): encrypted \(keys) private key(s) with the home passphrase (PKCS #8, AES-256)")
            print("commands that store or use a private key now need the home passphrase")
        }
    }
}

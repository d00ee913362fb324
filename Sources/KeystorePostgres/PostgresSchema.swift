extension PostgresKeystoreDatabase {
    /// The keystore schema in PostgreSQL: entry i takes it from version i to i + 1, as SQLiteDatabase's entry i
    /// does for SQLite (the same tables and columns; `KeystoreSchema.version` says how many). Text sorts and
    /// compares byte by byte (`COLLATE "C"`), as in SQLite, whatever the database's locale; addresses and
    /// domains are stored in lower case by the keystore, so SQLite's NOCASE columns need no counterpart.
    /// The version is the one row of `smimegate_schema`. Never edit a released entry: append a new one.
    static let migrations: [String] = [
        """
        CREATE TABLE smimegate_schema (version INTEGER NOT NULL);
        CREATE TABLE certificates (
            name TEXT COLLATE "C" PRIMARY KEY,
            certificate_pem TEXT NOT NULL,
            key_pem TEXT NOT NULL,
            key_encrypted INTEGER NOT NULL DEFAULT 0,
            chain_pem TEXT NOT NULL DEFAULT '',
            fingerprint TEXT COLLATE "C" NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE public_keys (
            name TEXT COLLATE "C" PRIMARY KEY,
            certificate_pem TEXT NOT NULL,
            fingerprint TEXT COLLATE "C" NOT NULL,
            not_after TEXT COLLATE "C" NOT NULL,
            source TEXT COLLATE "C" NOT NULL DEFAULT 'added',
            created_at TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE public_key_names (
            key_name TEXT COLLATE "C" NOT NULL REFERENCES public_keys(name) ON DELETE CASCADE,
            kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('email', 'domain')),
            value TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX public_key_names_value ON public_key_names(value);
        CREATE TABLE ca_certificates (
            fingerprint TEXT COLLATE "C" PRIMARY KEY,
            subject TEXT COLLATE "C" NOT NULL,
            certificate_pem TEXT NOT NULL,
            added_at TEXT COLLATE "C" NOT NULL
        );
        """,
        """
        CREATE TABLE profiles (
            name TEXT COLLATE "C" PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at TEXT COLLATE "C" NOT NULL
        );
        """,
        """
        CREATE TABLE settings (
            name TEXT COLLATE "C" PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        """
        CREATE TABLE policy (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            text TEXT NOT NULL,
            sha256 TEXT COLLATE "C" NOT NULL,
            loaded_at TEXT COLLATE "C" NOT NULL
        );
        """,
        """
        ALTER TABLE ca_certificates ADD COLUMN anchor INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE crls (
            fingerprint TEXT COLLATE "C" PRIMARY KEY,
            issuer TEXT COLLATE "C" NOT NULL,
            scope TEXT COLLATE "C" NOT NULL,
            this_update TEXT COLLATE "C" NOT NULL,
            next_update TEXT COLLATE "C",
            entries INTEGER NOT NULL,
            crl_pem TEXT NOT NULL,
            source TEXT COLLATE "C" NOT NULL,
            added_at TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE crl_sources (
            url TEXT COLLATE "C" PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            checked_at TEXT COLLATE "C" NOT NULL,
            status TEXT NOT NULL
        );
        CREATE TABLE harvested (
            fingerprint TEXT COLLATE "C" PRIMARY KEY,
            subject TEXT COLLATE "C" NOT NULL,
            certificate_pem TEXT NOT NULL,
            is_ca INTEGER NOT NULL,
            not_before TEXT COLLATE "C" NOT NULL,
            not_after TEXT COLLATE "C" NOT NULL,
            verified INTEGER NOT NULL,
            capabilities TEXT NOT NULL DEFAULT '',
            first_seen TEXT COLLATE "C" NOT NULL,
            last_seen TEXT COLLATE "C" NOT NULL,
            last_used TEXT COLLATE "C" NOT NULL,
            message TEXT NOT NULL,
            size BIGINT NOT NULL
        );
        CREATE INDEX harvested_last_used ON harvested(last_used, first_seen, fingerprint);
        CREATE TABLE harvest_size (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            total BIGINT NOT NULL
        );
        INSERT INTO harvest_size (id, total) VALUES (1, 0);
        CREATE FUNCTION harvested_size_in() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN UPDATE harvest_size SET total = total + NEW.size WHERE id = 1; RETURN NULL; END $$;
        CREATE FUNCTION harvested_size_out() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN UPDATE harvest_size SET total = total - OLD.size WHERE id = 1; RETURN NULL; END $$;
        CREATE TRIGGER harvested_size_in AFTER INSERT ON harvested
            FOR EACH ROW EXECUTE FUNCTION harvested_size_in();
        CREATE TRIGGER harvested_size_out AFTER DELETE ON harvested
            FOR EACH ROW EXECUTE FUNCTION harvested_size_out();
        CREATE TABLE harvested_names (
            fingerprint TEXT COLLATE "C" NOT NULL REFERENCES harvested(fingerprint) ON DELETE CASCADE,
            kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('email', 'domain')),
            value TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX harvested_names_value ON harvested_names(value);
        CREATE INDEX harvested_names_fingerprint ON harvested_names(fingerprint);
        CREATE TABLE harvest_updates (
            name TEXT COLLATE "C" NOT NULL,
            fingerprint TEXT COLLATE "C" NOT NULL,
            seen_at TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (name, fingerprint)
        );
        CREATE TABLE alerts (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            raised_at TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL,
            fingerprints TEXT NOT NULL,
            message TEXT NOT NULL,
            text TEXT NOT NULL
        );
        """,
        """
        ALTER TABLE certificates ADD COLUMN retired_at TEXT COLLATE "C";
        """,
    ]

    /// Every table the migrations make (for `doctor`).
    static let tables = [
        "smimegate_schema", "certificates", "public_keys", "public_key_names", "ca_certificates", "profiles",
        "settings", "policy", "crls", "crl_sources", "harvested", "harvest_size", "harvested_names",
        "harvest_updates", "alerts",
    ]
}

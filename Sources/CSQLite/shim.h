// The system SQLite, for the keystore (the lean alternative to GRDB, NOTES-openssl.md).
#ifndef SMIMEGATE_CSQLITE_SHIM_H
#define SMIMEGATE_CSQLITE_SHIM_H
#include <sqlite3.h>
// SQLITE_TRANSIENT is a cast macro Swift cannot import.
static inline void (*smg_sqlite_transient(void))(void *) { return SQLITE_TRANSIENT; }
#endif

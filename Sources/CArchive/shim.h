// libarchive, for key bundles (tar archives, SPEC F20).
#ifndef SMIMEGATE_CARCHIVE_SHIM_H
#define SMIMEGATE_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
static inline unsigned int smg_AE_IFREG(void) { return AE_IFREG; }
#endif

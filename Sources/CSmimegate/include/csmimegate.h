// What Swift cannot reach in glibc: mallopt, syncfs, pipe2 and strptime are not in the Glibc module.
#ifndef SMIMEGATE_CSYSTEM_H
#define SMIMEGATE_CSYSTEM_H

#include <stddef.h>

/// Keeps large blocks (messages of a megabyte and more, copied a few times each)
/// in the heap for reuse, instead of an mmap, page faults and munmap per block.
void smg_tune_allocator(void);

/// syncfs(2) (a GNU extension, hidden from Swift's Glibc module): flushes the
/// whole file system holding `fd`. Returns 0, or -1 with errno set.
int smg_syncfs(int fd);

/// pipe2(fds, O_CLOEXEC): a pipe whose ends no concurrently spawned child inherits.
/// Returns 0, or -1 with errno set.
int smg_pipe_cloexec(int fds[2]);

/// The instant an RFC 5322 date-time (as mailers write it: with or without the day of the week and the
/// seconds, a numeric zone; the obsolete forms with a two-digit year or a zone name, read as UTC) names,
/// in seconds since the epoch (before 1970 too), in `*seconds`. Returns 1, or 0 when `text` is not one.
int smg_parse_mail_date(const char *text, long long *seconds);

/// libFuzzer's entry (in the fuzzer runtime, linked only by scripts/fuzz.sh's build of Fuzz/): runs the
/// fuzzing loop over `callback` with the command line's options. Declared here for Swift; never defined by us.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const unsigned char *data, size_t size));

#endif

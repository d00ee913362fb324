// Process-level tuning that Swift cannot reach (glibc's mallopt is not in the Glibc module).
#ifndef SMIMEGATE_CSYSTEM_H
#define SMIMEGATE_CSYSTEM_H

/// Keeps large blocks (messages of a megabyte and more, copied a few times each)
/// in the heap for reuse, instead of an mmap, page faults and munmap per block.
void smg_tune_allocator(void);

#endif

#define _GNU_SOURCE
#include "csystem.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

void smg_tune_allocator(void) {
#if defined(__GLIBC__)
    // glibc starts at a 128 KiB mmap threshold (raised only as big blocks are freed) and trims
    // the heap eagerly; on the mixed corpus that cost ~30 % in page faults and clearing pages.
    // Memory stays bounded: what is kept is at most the run's peak, itself bounded by
    // (queue + workers) × message size.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
}

int smg_syncfs(int fd) {
#if defined(__linux__)
    return syncfs(fd);
#else
    sync();
    return 0;
#endif
}

int smg_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

long long smg_parse_mail_date(const char *text) {
    static const char *formats[] = {
        "%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M %z", "%d %b %Y %H:%M %z",
    };
    while (*text == ' ' || *text == '\t') text++;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm parts;
        memset(&parts, 0, sizeof parts);
        const char *rest = strptime(text, formats[i], &parts);
        if (rest == NULL) continue;
        while (*rest == ' ' || *rest == '\t' || *rest == '\r') rest++;
        if (*rest != '\0' && *rest != '(') continue;  // a trailing comment, "(UTC)", is allowed
        long offset = parts.tm_gmtoff;
        return (long long)timegm(&parts) - offset;
    }
    return -1;
}

#define _GNU_SOURCE
#include "csmimegate.h"

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

int smg_parse_mail_date(const char *text, long long *seconds) {
    static const char *zoned[] = {
        "%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M %z", "%d %b %Y %H:%M %z",
    };
    /* RFC 5322 §4.3: two-digit years, zone names (EST, GMT, UT): read as UTC, good enough for a From_ line. */
    static const char *obsolete[] = {
        /* %y first: glibc's %Y takes "97" as the year 97, while %y fails on "2016 " (two digits, then no space). */
        "%a, %d %b %y %H:%M:%S", "%d %b %y %H:%M:%S", "%a, %d %b %Y %H:%M:%S", "%d %b %Y %H:%M:%S",
        "%a, %d %b %Y %H:%M", "%d %b %Y %H:%M",
    };
    while (*text == ' ' || *text == '\t') text++;
    for (int pass = 0; pass < 2; pass++) {
        const char **formats = pass == 0 ? zoned : obsolete;
        size_t count = pass == 0 ? sizeof zoned / sizeof zoned[0] : sizeof obsolete / sizeof obsolete[0];
        for (size_t i = 0; i < count; i++) {
            struct tm parts;
            memset(&parts, 0, sizeof parts);
            const char *rest = strptime(text, formats[i], &parts);
            if (rest == NULL) continue;
            while (*rest == ' ' || *rest == '\t' || *rest == '\r') rest++;
            /* A trailing comment ("(UTC)") is allowed; the obsolete forms allow a zone name too. */
            if (pass == 0 && *rest != '\0' && *rest != '(') continue;
            if (pass == 1 && *rest != '\0' && *rest != '(' && !(*rest >= 'A' && *rest <= 'Z')) continue;
            long offset = pass == 0 ? parts.tm_gmtoff : 0;
            *seconds = (long long)timegm(&parts) - offset;
            return 1;
        }
    }
    return 0;
}

/* A tiny test harness: CHECK counts passes and failures; main ends with DONE(). */
#ifndef AMI_TEST_CHECK_H
#define AMI_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int checks_passed, checks_failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            checks_passed++;                                                           \
        } else {                                                                       \
            checks_failed++;                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                              \
    } while (0)

/* CHECK that a call returned `expected`, printing both codes' names otherwise. */
#define CHECK_RC(call, expected)                                                       \
    do {                                                                               \
        ami_result rc_ = (call);                                                       \
        if (rc_ == (ami_result)(expected)) {                                           \
            checks_passed++;                                                           \
        } else {                                                                       \
            checks_failed++;                                                           \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, \
                    #call, ami_result_str(rc_), ami_result_str(expected));             \
        }                                                                              \
    } while (0)

/* Equal to a NUL-terminated string? */
static inline int bytes_eq(const void *data, size_t len, const char *s) {
    return len == strlen(s) && (len == 0 || memcmp(data, s, len) == 0);
}

#define DONE()                                                                         \
    do {                                                                               \
        printf("%d passed, %d failed\n", checks_passed, checks_failed);               \
        return checks_failed == 0 ? 0 : 1;                                             \
    } while (0)

#endif

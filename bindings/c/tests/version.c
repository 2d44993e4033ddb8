/* The header's version macros, ami_version() and the linked library agree. */
#include <stdio.h>
#include <string.h>

#include "ami.h"

int main(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", AMI_VERSION_MAJOR, AMI_VERSION_MINOR,
             AMI_VERSION_PATCH);
    const char *actual = ami_version();
    if (actual == NULL || strcmp(actual, expected) != 0) {
        fprintf(stderr, "version mismatch: header %s, library %s\n", expected,
                actual ? actual : "(null)");
        return 1;
    }
    printf("1 passed, 0 failed: libami %s\n", actual);
    return 0;
}

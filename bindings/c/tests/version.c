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
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("libami %s\n", actual);
    printf("1 passed, 0 failed\n");
    return 0;
}

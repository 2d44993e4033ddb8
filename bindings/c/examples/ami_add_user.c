/* ami_add_user: add an AMI user to manager.conf with a generated secret, the way an admin panel
 * written in C would, and print the secret once.
 *
 *   cc ami_add_user.c $(pkg-config --cflags --libs libami) -o ami_add_user
 *   ./ami_add_user /etc/asterisk/manager.conf crm call,cdr originate 10.0.0.0/8
 *   ./ami_add_user FILE NAME READ WRITE NETWORK
 *
 * READ and WRITE are exact class names (`call,cdr`, `none`); only NETWORK may log in.
 * Then apply it: asterisk -rx 'manager reload'.
 * Exit status: 0 written, 1 refused or failed (the file is unchanged), 2 usage.
 *
 * libami does no I/O: this program reads the file, hands its text to the editor and writes the
 * result back atomically (temporary file in the same directory, fsync, rename). */
#define _POSIX_C_SOURCE 200809L
#include <ami.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file in a malloc'd buffer (NUL-terminated), or NULL. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) { buf[n] = '\0'; *len = n; }
    return buf;
}

/* Replaces `path` atomically with `len` bytes, keeping its mode. */
static int write_atomic(const char *path, const char *data, size_t len) {
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0600;
    char temp[4096];
    if (snprintf(temp, sizeof temp, "%s.ami-XXXXXX", path) >= (int)sizeof temp) return -1;
    int fd = mkstemp(temp); /* mode 0600, in the same directory */
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) { close(fd); unlink(temp); return -1; }
        done += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0 || rename(temp, path) != 0) {
        unlink(temp);
        return -1;
    }
    return 0;
}

/* A class list → mask, read as Asterisk reads `read=`/`write=` (ami_perm_parse): pass exact
 * names, since a quirk such as `,call` means every class. The editor writes the mask back as
 * exact names, so the file says what the mask is. */
static uint32_t classes(const char *text) {
    uint32_t mask = 0;
    ami_perm_parse(text, strlen(text), &mask);
    return mask;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s FILE NAME READ WRITE NETWORK\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *name = argv[2];
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) { perror(path); return 1; }

    ami_config_edit *editor = NULL;
    int status = 1;
    ami_str why;
    if (ami_config_edit_new(&editor) != AMI_RESULT_OK) { free(text); return 1; }
    if (ami_config_edit_load(editor, text, len, false) != AMI_RESULT_OK) {
        uint32_t line = 0;
        ami_config_edit_error_line(editor, &line);
        ami_config_edit_last_error(editor, &why);
        fprintf(stderr, "%s:%u: %.*s\n", path, line, (int)why.len, why.data);
        goto out;
    }

    char secret[33];
    size_t secret_len = 0;
    if (ami_secret_generate(32, secret, sizeof secret, &secret_len) != AMI_RESULT_OK) goto out;

    const char *network = argv[5];
    ami_acl_rule rules[3] = {
        {AMI_ACL_DENY, "0.0.0.0/0", 9},
        {AMI_ACL_DENY, "::/0", 4},
        {AMI_ACL_PERMIT, network, strlen(network)},
    };
    ami_user_settings settings = {0}; /* {0}: change nothing; set what is asked */
    settings.set = AMI_USER_SECRET | AMI_USER_READ | AMI_USER_WRITE | AMI_USER_ACL;
    settings.secret = secret;
    settings.secret_len = secret_len;
    settings.read = classes(argv[3]);
    settings.write = classes(argv[4]);
    settings.acl = rules;
    settings.acl_len = 3;
    if (ami_config_edit_add_user(editor, name, strlen(name), &settings) != AMI_RESULT_OK) {
        ami_config_edit_last_error(editor, &why);
        fprintf(stderr, "refused: %.*s\n", (int)why.len, why.data);
        goto out;
    }

    /* What `ami check` says about the new user. */
    size_t count = 0;
    ami_config_edit_finding_count(editor, &count);
    for (size_t i = 0; i < count; i++) {
        ami_str code, message;
        uint32_t severity;
        if (ami_config_edit_finding(editor, i, &code, &severity, &message) == AMI_RESULT_OK)
            fprintf(stderr, "%s[%.*s] %.*s\n", severity == 1 ? "warning" : "info", (int)code.len,
                    code.data, (int)message.len, message.data);
    }

    ami_str result; /* a view into the editor: valid until its next non-const call */
    ami_config_edit_text(editor, &result);
    if (write_atomic(path, result.data, result.len) != 0) {
        perror(path);
        goto out;
    }
    printf("%s: user %s added; its secret (shown once): %s\n", path, name, secret);
    printf("apply it with: asterisk -rx 'manager reload'\n");
    status = 0;
out:
    ami_config_edit_free(editor);
    free(text);
    return status;
}

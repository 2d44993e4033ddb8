/*
 * Decodes real Asterisk captures through the C API: whole, byte by byte and in random chunks.
 * The expected frames are not hard-coded: each capture is first decoded whole, and every chunked
 * decoding must yield the same frames (kind, bytes, headers).
 *
 * Usage: decode FILE...   (*.s2c decoded as a client, *.c2s as a server)
 */
#include <stdint.h>
#include <stdlib.h>

#include "ami.h"
#include "check.h"

/* A summary of a decoding: frame counts per kind and a hash of everything seen. */
typedef struct {
    size_t frames[4]; /* indexed by ami_frame_kind */
    size_t headers;
    uint64_t hash;
} summary;

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211u;
    }
    return h;
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Reads everything the current frame offers into the summary. */
static void look_at_frame(const ami_decoder *dec, ami_frame_kind kind, summary *sum) {
    ami_bytes raw;
    CHECK_RC(ami_decoder_raw(dec, &raw), AMI_RESULT_OK);
    sum->frames[kind]++;
    sum->hash = fnv(sum->hash, &kind, sizeof kind);
    sum->hash = fnv(sum->hash, raw.data, raw.len);
    if (kind == AMI_FRAME_BANNER) {
        ami_bytes version;
        CHECK_RC(ami_decoder_banner_version(dec, &version), AMI_RESULT_OK);
        CHECK(version.len > 0);
        sum->hash = fnv(sum->hash, version.data, version.len);
        return;
    }
    size_t n = 0;
    CHECK_RC(ami_decoder_header_count(dec, &n), AMI_RESULT_OK);
    for (size_t i = 0; i < n; i++) {
        ami_header h;
        CHECK_RC(ami_decoder_header(dec, i, &h), AMI_RESULT_OK);
        CHECK(h.bare == (h.name.len == 0));
        sum->hash = fnv(sum->hash, h.name.data, h.name.len);
        sum->hash = fnv(sum->hash, h.value.data, h.value.len);
        /* The view lies inside the frame's bytes (server role: the kept lines). */
        CHECK(h.value.data >= raw.data && h.value.data + h.value.len <= raw.data + raw.len);
    }
    sum->headers += n;
    ami_header past;
    CHECK_RC(ami_decoder_header(dec, n, &past), AMI_RESULT_NOT_FOUND);
    /* The whole array at once holds exactly the lines the per-line accessor gives. */
    const ami_header *all = NULL;
    size_t count = 0;
    CHECK_RC(ami_decoder_headers(dec, &all, &count), AMI_RESULT_OK);
    CHECK(all != NULL && count == n);
    for (size_t i = 0; all != NULL && i < count && i < n; i++) {
        ami_header h;
        CHECK_RC(ami_decoder_header(dec, i, &h), AMI_RESULT_OK);
        CHECK(h.name.data == all[i].name.data && h.name.len == all[i].name.len);
        CHECK(h.value.data == all[i].value.data && h.value.len == all[i].value.len);
        CHECK(h.bare == all[i].bare);
    }
    /* The decoder's own index gives the same views through the inline slot helpers. */
    const uint8_t *bytes = NULL;
    size_t bytes_len = 0, nslots = 0;
    const ami_slot *slots = NULL;
    CHECK_RC(ami_decoder_slots(dec, &bytes, &bytes_len, &slots, &nslots), AMI_RESULT_OK);
    CHECK(bytes != NULL && slots != NULL && nslots == n);
    if (kind == AMI_FRAME_MESSAGE) {
        CHECK(bytes == raw.data && bytes_len == raw.len);
    }
    for (size_t i = 0; all != NULL && slots != NULL && i < nslots && i < count; i++) {
        ami_bytes name = ami_slot_name(bytes, slots[i]), value = ami_slot_value(bytes, slots[i]);
        CHECK(slots[i].end <= bytes_len && slots[i].value <= slots[i].end);
        CHECK(name.data == all[i].name.data && name.len == all[i].name.len);
        CHECK(value.data == all[i].value.data && value.len == all[i].value.len);
        CHECK(ami_slot_is_bare(slots[i]) == all[i].bare);
    }
    if (kind == AMI_FRAME_ERROR) {
        ami_frame_error_kind ek;
        size_t limit = 0;
        ami_str text;
        CHECK_RC(ami_decoder_frame_error(dec, &ek, &limit, &text), AMI_RESULT_OK);
        CHECK((limit > 0) == (ek != AMI_FRAME_ERROR_NOT_AMI_SERVER) && text.len > 0);
        sum->hash = fnv(sum->hash, &ek, sizeof ek);
        return;
    }
    ami_message_kind mk;
    CHECK_RC(ami_decoder_message_kind(dec, &mk), AMI_RESULT_OK);
    sum->hash = fnv(sum->hash, &mk, sizeof mk);
    ami_bytes id;
    if (ami_decoder_action_id(dec, &id) == AMI_RESULT_OK) {
        sum->hash = fnv(sum->hash, id.data, id.len);
    }
    size_t lines = 0;
    ami_result rc = ami_decoder_output_lines(dec, NULL, 0, &lines);
    if (rc == AMI_RESULT_INSUFFICIENT_SIZE) {
        ami_bytes *out = malloc(lines * sizeof *out);
        size_t got = 0;
        CHECK(out != NULL);
        CHECK_RC(ami_decoder_output_lines(dec, out, lines, &got), AMI_RESULT_OK);
        CHECK(got == lines);
        for (size_t i = 0; i < got; i++) {
            sum->hash = fnv(sum->hash, out[i].data, out[i].len);
        }
        free(out);
    } else if (rc != AMI_RESULT_OK) { /* OK: zero lines */
        CHECK(rc == AMI_RESULT_NOT_FOUND);
    }
}

/* Decodes `data` in chunks: `chunk` 0 = whole, 1 = byte by byte, otherwise random 1..chunk. */
static summary decode(uint32_t role, const unsigned char *data, size_t len, size_t chunk,
                      uint64_t seed) {
    summary sum = {{0, 0, 0, 0}, 0, 14695981039346656037u};
    ami_decoder *dec = NULL;
    CHECK_RC(ami_decoder_new(role, NULL, &dec), AMI_RESULT_OK);
    if (dec == NULL) {
        return sum;
    }
    size_t at = 0;
    do {
        size_t n = len - at;
        if (chunk == 1) {
            n = n > 0 ? 1 : 0;
        } else if (chunk > 1) {
            size_t r = 1 + (size_t)(xorshift(&seed) % chunk);
            n = r < n ? r : n;
        }
        CHECK_RC(ami_decoder_feed(dec, data + at, n), AMI_RESULT_OK);
        at += n;
        for (;;) {
            ami_frame_kind kind = AMI_FRAME_NONE;
            CHECK_RC(ami_decoder_next(dec, &kind), AMI_RESULT_OK);
            if (kind == AMI_FRAME_NONE) {
                ami_bytes raw;
                CHECK_RC(ami_decoder_raw(dec, &raw), AMI_RESULT_NO_FRAME);
                const ami_header *none = NULL;
                size_t count = 0;
                CHECK_RC(ami_decoder_headers(dec, &none, &count), AMI_RESULT_NO_FRAME);
                const uint8_t *raw_none = NULL;
                const ami_slot *slots_none = NULL;
                size_t raw_len = 0;
                CHECK_RC(ami_decoder_slots(dec, &raw_none, &raw_len, &slots_none, &count),
                         AMI_RESULT_NO_FRAME);
                break;
            }
            look_at_frame(dec, kind, &sum);
        }
    } while (at < len);
    bool mid = true;
    CHECK_RC(ami_decoder_is_mid_message(dec, &mid), AMI_RESULT_OK);
    CHECK(!mid);
    ami_decoder_free(dec);
    return sum;
}

static int same(const summary *a, const summary *b) {
    return memcmp(a->frames, b->frames, sizeof a->frames) == 0 && a->headers == b->headers &&
           a->hash == b->hash;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        unsigned char *bigger = realloc(buf, cap *= 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
        }
        buf = bigger;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    CHECK(argc > 1);
    for (int i = 1; i < argc; i++) {
        const char *path = argv[i];
        size_t plen = strlen(path);
        uint32_t role = plen > 4 && strcmp(path + plen - 4, ".c2s") == 0 ? AMI_ROLE_SERVER
                                                                          : AMI_ROLE_CLIENT;
        size_t len = 0;
        unsigned char *data = read_file(path, &len);
        CHECK(data != NULL && len > 0);
        if (data == NULL) {
            continue;
        }
        summary whole = decode(role, data, len, 0, 0);
        size_t total = whole.frames[1] + whole.frames[2] + whole.frames[3];
        CHECK(total > 1);
        CHECK(role == AMI_ROLE_SERVER || whole.frames[AMI_FRAME_BANNER] == 1);
        summary bytewise = decode(role, data, len, 1, 0);
        CHECK(same(&whole, &bytewise));
        int chunked_ok = 1;
        for (uint64_t seed = 1; seed <= 16; seed++) {
            size_t max_chunk = seed % 2 ? 7 : 1500;
            summary chunked = decode(role, data, len, max_chunk, seed * 0x9E3779B97F4A7C15u);
            if (!same(&whole, &chunked)) {
                fprintf(stderr, "%s: seed %llu differs\n", path, (unsigned long long)seed);
                chunked_ok = 0;
            }
        }
        CHECK(chunked_ok);
        printf("%s: %zu banner, %zu messages, %zu frame errors, %zu lines\n", path,
               whole.frames[1], whole.frames[2], whole.frames[3], whole.headers);
        free(data);
    }
    DONE();
}

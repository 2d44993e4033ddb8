/*
 * Traffic from older and other installations, built from the protocol's rules (Asterisk 13
 * main/manager.c, action_command: "Response: Follows\r\nPrivilege: Command\r\n", the optional
 * ActionID, the CLI text as the command printed it, then "--END COMMAND--\r\n\r\n"):
 *
 *  - legacy command output that begins with blank lines is one message, blank lines included;
 *  - its lines lose the CR before their LF, as header lines do;
 *  - lines without a colon are visible (bare), and so is a reply with no header at all;
 *  - a client stream that opens with something other than the banner is reported at once.
 *
 * Usage: legacy [FILE...]   (the capture arguments every C test gets are not needed here)
 */
#include <stdlib.h>

#include "ami.h"
#include "check.h"

static ami_decoder *client(const char *bytes) {
    ami_decoder *dec = NULL;
    CHECK_RC(ami_decoder_new(AMI_ROLE_CLIENT, NULL, &dec), AMI_RESULT_OK);
    if (dec != NULL) {
        CHECK_RC(ami_decoder_feed(dec, (const uint8_t *)bytes, strlen(bytes)), AMI_RESULT_OK);
    }
    return dec;
}

static ami_frame_kind next(ami_decoder *dec) {
    ami_frame_kind kind = AMI_FRAME_NONE;
    CHECK_RC(ami_decoder_next(dec, &kind), AMI_RESULT_OK);
    return kind;
}

static void legacy_output_with_leading_blank_lines_and_crlf(void) {
    ami_decoder *dec = client("Asterisk Call Manager/1.3\r\n"
                              "Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
                              "\n\nName  State\r\nqueue1  ok\r\n\r\nlast\n--END COMMAND--\r\n\r\n"
                              "Event: After\r\n\r\n");
    if (dec == NULL) {
        return;
    }
    CHECK(next(dec) == AMI_FRAME_BANNER);
    CHECK(next(dec) == AMI_FRAME_MESSAGE);
    ami_bytes id;
    CHECK_RC(ami_decoder_action_id(dec, &id), AMI_RESULT_OK);
    CHECK(bytes_eq(id.data, id.len, "7"));
    ami_bytes lines[8];
    size_t n = 0;
    CHECK_RC(ami_decoder_output_lines(dec, lines, 8, &n), AMI_RESULT_OK);
    const char *want[] = {"", "", "Name  State", "queue1  ok", "", "last"};
    CHECK(n == sizeof want / sizeof *want);
    for (size_t i = 0; i < n && i < sizeof want / sizeof *want; i++) {
        CHECK(bytes_eq(lines[i].data, lines[i].len, want[i]));
    }
    /* The next message is intact: the blank lines did not end the output early. */
    CHECK(next(dec) == AMI_FRAME_MESSAGE);
    ami_bytes ev;
    CHECK_RC(ami_decoder_get(dec, "Event", 5, &ev), AMI_RESULT_OK);
    CHECK(bytes_eq(ev.data, ev.len, "After"));
    CHECK(next(dec) == AMI_FRAME_NONE);
    ami_decoder_free(dec);
}

static void bare_lines_and_a_headerless_reply_are_visible(void) {
    ami_decoder *dec = client("Asterisk Call Manager/1.3\r\n"
                              "Response: Success\r\nNo categories found\r\n\r\n"
                              "No queues have been created.\r\n\r\n\r\n");
    if (dec == NULL) {
        return;
    }
    CHECK(next(dec) == AMI_FRAME_BANNER);
    CHECK(next(dec) == AMI_FRAME_MESSAGE);
    const ami_header *h = NULL;
    size_t n = 0;
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(!h[0].bare && bytes_eq(h[0].name.data, h[0].name.len, "Response"));
        CHECK(h[1].bare && h[1].name.len == 0);
        CHECK(bytes_eq(h[1].value.data, h[1].value.len, "No categories found"));
    }
    CHECK(next(dec) == AMI_FRAME_MESSAGE);
    ami_message_kind kind;
    CHECK_RC(ami_decoder_message_kind(dec, &kind), AMI_RESULT_OK);
    CHECK(kind == AMI_MESSAGE_UNKNOWN);
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_OK);
    CHECK(n == 1 && h[0].bare);
    if (n == 1) {
        CHECK(bytes_eq(h[0].value.data, h[0].value.len, "No queues have been created."));
    }
    /* The extra blank line after the reply is a stray one, skipped. */
    CHECK(next(dec) == AMI_FRAME_NONE);
    ami_decoder_free(dec);
}

static void a_non_ami_greeting_is_reported_at_once(void) {
    /* No blank line follows: the decoder must not wait for one. */
    ami_decoder *dec = client("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n");
    if (dec == NULL) {
        return;
    }
    CHECK(next(dec) == AMI_FRAME_ERROR);
    ami_frame_error_kind kind;
    size_t limit = 1;
    ami_str text;
    CHECK_RC(ami_decoder_frame_error(dec, &kind, &limit, &text), AMI_RESULT_OK);
    CHECK(kind == AMI_FRAME_ERROR_NOT_AMI_SERVER && limit == 0);
    CHECK(text.len > 0 && memcmp(text.data, "not an AMI server", 17) == 0);
    const ami_header *h = NULL;
    size_t n = 0;
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_OK);
    CHECK(n == 1 && h[0].bare);
    if (n == 1) {
        CHECK(bytes_eq(h[0].value.data, h[0].value.len, "HTTP/1.1 200 OK"));
    }
    CHECK(next(dec) == AMI_FRAME_NONE);
    ami_decoder_free(dec);
}

static void the_header_array_follows_the_view_rule(void) {
    ami_decoder *dec = client("Asterisk Call Manager/1.3\r\nEvent: A\r\nX: 1\r\n\r\n");
    if (dec == NULL) {
        return;
    }
    const ami_header *h = NULL;
    size_t n = 0;
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_NO_FRAME);
    CHECK(next(dec) == AMI_FRAME_BANNER);
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_NO_FRAME);
    CHECK(next(dec) == AMI_FRAME_MESSAGE);
    CHECK_RC(ami_decoder_headers(NULL, &h, &n), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_decoder_headers(dec, NULL, &n), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_decoder_headers(dec, &h, NULL), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_OK);
    CHECK(n == 2 && bytes_eq(h[1].value.data, h[1].value.len, "1"));
    /* Feeding ends the frame: no array any more. */
    CHECK_RC(ami_decoder_feed(dec, (const uint8_t *)"Event: B\r\n", 10), AMI_RESULT_OK);
    CHECK_RC(ami_decoder_headers(dec, &h, &n), AMI_RESULT_NO_FRAME);
    ami_decoder_free(dec);
}

int main(void) {
    legacy_output_with_leading_blank_lines_and_crlf();
    bare_lines_and_a_headerless_reply_are_visible();
    a_non_ami_greeting_is_reported_at_once();
    the_header_array_follows_the_view_rule();
    DONE();
}

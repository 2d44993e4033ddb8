/*
 * Builds messages through the C API, refuses header injection, and reads the result back with
 * a decoder of the other side.
 */
#include <stdlib.h>

#include "ami.h"
#include "check.h"

#define S(lit) lit, sizeof(lit) - 1 /* a string literal as pointer + length */

static ami_result add(ami_message_builder *b, const char *name, const char *value) {
    return ami_message_builder_add_header(b, name, strlen(name), value, strlen(value));
}

static void refuses_injection(void) {
    ami_message_builder *b = NULL;
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_ACTION, S("Login"), &b), AMI_RESULT_OK);
    CHECK_RC(add(b, "Username", "admin"), AMI_RESULT_OK);
    ami_bytes before;
    CHECK_RC(ami_message_builder_bytes(b, &before), AMI_RESULT_OK);
    size_t before_len = before.len;

    const char *bad[][2] = {
        {"Secret", "x\r\nAction: Command"}, /* CR LF: a second header */
        {"Secret", "x\nAction: Command"},   /* bare LF ends a line too */
        {"Ev:il", "x"},                     /* a colon moves the name/value split */
        {"", "x"},                          /* empty name */
        {" Secret", "x"},                   /* blank around the name */
        {"Secret", " leading"},             /* an action value the server would trim */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(add(b, bad[i][0], bad[i][1]), AMI_RESULT_ENCODE_ERROR);
        ami_str err = {NULL, 0};
        CHECK_RC(ami_message_builder_last_error(b, &err), AMI_RESULT_OK);
        CHECK(err.len > 0 && err.data != NULL);
    }
    /* NUL inside a value (explicit length, so the NUL reaches libami). */
    CHECK_RC(ami_message_builder_add_header(b, S("Secret"), S("a\0b")), AMI_RESULT_ENCODE_ERROR);

    ami_bytes after;
    CHECK_RC(ami_message_builder_bytes(b, &after), AMI_RESULT_OK);
    CHECK(after.len == before_len);
    CHECK(bytes_eq(after.data, after.len, "Action: Login\r\nUsername: admin\r\n\r\n"));

    /* The first line is checked too. */
    ami_message_builder *evil = NULL;
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_ACTION, S("Ping\r\nAction: Command"), &evil),
             AMI_RESULT_ENCODE_ERROR);
    CHECK(evil == NULL);
    CHECK_RC(ami_message_builder_new(42, S("Ping"), &evil), AMI_RESULT_INVALID_PARAMETER);
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_ACTION, S("Ping"), NULL),
             AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(add(NULL, "A", "b"), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_message_builder_add_header(b, NULL, 3, "x", 1), AMI_RESULT_NULL_PARAMETER);
    ami_message_builder_free(b);
    ami_message_builder_free(NULL);
}

static void encodes_into_caller_buffer_and_decodes_back(void) {
    ami_message_builder *b = NULL;
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_ACTION, S("Originate"), &b), AMI_RESULT_OK);
    CHECK_RC(add(b, "ActionID", "call-1"), AMI_RESULT_OK);
    CHECK_RC(add(b, "Channel", "PJSIP/100"), AMI_RESULT_OK);
    CHECK_RC(add(b, "Variable", "A=1,B=2"), AMI_RESULT_OK);
    CHECK_RC(add(b, "Empty", ""), AMI_RESULT_OK);

    /* Ask for the size, refuse a short buffer without touching it, then encode. */
    size_t need = 0;
    CHECK_RC(ami_message_builder_encode(b, NULL, 0, &need), AMI_RESULT_INSUFFICIENT_SIZE);
    const char *expected = "Action: Originate\r\nActionID: call-1\r\nChannel: PJSIP/100\r\n"
                           "Variable: A=1,B=2\r\nEmpty: \r\n\r\n";
    CHECK(need == strlen(expected));
    unsigned char small[8];
    memset(small, 0xAA, sizeof small);
    size_t written = 0;
    CHECK_RC(ami_message_builder_encode(b, small, sizeof small, &written),
             AMI_RESULT_INSUFFICIENT_SIZE);
    CHECK(written == need && small[0] == 0xAA && small[7] == 0xAA);
    unsigned char *buf = malloc(need);
    CHECK(buf != NULL);
    if (buf == NULL) {
        ami_message_builder_free(b);
        return;
    }
    CHECK_RC(ami_message_builder_encode(b, buf, need, &written), AMI_RESULT_OK);
    CHECK(written == need && bytes_eq(buf, written, expected));
    ami_message_builder_free(b); /* the encoded copy is ours */

    /* A server-role decoder reads it back. */
    ami_decoder *dec = NULL;
    CHECK_RC(ami_decoder_new(AMI_ROLE_SERVER, NULL, &dec), AMI_RESULT_OK);
    CHECK_RC(ami_decoder_feed(dec, buf, written), AMI_RESULT_OK);
    free(buf); /* the decoder keeps its own copy */
    ami_frame_kind kind = AMI_FRAME_NONE;
    CHECK_RC(ami_decoder_next(dec, &kind), AMI_RESULT_OK);
    CHECK(kind == AMI_FRAME_MESSAGE);
    ami_message_kind mk = AMI_MESSAGE_UNKNOWN;
    CHECK_RC(ami_decoder_message_kind(dec, &mk), AMI_RESULT_OK);
    CHECK(mk == AMI_MESSAGE_ACTION);
    ami_bytes v;
    CHECK_RC(ami_decoder_get(dec, S("channel"), &v), AMI_RESULT_OK);
    CHECK(bytes_eq(v.data, v.len, "PJSIP/100"));
    CHECK_RC(ami_decoder_action_id(dec, &v), AMI_RESULT_OK);
    CHECK(bytes_eq(v.data, v.len, "call-1"));
    CHECK_RC(ami_decoder_get(dec, S("Empty"), &v), AMI_RESULT_OK);
    CHECK(v.len == 0 && v.data != NULL);
    ami_bytes untouched = {NULL, 12345};
    CHECK_RC(ami_decoder_get(dec, S("Missing"), &untouched), AMI_RESULT_NOT_FOUND);
    CHECK(untouched.data == NULL && untouched.len == 12345);
    CHECK_RC(ami_decoder_next(dec, &kind), AMI_RESULT_OK);
    CHECK(kind == AMI_FRAME_NONE);
    ami_decoder_free(dec);
}

static void events_and_responses(void) {
    ami_message_builder *b = NULL;
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_EVENT, S("UserEvent"), &b), AMI_RESULT_OK);
    CHECK_RC(add(b, "Privilege", "user,all"), AMI_RESULT_OK);
    CHECK_RC(add(b, "Note", " kept"), AMI_RESULT_OK); /* a client keeps a leading blank */
    ami_bytes out;
    CHECK_RC(ami_message_builder_bytes(b, &out), AMI_RESULT_OK);
    CHECK(bytes_eq(out.data, out.len,
                   "Event: UserEvent\r\nPrivilege: user,all\r\nNote:  kept\r\n\r\n"));
    ami_message_builder_free(b);

    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_RESPONSE, S("Success"), &b), AMI_RESULT_OK);
    CHECK_RC(add(b, "Ping", "Pong"), AMI_RESULT_OK);
    CHECK_RC(ami_message_builder_bytes(b, &out), AMI_RESULT_OK);
    CHECK(bytes_eq(out.data, out.len, "Response: Success\r\nPing: Pong\r\n\r\n"));
    ami_message_builder_free(b);
}

int main(void) {
    refuses_injection();
    encodes_into_caller_buffer_and_decodes_back();
    events_and_responses();
    DONE();
}

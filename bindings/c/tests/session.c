/* A client and a server talking entirely in C memory: MD5 and plain logins, a refused action,
 * an action answered by the application, permission-filtered events and a failed login
 * answered after the login failure delay. The bytes move between `_poll_transmit` and
 * `_handle_input`; the clock is a virtual `now` in milliseconds. */
#include <ami.h>

#include "check.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static const char CONF[] = "[general]\nenabled = yes\n"
                           "[admin]\nsecret = s3cret\nread = all\nwrite = all\n"
                           "[reader]\nsecret = r\nread = call\nwrite =\n";

/* One connection: the client's handle, the server's session id, and a log of its events
 * (one line each: `kind|Response-or-Event|Message|Value`). */
typedef struct {
    ami_client *c;
    uint64_t sid;
    int disconnect; /* the server said: close it */
    int open;
    char log[4096];
} peer;

static ami_server *server;
static char app_log[1024]; /* what the server reported to the application */

static void append(char *log, size_t cap, const char *text, size_t len) {
    size_t at = strlen(log);
    if (at + len + 1 < cap) {
        memcpy(log + at, text, len);
        log[at + len] = 0;
    }
}

static void append_header(char *log, size_t cap, ami_client *c, const char *name) {
    ami_bytes v;
    if (ami_client_event_get(c, name, strlen(name), &v) == AMI_RESULT_OK)
        append(log, cap, (const char *)v.data, v.len);
    append(log, cap, "|", 1);
}

static void drain_client(peer *p) {
    for (;;) {
        ami_client_event_kind kind = AMI_CLIENT_EVENT_NONE;
        CHECK_RC(ami_client_poll_event(p->c, &kind), AMI_RESULT_OK);
        if (kind == AMI_CLIENT_EVENT_NONE)
            return;
        char k[16];
        snprintf(k, sizeof k, "%u|", (unsigned)kind);
        append(p->log, sizeof p->log, k, strlen(k));
        ami_bytes first;
        if (ami_client_event_get(p->c, S("Response"), &first) != AMI_RESULT_OK &&
            ami_client_event_get(p->c, S("Event"), &first) != AMI_RESULT_OK)
            first.len = 0;
        append(p->log, sizeof p->log, (const char *)first.data, first.len);
        append(p->log, sizeof p->log, "|", 1);
        append_header(p->log, sizeof p->log, p->c, "Message");
        append_header(p->log, sizeof p->log, p->c, "Value");
        if (kind == AMI_CLIENT_EVENT_CLOSED) {
            ami_close_reason reason;
            bool truncated = true;
            CHECK_RC(ami_client_event_close_reason(p->c, &reason, &truncated), AMI_RESULT_OK);
            CHECK(!truncated);
            append(p->log, sizeof p->log,
                   reason == AMI_CLOSE_LOGIN_FAILED ? "login-failed" : "other", reason == AMI_CLOSE_LOGIN_FAILED ? 12 : 5);
        }
        append(p->log, sizeof p->log, "\n", 1);
    }
}

/* The application: answers Getvar with respond, anything else with ack; notes the rest. */
static void serve(peer *peers, int n) {
    for (;;) {
        ami_server_event_kind kind = AMI_SERVER_EVENT_NONE;
        uint64_t sid = 0;
        CHECK_RC(ami_server_poll_event(server, &kind, &sid), AMI_RESULT_OK);
        if (kind == AMI_SERVER_EVENT_NONE)
            return;
        if (kind == AMI_SERVER_EVENT_ACTION) {
            ami_str name;
            CHECK_RC(ami_server_event_action_name(server, &name), AMI_RESULT_OK);
            append(app_log, sizeof app_log, name.data, name.len);
            append(app_log, sizeof app_log, ";", 1);
            if (bytes_eq(name.data, name.len, "Getvar")) {
                ami_bytes var;
                CHECK_RC(ami_server_event_get(server, S("variable"), &var), AMI_RESULT_OK);
                CHECK(bytes_eq(var.data, var.len, "FOO"));
                ami_message_builder *r = NULL;
                CHECK_RC(ami_message_builder_new(AMI_MESSAGE_RESPONSE, S("Success"), &r), AMI_RESULT_OK);
                CHECK_RC(ami_message_builder_add_header(r, S("Variable"), S("FOO")), AMI_RESULT_OK);
                CHECK_RC(ami_message_builder_add_header(r, S("Value"), S("42")), AMI_RESULT_OK);
                CHECK_RC(ami_server_respond(server, sid, r), AMI_RESULT_OK);
                /* answered: nothing is pending any more */
                CHECK_RC(ami_server_respond(server, sid, r), AMI_RESULT_NOT_FOUND);
                ami_message_builder_free(r);
            } else {
                CHECK_RC(ami_server_ack(server, sid, S("ok")), AMI_RESULT_OK);
            }
        } else if (kind == AMI_SERVER_EVENT_LOGIN_FAILED) {
            ami_bytes user;
            CHECK_RC(ami_server_event_username(server, &user), AMI_RESULT_OK);
            append(app_log, sizeof app_log, "failed:", 7);
            append(app_log, sizeof app_log, (const char *)user.data, user.len);
            append(app_log, sizeof app_log, ";", 1);
        } else if (kind == AMI_SERVER_EVENT_DISCONNECT) {
            ami_disconnect_reason reason;
            CHECK_RC(ami_server_event_disconnect_reason(server, &reason), AMI_RESULT_OK);
            CHECK(reason == AMI_DISCONNECT_LOGIN_FAILED);
            for (int i = 0; i < n; i++)
                if (peers[i].sid == sid)
                    peers[i].disconnect = 1;
        }
    }
}

/* Moves bytes both ways until nothing moves; closes the connections the server ended. */
static void pump(peer *peers, int n, uint64_t now) {
    int moved;
    do {
        moved = 0;
        for (int i = 0; i < n; i++) {
            peer *p = &peers[i];
            if (!p->open)
                continue;
            ami_bytes out;
            CHECK_RC(ami_client_poll_transmit(p->c, &out), AMI_RESULT_OK);
            if (out.len > 0) {
                CHECK_RC(ami_server_handle_input(server, p->sid, out.data, out.len, now), AMI_RESULT_OK);
                CHECK_RC(ami_client_consume_transmit(p->c, out.len), AMI_RESULT_OK);
                moved = 1;
            }
            serve(peers, n);
            CHECK_RC(ami_server_poll_transmit(server, p->sid, &out), AMI_RESULT_OK);
            if (out.len > 0) {
                /* in two pieces, as a socket may deliver them */
                size_t half = out.len / 2;
                CHECK_RC(ami_client_handle_input(p->c, out.data, half), AMI_RESULT_OK);
                CHECK_RC(ami_client_handle_input(p->c, out.data + half, out.len - half), AMI_RESULT_OK);
                CHECK_RC(ami_server_consume_transmit(server, p->sid, out.len), AMI_RESULT_OK);
                moved = 1;
            }
            drain_client(p);
            if (p->disconnect && out.len == 0) {
                CHECK_RC(ami_client_handle_eof(p->c), AMI_RESULT_OK);
                drain_client(p);
                CHECK_RC(ami_server_remove(server, p->sid), AMI_RESULT_OK);
                p->open = 0;
            }
        }
    } while (moved);
}

static void connect_peer(peer *p, uint64_t now, uint16_t port) {
    memset(p, 0, sizeof *p);
    CHECK_RC(ami_client_new(NULL, now, &p->c), AMI_RESULT_OK);
    CHECK_RC(ami_server_accept(server, S("127.0.0.1"), port, now, &p->sid), AMI_RESULT_OK);
    p->open = 1;
}

static ami_message_builder *action(const char *name, const char *h, const char *v) {
    ami_message_builder *b = NULL;
    CHECK_RC(ami_message_builder_new(AMI_MESSAGE_ACTION, name, strlen(name), &b), AMI_RESULT_OK);
    CHECK_RC(ami_message_builder_add_header(b, h, strlen(h), v, strlen(v)), AMI_RESULT_OK);
    return b;
}

int main(void) {
    uint64_t now = 5000;
    ami_server_options opts;
    CHECK_RC(ami_server_options_default(&opts), AMI_RESULT_OK);
    CHECK(opts.login_failure_delay_ms == 1000);
    CHECK_RC(ami_server_new(S("[general"), NULL, 1, &server), AMI_RESULT_CONFIG_ERROR);
    CHECK_RC(ami_server_new(CONF, strlen(CONF), &opts, 0x5eed, &server), AMI_RESULT_OK);

    peer peers[3];
    peer *admin = &peers[0], *reader = &peers[1], *bad = &peers[2];

    /* MD5 login: the client answers the challenge by itself */
    connect_peer(admin, now, 40001);
    ami_bytes id;
    CHECK_RC(ami_client_login(admin->c, S("admin"), S("s3cret"), AMI_LOGIN_MD5, &id), AMI_RESULT_OK);
    pump(peers, 1, now);
    CHECK(strstr(admin->log, "1||||\n") != NULL); /* the banner */
    CHECK(strstr(admin->log, "2|Success|Authentication accepted||\n") != NULL);
    ami_client_state st;
    CHECK_RC(ami_client_get_state(admin->c, &st), AMI_RESULT_OK);
    CHECK(st == AMI_CLIENT_READY);

    /* a plain login of a user who may read call events and run nothing */
    connect_peer(reader, now, 40002);
    CHECK_RC(ami_client_login(reader->c, S("reader"), S("r"), AMI_LOGIN_PLAIN, NULL), AMI_RESULT_OK);
    pump(peers, 2, now);
    CHECK(strstr(reader->log, "2|Success|Authentication accepted||\n") != NULL);

    /* its Originate is refused by the server; the application never sees it */
    reader->log[0] = 0;
    ami_message_builder *orig = action("Originate", "Channel", "PJSIP/100");
    CHECK_RC(ami_client_send_action(reader->c, orig, now, NULL), AMI_RESULT_OK);
    pump(peers, 2, now);
    CHECK(strstr(reader->log, "4|Error|Permission denied||\n") != NULL);
    CHECK(strstr(app_log, "Originate") == NULL);
    ami_message_builder_free(orig);

    /* the admin's Getvar is answered by the application */
    admin->log[0] = 0;
    ami_message_builder *getvar = action("Getvar", "Variable", "FOO");
    char sent_id[64] = {0};
    CHECK_RC(ami_client_send_action(admin->c, getvar, now, &id), AMI_RESULT_OK);
    CHECK(id.len > 0 && id.len < sizeof sent_id);
    memcpy(sent_id, id.data, id.len < sizeof sent_id ? id.len : 0);
    ami_message_builder_free(getvar);
    pump(peers, 2, now);
    CHECK(strstr(app_log, "Getvar;") != NULL);
    CHECK(strstr(admin->log, "4|Success||42|\n") != NULL);
    ami_bytes got;
    CHECK_RC(ami_client_event_action_id(admin->c, &got), AMI_RESULT_NO_FRAME); /* drained */

    /* a call event reaches both; a system event only the admin */
    admin->log[0] = reader->log[0] = 0;
    ami_header call_fields[1] = {{{(const uint8_t *)"Channel", 7}, {(const uint8_t *)"PJSIP/100-1", 11}, false}};
    size_t delivered = 0;
    CHECK_RC(ami_server_publish(server, S("Newchannel"), AMI_PERM_CALL, call_fields, 1, &delivered), AMI_RESULT_OK);
    CHECK(delivered == 2);
    ami_header sys_fields[1] = {{{(const uint8_t *)"Module", 6}, {(const uint8_t *)"x.so", 4}, false}};
    CHECK_RC(ami_server_publish(server, S("Reload"), AMI_PERM_SYSTEM, sys_fields, 1, &delivered), AMI_RESULT_OK);
    CHECK(delivered == 1);
    ami_header evil[1] = {{{(const uint8_t *)"A", 1}, {(const uint8_t *)"x\r\nEvent: Fake", 14}, false}};
    CHECK_RC(ami_server_publish(server, S("Bad"), AMI_PERM_CALL, evil, 1, &delivered), AMI_RESULT_ENCODE_ERROR);
    pump(peers, 2, now);
    CHECK(strstr(reader->log, "10|Newchannel|||\n") != NULL);
    CHECK(strstr(reader->log, "Reload") == NULL);
    CHECK(strstr(admin->log, "10|Newchannel|||\n") != NULL);
    CHECK(strstr(admin->log, "10|Reload|||\n") != NULL);
    CHECK(strstr(admin->log, "Fake") == NULL);

    /* a wrong secret: the answer comes after the login failure delay, then the close */
    connect_peer(bad, now, 40003);
    CHECK_RC(ami_client_login(bad->c, S("admin"), S("wrong"), AMI_LOGIN_PLAIN, NULL), AMI_RESULT_OK);
    pump(peers, 3, now);
    CHECK(strstr(app_log, "failed:admin;") != NULL);
    CHECK(strstr(bad->log, "|Error|") == NULL);
    bool has = false;
    uint64_t at = 0;
    CHECK_RC(ami_server_poll_timeout(server, &has, &at), AMI_RESULT_OK);
    CHECK(has && at == now + 1000);
    now += 1000;
    CHECK_RC(ami_server_handle_timeout(server, now), AMI_RESULT_OK);
    pump(peers, 3, now);
    CHECK(strstr(bad->log, "3|Error|Authentication failed||\n") != NULL);
    CHECK(strstr(bad->log, "15||||login-failed\n") != NULL);
    CHECK(!bad->open);
    CHECK_RC(ami_client_get_state(bad->c, &st), AMI_RESULT_OK);
    CHECK(st == AMI_CLIENT_CLOSED);
    CHECK_RC(ami_server_poll_transmit(server, bad->sid, &got), AMI_RESULT_NOT_FOUND);

    /* errors are reported, not crashed on */
    ami_str err;
    CHECK_RC(ami_server_ack(server, 999, S("x")), AMI_RESULT_NOT_FOUND);
    CHECK_RC(ami_server_ack(server, admin->sid, S("x")), AMI_RESULT_NOT_FOUND);
    CHECK_RC(ami_server_last_error(server, &err), AMI_RESULT_OK);
    CHECK(err.len > 0);
    CHECK_RC(ami_client_login(bad->c, S("a"), S("b"), 7, NULL), AMI_RESULT_INVALID_PARAMETER);
    CHECK_RC(ami_client_poll_event(NULL, NULL), AMI_RESULT_NULL_PARAMETER);

    for (int i = 0; i < 3; i++)
        ami_client_free(peers[i].c);
    ami_server_free(server);
    DONE();
}

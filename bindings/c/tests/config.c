/*
 * manager.conf and event filters through the C API: users and their rights, the empty-element
 * quirk reported as a diagnostic, ACL and filter decisions per user, strict mode refusing with
 * the line, and a filter set built by hand (spec §9 cases 23, 29, 31, 35).
 */
#include "ami.h"
#include "check.h"

static const char CONF[] =
    "[general]\n"
    "enabled = yes\n"
    "\n"
    "[reader]\n"
    "secret = r3ad\n"
    "read = ,call\n"              /* line 6: looks like "call", grants everything */
    "deny = 0.0.0.0/0.0.0.0\n"
    "permit = 10.0.0.0/8\n"
    "eventfilter = !Channel: Local/\n";

static void users_rights_and_decisions(void) {
    ami_config *cfg = NULL;
    CHECK_RC(ami_config_new(&cfg), AMI_RESULT_OK);
    CHECK_RC(ami_config_load(cfg, CONF, strlen(CONF), false), AMI_RESULT_OK);

    size_t users = 0, index = 99;
    CHECK_RC(ami_config_user_count(cfg, &users), AMI_RESULT_OK);
    CHECK(users == 1);
    CHECK_RC(ami_config_find_user(cfg, "READER", 6, &index), AMI_RESULT_OK);
    CHECK(index == 0);
    CHECK_RC(ami_config_find_user(cfg, "nobody", 6, &index), AMI_RESULT_NOT_FOUND);

    ami_config_user user;
    CHECK_RC(ami_config_get_user(cfg, 0, &user), AMI_RESULT_OK);
    CHECK(bytes_eq(user.name.data, user.name.len, "reader"));
    CHECK(user.read == AMI_PERM_ALL); /* case 23: the empty element quirk */
    CHECK(user.write == 0 && user.has_secret && user.filter_count == 1);

    bool ok = false;
    CHECK_RC(ami_config_user_permits(cfg, 0, "10.1.2.3", 8, &ok), AMI_RESULT_OK);
    CHECK(ok);
    CHECK_RC(ami_config_user_permits(cfg, 0, "127.0.0.1", 9, &ok), AMI_RESULT_OK);
    CHECK(!ok);
    CHECK_RC(ami_config_user_permits(cfg, 0, "::1", 3, &ok), AMI_RESULT_OK);
    CHECK(ok); /* case 35: IPv4 rules do not cover IPv6 peers */

    const char *local = "Event: Newchannel\r\nChannel: Local/1@x-0001;1\r\n\r\n";
    const char *pjsip = "Event: Newchannel\r\nChannel: PJSIP/100-0001\r\n\r\n";
    CHECK_RC(ami_config_user_should_send(cfg, 0, (const uint8_t *)"Newchannel", 10,
                                         (const uint8_t *)local, strlen(local), &ok),
             AMI_RESULT_OK);
    CHECK(!ok);
    CHECK_RC(ami_config_user_should_send(cfg, 0, (const uint8_t *)"Newchannel", 10,
                                         (const uint8_t *)pjsip, strlen(pjsip), &ok),
             AMI_RESULT_OK);
    CHECK(ok);

    size_t count = 0;
    int empty_element_reported = 0;
    CHECK_RC(ami_config_diagnostic_count(cfg, &count), AMI_RESULT_OK);
    for (size_t i = 0; i < count; i++) {
        ami_str text;
        uint32_t line = 0;
        CHECK_RC(ami_config_diagnostic(cfg, i, &text, &line), AMI_RESULT_OK);
        if (line == 6) {
            empty_element_reported = 1;
        }
    }
    CHECK(empty_element_reported);
    ami_config_free(cfg);
}

static void strict_mode_refuses_with_the_line(void) {
    ami_config *cfg = NULL;
    CHECK_RC(ami_config_new(&cfg), AMI_RESULT_OK);
    CHECK_RC(ami_config_load(cfg, CONF, strlen(CONF), true), AMI_RESULT_CONFIG_ERROR);
    uint32_t line = 0;
    CHECK_RC(ami_config_error_line(cfg, &line), AMI_RESULT_OK);
    CHECK(line == 6);
    ami_str why;
    CHECK_RC(ami_config_last_error(cfg, &why), AMI_RESULT_OK);
    CHECK(why.len > 0);
    const char *broken = "[general]\nenabled = yes\n[bob\n"; /* missing ']' */
    CHECK_RC(ami_config_load(cfg, broken, strlen(broken), false), AMI_RESULT_CONFIG_ERROR);
    CHECK_RC(ami_config_load(cfg, NULL, 1, false), AMI_RESULT_NULL_PARAMETER);
    ami_config_free(cfg);
    ami_config_free(NULL);
}

static bool passes(const ami_filter_set *set, const char *name, const char *event) {
    bool out = false;
    CHECK_RC(ami_filter_set_should_send(set, (const uint8_t *)name, strlen(name),
                                        (const uint8_t *)event, strlen(event), &out),
             AMI_RESULT_OK);
    return out;
}

static ami_result add(ami_filter_set *set, const char *key, const char *value) {
    return ami_filter_set_add(set, key, strlen(key), value, strlen(value));
}

static void filter_sets(void) {
    ami_filter_set *set = NULL;
    CHECK_RC(ami_filter_set_new(&set), AMI_RESULT_OK);
    const char *hangup = "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/1-1\r\n\r\n";
    const char *dial = "Event: DialBegin\r\nPrivilege: call,all\r\n\r\n";
    CHECK(passes(set, "Hangup", hangup) && passes(set, "DialBegin", dial));
    /* case 31: legacy regexes anchor only at the start of the whole event text */
    CHECK_RC(add(set, "eventfilter", "^Event: Hangup"), AMI_RESULT_OK);
    CHECK(passes(set, "Hangup", hangup) && !passes(set, "DialBegin", dial));
    /* case 29: the advanced form needs a method when it has a pattern */
    CHECK_RC(add(set, "eventfilter(name(DialBegin))", "X"), AMI_RESULT_FILTER_ERROR);
    ami_str why;
    CHECK_RC(ami_filter_set_last_error(set, &why), AMI_RESULT_OK);
    CHECK(why.len > 0);
    CHECK_RC(add(set, "eventfilter(name(DialBegin))", ""), AMI_RESULT_OK);
    CHECK(passes(set, "DialBegin", dial));
    CHECK_RC(ami_filter_set_add(set, NULL, 3, "x", 1), AMI_RESULT_NULL_PARAMETER);
    ami_filter_set_free(set);
}

int main(void) {
    users_rights_and_decisions();
    strict_mode_refuses_with_the_line();
    filter_sets();
    DONE();
}

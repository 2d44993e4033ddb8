/*
 * Asterisk's access decisions through the C API: permission parsing and rendering, who may run
 * which action, who receives which event, network ACLs and the MD5 login key
 * (spec §9 cases 23, 25, 26 and 35).
 */
#include "ami.h"
#include "check.h"

static uint32_t perm(const char *text) {
    uint32_t mask = 0xDEADBEEF;
    CHECK_RC(ami_perm_parse(text, strlen(text), &mask), AMI_RESULT_OK);
    return mask;
}

static bool may_run(uint32_t write, const char *action) {
    bool out = false;
    CHECK_RC(ami_perm_may_run(write, action, strlen(action), &out), AMI_RESULT_OK);
    return out;
}

static bool may_receive(uint32_t read, const char *event) {
    uint32_t category = 0;
    bool out = false;
    CHECK_RC(ami_event_category(event, strlen(event), &category), AMI_RESULT_OK);
    CHECK_RC(ami_perm_may_receive(read, category, &out), AMI_RESULT_OK);
    return out;
}

/* Case 23: read= parsing, Asterisk's get_perm quirks included. */
static void case_23_read_parsing(void) {
    CHECK(perm(",call") == AMI_PERM_ALL); /* an empty element grants everything */
    CHECK(perm("Call") == 0);             /* labels are case-sensitive */
    CHECK(perm("call, log") == AMI_PERM_CALL); /* blanks are not trimmed */
    CHECK(perm("sys,call") == (AMI_PERM_SYSTEM | AMI_PERM_CALL)); /* prefix match */
    CHECK(perm("all") == AMI_PERM_ALL);
    CHECK(perm("") == 0);
    uint32_t untouched = 7;
    CHECK_RC(ami_perm_parse(NULL, 4, &untouched), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_perm_parse("call", 4, NULL), AMI_RESULT_NULL_PARAMETER);
    CHECK(untouched == 7);
}

/* Case 25: write permission is any-bit. */
static void case_25_write_is_any_bit(void) {
    uint32_t reporting = perm("reporting");
    CHECK(may_run(reporting, "Status"));
    CHECK(may_run(reporting, "CoreShowChannels"));
    CHECK(!may_run(reporting, "Hangup"));
    const char *free_for_all[] = {"Ping", "Events", "ListCommands", "WaitEvent", "QueueStatus",
                                  "BridgeList"};
    for (size_t i = 0; i < sizeof free_for_all / sizeof free_for_all[0]; i++) {
        CHECK(may_run(0, free_for_all[i]));
    }
    CHECK(may_run(AMI_PERM_ORIGINATE, "originate")); /* action names are case-insensitive */
    bool untouched = true;
    CHECK_RC(ami_perm_may_run(AMI_PERM_ALL, "NoSuchAction", 12, &untouched), AMI_RESULT_NOT_FOUND);
    CHECK(untouched);
    uint32_t authority = 0;
    CHECK_RC(ami_action_authority("Originate", 9, &authority), AMI_RESULT_OK);
    CHECK(authority == AMI_PERM_ORIGINATE);
}

/* Case 26: read permission is all-bits; the Privilege: rendering. */
static void case_26_read_is_all_bits(void) {
    CHECK(!may_receive(perm("user"), "VoicemailPasswordChange"));
    CHECK(may_receive(perm("system,user"), "VoicemailPasswordChange"));
    CHECK(may_receive(perm("call"), "Hangup"));
    uint32_t category = 0;
    CHECK_RC(ami_event_category("VoicemailPasswordChange", 23, &category), AMI_RESULT_OK);
    char buf[64];
    size_t len = 0;
    CHECK_RC(ami_perm_render(category, buf, sizeof buf, &len), AMI_RESULT_OK);
    CHECK(strcmp(buf, "system,user,all") == 0 && len == strlen(buf));
    CHECK_RC(ami_perm_render(0, buf, sizeof buf, &len), AMI_RESULT_OK);
    CHECK(strcmp(buf, "<none>") == 0);
    /* Too small: nothing written, the length reported; the NUL needs a byte too. */
    char tiny[15];
    memset(tiny, 'x', sizeof tiny);
    CHECK_RC(ami_perm_render(category, tiny, sizeof tiny, &len), AMI_RESULT_INSUFFICIENT_SIZE);
    CHECK(len == 15 && tiny[0] == 'x');
    CHECK_RC(ami_event_category("hangup", 6, &category), AMI_RESULT_NOT_FOUND); /* case matters */
}

static bool permits(const ami_acl *acl, const char *ip) {
    bool out = false;
    CHECK_RC(ami_acl_permits(acl, ip, strlen(ip), &out), AMI_RESULT_OK);
    return out;
}

static ami_result acl_line(ami_acl *acl, const char *key, const char *value) {
    return ami_acl_add_line(acl, key, strlen(key), value, strlen(value));
}

/* Case 35: IPv4 rules ignore IPv6 peers; a port makes the line (and the user) invalid. */
static void case_35_acl_family_quirk(void) {
    ami_acl *acl = NULL;
    CHECK_RC(ami_acl_new(&acl), AMI_RESULT_OK);
    CHECK(permits(acl, "10.0.0.1")); /* no rules: everyone */
    CHECK_RC(acl_line(acl, "deny", "0.0.0.0/0.0.0.0"), AMI_RESULT_OK);
    CHECK_RC(acl_line(acl, "permit", "127.0.0.1/255.255.255.255"), AMI_RESULT_OK);
    CHECK(permits(acl, "127.0.0.1"));
    CHECK(!permits(acl, "10.0.0.1"));
    CHECK(permits(acl, "::1"));
    CHECK_RC(acl_line(acl, "permit", "127.0.0.1:5038"), AMI_RESULT_ACL_ERROR);
    ami_str err = {NULL, 0};
    CHECK_RC(ami_acl_last_error(acl, &err), AMI_RESULT_OK);
    CHECK(err.len > 0);
    CHECK(!permits(acl, "10.0.0.1")); /* unchanged */
    bool untouched = true;
    CHECK_RC(ami_acl_permits(acl, "nonsense", 8, &untouched), AMI_RESULT_INVALID_PARAMETER);
    CHECK(untouched);
    CHECK_RC(ami_acl_permits(NULL, "::1", 3, &untouched), AMI_RESULT_NULL_PARAMETER);
    ami_acl_free(acl);
    ami_acl_free(NULL);
}

static void md5_key(void) {
    char key[33];
    CHECK_RC(ami_md5_key("12345", 5, "s3cret", 6, key, sizeof key), AMI_RESULT_OK);
    CHECK(strcmp(key, "7a6fefeb3c530d9a071227bdbfd26d02") == 0); /* md5("12345s3cret") */
    CHECK_RC(ami_md5_key("12345", 5, "s3cret", 6, key, 32), AMI_RESULT_INSUFFICIENT_SIZE);
}

static void result_strings(void) {
    CHECK(strcmp(ami_result_str(AMI_RESULT_OK), "ok") == 0);
    for (uint32_t code = 1; code <= AMI_RESULT_FILTER_ERROR; code++) {
        CHECK(strcmp(ami_result_str(code), "unknown result") != 0);
    }
    CHECK(strcmp(ami_result_str(1000), "unknown result") == 0);
}

int main(void) {
    case_23_read_parsing();
    case_25_write_is_any_bit();
    case_26_read_is_all_bits();
    case_35_acl_family_quirk();
    md5_key();
    result_strings();
    DONE();
}

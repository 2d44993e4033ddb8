/*
 * The manager.conf editor through the C API: a user added with exactly the asked rights and
 * everything else kept byte for byte, an update of the line that wins (its comment kept), a
 * refusal that changes nothing and says where, an included file edited where the user lives,
 * strict mode, and a secret from the OS's CSPRNG.
 */
#include "ami.h"
#include "check.h"

static const char CONF[] =
    "; AMI users\r\n"
    "[general]\r\n"
    "enabled = yes\r\n"
    "\r\n"
    "[admin] ; the PBX administrator\r\n"
    "secret = Adm1n-Secret-2024 ; rotated in May\r\n"
    "read = all\r\n"
    "write = all\r\n";

static ami_str text_of(const ami_config_edit *e) {
    ami_str s = {0};
    CHECK_RC(ami_config_edit_text(e, &s), AMI_RESULT_OK);
    return s;
}

static int contains(ami_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (memcmp(s.data + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void add_update_refuse(void) {
    ami_config_edit *e = NULL;
    CHECK_RC(ami_config_edit_new(&e), AMI_RESULT_OK);
    CHECK_RC(ami_config_edit_load(e, CONF, strlen(CONF), false), AMI_RESULT_OK);
    CHECK(bytes_eq(text_of(e).data, text_of(e).len, CONF)); /* nothing edited: same bytes */

    char secret[33];
    size_t secret_len = 0;
    CHECK_RC(ami_secret_generate(32, secret, sizeof secret, &secret_len), AMI_RESULT_OK);
    CHECK(secret_len == 32 && strlen(secret) == 32);

    ami_acl_rule rules[3] = {
        {AMI_ACL_DENY, "0.0.0.0/0", 9},
        {AMI_ACL_DENY, "::/0", 4},
        {AMI_ACL_PERMIT, "10.0.0.0/8", 10},
    };
    ami_user_settings s = {0};
    s.set = AMI_USER_SECRET | AMI_USER_READ | AMI_USER_WRITE | AMI_USER_ACL;
    s.secret = secret;
    s.secret_len = secret_len;
    s.read = AMI_PERM_CALL | AMI_PERM_CDR;
    s.write = AMI_PERM_ORIGINATE;
    s.acl = rules;
    s.acl_len = 3;
    CHECK_RC(ami_config_edit_add_user(e, "crm", 3, &s), AMI_RESULT_OK);

    ami_str now = text_of(e);
    CHECK(now.len > strlen(CONF) && memcmp(now.data, CONF, strlen(CONF)) == 0);
    CHECK(contains(now, "\r\n[crm]\r\nsecret = "));
    CHECK(contains(now, "\r\nread = call,cdr\r\nwrite = originate\r\ndeny = 0.0.0.0/0\r\n"
                        "deny = ::/0\r\npermit = 10.0.0.0/8\r\n"));

    /* ami check's warnings come back with the edit. */
    size_t count = 0;
    int escalation = 0;
    CHECK_RC(ami_config_edit_finding_count(e, &count), AMI_RESULT_OK);
    for (size_t i = 0; i < count; i++) {
        ami_str code, message;
        uint32_t severity = 9;
        CHECK_RC(ami_config_edit_finding(e, i, &code, &severity, &message), AMI_RESULT_OK);
        CHECK(severity == 1 && message.len > 0);
        escalation |= bytes_eq(code.data, code.len, "originate-escalation");
    }
    CHECK(escalation);

    /* The line that wins changes; its comment stays. */
    ami_user_settings u = {0};
    u.set = AMI_USER_READ | AMI_USER_WRITETIMEOUT;
    u.read = AMI_PERM_SYSTEM;
    u.writetimeout_ms = 500;
    CHECK_RC(ami_config_edit_update_user(e, "ADMIN", 5, &u), AMI_RESULT_OK);
    CHECK(contains(text_of(e), "secret = Adm1n-Secret-2024 ; rotated in May\r\nread = system\r\n"
                               "write = all\r\nwritetimeout = 500\r\n"));
    size_t notes = 0;
    CHECK_RC(ami_config_edit_note_count(e, &notes), AMI_RESULT_OK);
    CHECK(notes == 1); /* sessions keep their rights until they log in again */

    /* Refused: nothing changes; why and where are given. */
    size_t before = text_of(e).len;
    CHECK_RC(ami_config_edit_add_user(e, "Admin", 5, NULL), AMI_RESULT_EDIT_REFUSED);
    uint32_t line = 0;
    CHECK_RC(ami_config_edit_error_line(e, &line), AMI_RESULT_OK);
    CHECK(line == 5);
    ami_str why = {0};
    CHECK_RC(ami_config_edit_last_error(e, &why), AMI_RESULT_OK);
    CHECK(contains(why, "already used"));
    ami_user_settings empty = {0};
    empty.set = AMI_USER_SECRET;
    empty.secret = "";
    CHECK_RC(ami_config_edit_update_user(e, "crm", 3, &empty), AMI_RESULT_EDIT_REFUSED);
    CHECK_RC(ami_config_edit_last_error(e, &why), AMI_RESULT_OK);
    CHECK(contains(why, "empty secret"));
    CHECK(text_of(e).len == before);

    CHECK_RC(ami_config_edit_rename_user(e, "crm", 3, "crm2", 4), AMI_RESULT_OK);
    CHECK_RC(ami_config_edit_remove_user(e, "crm2", 4), AMI_RESULT_OK);
    CHECK_RC(ami_config_edit_set_enabled(e, false), AMI_RESULT_OK);
    CHECK(contains(text_of(e), "[general]\r\nenabled = no\r\n"));
    CHECK(!contains(text_of(e), "crm"));
    ami_config_edit_free(e);
    ami_config_edit_free(NULL);
}

static void includes_and_strict(void) {
    ami_config_edit *e = NULL;
    CHECK_RC(ami_config_edit_new(&e), AMI_RESULT_OK);
    const char *users = "[bob]\nsecret = B0b-Secret-2024\nread = all\n";
    CHECK_RC(ami_config_edit_add_include(e, "users.conf", 10, users, strlen(users)), AMI_RESULT_OK);
    const char *main_conf = "[general]\nenabled = yes\n#include \"users.conf\"\n";
    CHECK_RC(ami_config_edit_load(e, main_conf, strlen(main_conf), false), AMI_RESULT_OK);
    ami_user_settings s = {0};
    s.set = AMI_USER_READ;
    s.read = AMI_PERM_CALL;
    CHECK_RC(ami_config_edit_update_user(e, "bob", 3, &s), AMI_RESULT_OK);
    CHECK(bytes_eq(text_of(e).data, text_of(e).len, main_conf));
    size_t files = 0;
    CHECK_RC(ami_config_edit_file_count(e, &files), AMI_RESULT_OK);
    CHECK(files == 1);
    ami_str name, body;
    bool changed = false;
    CHECK_RC(ami_config_edit_file(e, 0, &name, &body, &changed), AMI_RESULT_OK);
    CHECK(changed && bytes_eq(name.data, name.len, "users.conf"));
    CHECK(bytes_eq(body.data, body.len, "[bob]\nsecret = B0b-Secret-2024\nread = call\n"));

    /* Strict: a shell-equivalent grant is refused. */
    CHECK_RC(ami_config_edit_load(e, main_conf, strlen(main_conf), true), AMI_RESULT_OK);
    ami_user_settings root = {0};
    root.set = AMI_USER_WRITE;
    root.write = AMI_PERM_SYSTEM;
    CHECK_RC(ami_config_edit_add_user(e, "root", 4, &root), AMI_RESULT_EDIT_REFUSED);

    /* Asterisk refuses this file: so does the editor, with the line. */
    const char *broken = "[general]\n[bob\n";
    CHECK_RC(ami_config_edit_load(e, broken, strlen(broken), false), AMI_RESULT_CONFIG_ERROR);
    uint32_t line = 0;
    CHECK_RC(ami_config_edit_error_line(e, &line), AMI_RESULT_OK);
    CHECK(line == 2);
    CHECK_RC(ami_config_edit_load(e, NULL, 1, false), AMI_RESULT_NULL_PARAMETER);
    ami_config_edit_free(e);

    char small[8];
    size_t need = 0;
    CHECK_RC(ami_secret_generate(16, small, sizeof small, &need), AMI_RESULT_INSUFFICIENT_SIZE);
    CHECK(need == 16);
    CHECK_RC(ami_secret_generate(8, small, sizeof small, &need), AMI_RESULT_INVALID_PARAMETER);
}

int main(void) {
    add_update_refuse();
    includes_and_strict();
    DONE();
}

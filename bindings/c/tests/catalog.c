/*
 * The catalog of documented actions and events through the C API: lookups by name, their
 * classes and parameters, and enumeration of every entry.
 */
#include "ami.h"
#include "check.h"

static ami_action_desc action(const char *name) {
    ami_action_desc a;
    memset(&a, 0, sizeof a);
    CHECK_RC(ami_action_info(name, strlen(name), &a), AMI_RESULT_OK);
    return a;
}

static void actions_and_their_required_parameters(void) {
    ami_action_desc a = action("ORIGINATE"); /* action names are case-insensitive */
    CHECK(bytes_eq(a.name.data, a.name.len, "Originate"));
    CHECK(a.authority == AMI_PERM_ORIGINATE);
    CHECK(a.escalation == AMI_ESCALATION_ORIGINATE);
    CHECK(bytes_eq(a.module.data, a.module.len, "core"));
    CHECK(a.required_count == 1);
    size_t required = 0, variable = 0;
    for (size_t i = 0; i < a.parameter_count; i++) {
        ami_parameter_desc p;
        CHECK_RC(ami_action_parameter(a.index, i, &p), AMI_RESULT_OK);
        if (p.required) {
            required++;
            CHECK(bytes_eq(p.name.data, p.name.len, "Channel"));
        }
        if (bytes_eq(p.name.data, p.name.len, "Variable")) {
            variable++;
            CHECK(p.repeatable && !p.indexed);
        }
    }
    CHECK(required == 1 && variable == 1);
    ami_parameter_desc past;
    CHECK_RC(ami_action_parameter(a.index, a.parameter_count, &past), AMI_RESULT_NOT_FOUND);

    ami_action_desc forward = action("VoicemailForward");
    CHECK(forward.required_count == 7 && forward.authority == AMI_PERM_USER);
    CHECK(action("Ping").authority == 0 && action("Ping").escalation == AMI_ESCALATION_NONE);
    CHECK(action("Getvar").escalation == AMI_ESCALATION_GETVAR);
    CHECK(action("Command").escalation == AMI_ESCALATION_COMMAND);
    ami_action_desc update = action("UpdateConfig");
    int numbered = 0;
    for (size_t i = 0; i < update.parameter_count; i++) {
        ami_parameter_desc p;
        CHECK_RC(ami_action_parameter(update.index, i, &p), AMI_RESULT_OK);
        if (bytes_eq(p.name.data, p.name.len, "Action-{:06}")) {
            numbered = p.indexed;
        }
    }
    CHECK(numbered);

    ami_action_desc untouched = {0};
    CHECK_RC(ami_action_info("NoSuchAction", 12, &untouched), AMI_RESULT_NOT_FOUND);
    CHECK(untouched.name.len == 0);
    CHECK_RC(ami_action_info(NULL, 4, &untouched), AMI_RESULT_NULL_PARAMETER);
    CHECK_RC(ami_action_info("Ping", 4, NULL), AMI_RESULT_NULL_PARAMETER);
}

static void events_and_their_fields(void) {
    ami_event_desc e;
    CHECK_RC(ami_event_info("Hangup", 6, &e), AMI_RESULT_OK);
    CHECK(e.read_class == AMI_PERM_CALL);
    bool cause_txt = false;
    for (size_t i = 0; i < e.field_count; i++) {
        ami_str f;
        CHECK_RC(ami_event_field(e.index, i, &f), AMI_RESULT_OK);
        cause_txt = cause_txt || bytes_eq(f.data, f.len, "Cause-txt");
    }
    CHECK(cause_txt);
    /* Documented as NewExten, emitted (and catalogued) as Newexten. */
    CHECK_RC(ami_event_info("newexten", 8, &e), AMI_RESULT_OK);
    CHECK(bytes_eq(e.name.data, e.name.len, "Newexten") && e.read_class == AMI_PERM_DIALPLAN);
    CHECK_RC(ami_event_info("ChannelTalkingStart", 19, &e), AMI_RESULT_OK);
    CHECK(e.read_class == AMI_PERM_CALL);
    ami_str f;
    CHECK_RC(ami_event_field(e.index, e.field_count, &f), AMI_RESULT_NOT_FOUND);
    CHECK_RC(ami_event_info("NoSuchEvent", 11, &e), AMI_RESULT_NOT_FOUND);
}

static void every_entry_enumerated(void) {
    CHECK(ami_catalog_action_count() == 154);
    for (size_t i = 0; i < ami_catalog_action_count(); i++) {
        ami_action_desc a;
        CHECK_RC(ami_catalog_action_at(i, &a), AMI_RESULT_OK);
        /* Every action found by name describes the same entry. */
        ami_action_desc again;
        CHECK_RC(ami_action_info(a.name.data, a.name.len, &again), AMI_RESULT_OK);
        CHECK(again.index == i);
        bool allowed = false;
        char name[64];
        CHECK(a.name.len < sizeof name);
        memcpy(name, a.name.data, a.name.len);
        CHECK_RC(ami_perm_may_run(a.authority ? a.authority : AMI_PERM_ALL, name, a.name.len, &allowed),
                 AMI_RESULT_OK);
        CHECK(allowed);
    }
    ami_action_desc a;
    CHECK_RC(ami_catalog_action_at(ami_catalog_action_count(), &a), AMI_RESULT_NOT_FOUND);
    size_t events = ami_catalog_event_count();
    CHECK(events > 150);
    for (size_t i = 0; i < events; i++) {
        ami_event_desc e;
        CHECK_RC(ami_catalog_event_at(i, &e), AMI_RESULT_OK);
        CHECK(e.index == i && e.read_class != 0);
    }
    CHECK(strcmp(ami_catalog_asterisk_version(), "22.10.1") == 0);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    actions_and_their_required_parameters();
    events_and_their_fields();
    every_entry_enumerated();
    DONE();
}

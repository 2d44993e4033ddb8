//! The actions of the registered modules that the mock does not simulate, answered as
//! Asterisk 22.10.1 answers them when it has nothing to act on: the errors of its handlers'
//! argument checks in their order, "no such ..." for channels, queues, conferences,
//! mailboxes, caches that do not exist, and empty lists. Recorded from the live Asterisk of
//! the test suites (every listed action without arguments, and with arguments that name
//! nothing) and checked against it by `tests/mock_differential.rs`.
//!
//! Where Asterisk would act on something that exists in the mock (a channel, a bridge), the
//! mock says in Asterisk's error shape that it does not simulate the action.

use ami_proto::server::{ActionRef, Server, SessionId};

use super::{Pbx, reply};

/// An argument check of a handler, in order.
enum Check {
    /// Every one of these headers must be non-empty, else the error.
    All(&'static [&'static str], &'static str),
    /// At least one of them must be.
    Any(&'static [&'static str], &'static str),
}

/// What the handler answers once the arguments pass.
enum Then {
    /// `Response: Error` (a message ending in `\n` keeps it, as Asterisk writes it).
    Error(&'static str),
    /// `Response: Success` with a message.
    Ack(&'static str),
    /// `Response: Success`, the message, then fields (`{Header}` is the request's value).
    Fields(&'static str, &'static [(&'static str, &'static str)]),
    /// An empty list: the start message and the completion event.
    List(&'static str, &'static str),
    /// These exact bytes (`{ActionID}` is the `ActionID: ...` line or nothing).
    Raw(&'static str),
    /// The channel in this header: Asterisk acts on an existing one (not simulated), else
    /// the error.
    Channel(&'static str, &'static str),
    /// The same for a bridge id.
    Bridge(&'static str, &'static str),
    /// Asterisk would act on the arguments (create a file, change the dialplan ...).
    NotSimulated,
}

struct Rule {
    name: &'static str,
    checks: &'static [Check],
    then: Then,
}

const fn rule(name: &'static str, checks: &'static [Check], then: Then) -> Rule {
    Rule { name, checks, then }
}

use Check::{All, Any};
use Then::{Ack, Bridge, Channel, Error, Fields, List, NotSimulated, Raw};

const NO_CONF: &str = "No Conference name provided.";
const NO_CONFS: &str = "No active conferences.";

static RULES: &[Rule] = &[
    rule(
        "AbsoluteTimeout",
        &[All(&["Channel"], "No channel specified")],
        Channel("Channel", "No such channel"),
    ),
    rule(
        "AGI",
        &[All(&["Channel", "Command"], "Both, Channel and Command are *required*")],
        Channel("Channel", "Channel {Channel} does not exist."),
    ),
    rule(
        "AOCMessage",
        &[Any(
            &["Channel", "PartialChannel"],
            "Channel and PartialChannel are not specified. Specify at least one of these.",
        )],
        Channel("Channel", "No such channel"),
    ),
    rule(
        "Atxfer",
        &[All(&["Channel"], "No channel specified"), All(&["Exten"], "No extension specified")],
        Channel("Channel", "Channel specified does not exist"),
    ),
    rule(
        "BlindTransfer",
        &[All(&["Channel"], "No channel specified"), All(&["Exten"], "No extension specified")],
        Channel("Channel", "Channel specified does not exist"),
    ),
    rule(
        "Bridge",
        &[All(&["Channel1", "Channel2"], "Missing channel parameter in request")],
        Channel("Channel1", "Channel1 does not exist: {Channel1}"),
    ),
    rule(
        "BridgeDestroy",
        &[All(&["BridgeUniqueid"], "BridgeUniqueid must be provided")],
        Bridge("BridgeUniqueid", "Specified BridgeUniqueid not found"),
    ),
    rule(
        "BridgeInfo",
        &[All(&["BridgeUniqueid"], "BridgeUniqueid must be provided")],
        Bridge("BridgeUniqueid", "Specified BridgeUniqueid not found"),
    ),
    rule(
        "BridgeKick",
        &[All(&["Channel"], "Channel must be provided")],
        Channel("Channel", "Channel does not exist"),
    ),
    rule(
        "BridgeTechnologyList",
        &[],
        Raw(
            "Response: Success\r\n{ActionID}EventList: start\r\nMessage: Bridge technology listing will follow\r\n\r\n\
             Event: BridgeTechnologyListItem\r\nBridgeTechnology: native_rtp\r\nBridgeType: Native\r\nBridgePriority: 90\r\nBridgeSuspended: No\r\n{ActionID}\r\n\
             Event: BridgeTechnologyListItem\r\nBridgeTechnology: holding_bridge\r\nBridgeType: Holding\r\nBridgePriority: 50\r\nBridgeSuspended: No\r\n{ActionID}\r\n\
             Event: BridgeTechnologyListItem\r\nBridgeTechnology: simple_bridge\r\nBridgeType: 1to1Mix\r\nBridgePriority: 50\r\nBridgeSuspended: No\r\n{ActionID}\r\n\
             Event: BridgeTechnologyListItem\r\nBridgeTechnology: softmix\r\nBridgeType: MultiMix\r\nBridgePriority: 10\r\nBridgeSuspended: No\r\n{ActionID}\r\n\
             Event: BridgeTechnologyListComplete\r\n{ActionID}EventList: Complete\r\nListItems: 4\r\n\r\n",
        ),
    ),
    rule(
        "BridgeTechnologySuspend",
        &[All(&["BridgeTechnology"], "BridgeTechnology must be provided")],
        Error("BridgeTechnology not found"),
    ),
    rule(
        "BridgeTechnologyUnsuspend",
        &[All(&["BridgeTechnology"], "BridgeTechnology must be provided")],
        Error("BridgeTechnology not found"),
    ),
    rule(
        "CancelAtxfer",
        &[All(&["Channel"], "No channel specified")],
        Channel("Channel", "Channel specified does not exist"),
    ),
    rule("ConfbridgeKick", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeList", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeListRooms", &[], Error(NO_CONFS)),
    rule("ConfbridgeLock", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeMute", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeSetSingleVideoSrc", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeStartRecord", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeStopRecord", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeUnlock", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule("ConfbridgeUnmute", &[All(&["Conference"], NO_CONF)], Error(NO_CONFS)),
    rule(
        "ControlPlayback",
        &[All(&["Channel"], "Channel not specified")],
        Channel("Channel", "No such channel"),
    ),
    rule(
        "CoreShowChannelMap",
        &[All(&["Channel"], "CoreShowChannelMap requires a channel.\n")],
        Channel("Channel", "Could not get channel snapshot\n"),
    ),
    rule("CreateConfig", &[All(&["Filename"], "Filename not specified")], NotSimulated),
    rule(
        "DialplanExtensionAdd",
        &[All(
            &["Context", "Extension", "Priority", "Application"],
            "Context, Extension, Priority, and Application must be defined for DialplanExtensionAdd.",
        )],
        NotSimulated,
    ),
    rule(
        "ExtensionStateList",
        &[],
        List("Extension Statuses will follow", "ExtensionStateListComplete"),
    ),
    rule(
        "FAXSession",
        &[All(&["SessionNumber"], "Invalid session ID")],
        Error("Session not found"),
    ),
    rule(
        "FAXSessions",
        &[],
        Raw(
            "Response: Success\r\n{ActionID}EventList: Start\r\nMessage: FAXSessionsEntry event list will follow\r\n\r\n\
             Event: FAXSessionsComplete\r\n{ActionID}EventList: Complete\r\nListItems: 0\r\nTotal: 0\r\n\r\n",
        ),
    ),
    rule(
        "FAXStats",
        &[],
        Raw("Response: Success\r\n{ActionID}Message: FAXStats event will follow\r\n\r\n\
             Event: FAXStats\r\n{ActionID}CurrentSessions: 0\r\nReservedSessions: 0\r\nTransmitAttempts: 0\r\n\
             ReceiveAttempts: 0\r\nCompletedFAXes: 0\r\nFailedFAXes: 0\r\n\r\n"),
    ),
    rule(
        "GetConfig",
        &[All(&["Filename"], "Filename not specified")],
        Error("Config file not found"),
    ),
    rule(
        "GetConfigJSON",
        &[All(&["Filename"], "Filename not specified")],
        Error("File requires escalated privileges"),
    ),
    rule(
        "ListCategories",
        &[All(&["Filename"], "Filename not specified")],
        Error("Config file not found"),
    ),
    rule(
        "LocalOptimizeAway",
        &[All(&["Channel"], "'Channel' not specified.")],
        Channel("Channel", "Channel does not exist."),
    ),
    rule("LoggerRotate", &[], Ack("Reloaded the logger and rotated log files")),
    rule(
        "MailboxCount",
        &[All(&["Mailbox"], "Mailbox not specified")],
        Fields(
            "Mailbox Message Count",
            &[
                ("Mailbox", "{Mailbox}"),
                ("UrgMessages", "0"),
                ("NewMessages", "0"),
                ("OldMessages", "0"),
            ],
        ),
    ),
    rule(
        "MailboxStatus",
        &[All(&["Mailbox"], "Mailbox not specified")],
        Fields("Mailbox Status", &[("Mailbox", "{Mailbox}"), ("Waiting", "0")]),
    ),
    rule(
        "MessageSend",
        &[All(&["To"], "No 'To' address specified.")],
        Error("Message technology not found."),
    ),
    rule(
        "MixMonitor",
        &[All(&["Channel"], "No channel specified")],
        Channel("Channel", "No such channel"),
    ),
    rule(
        "MixMonitorMute",
        &[
            All(&["Direction"], "No direction specified. Must be read, write or both"),
            All(&["Channel"], "No channel specified"),
            All(&["State"], "No state specified"),
        ],
        Channel("Channel", "No such channel"),
    ),
    rule("ModuleCheck", &[], Error("Module not loaded")),
    rule(
        "MuteAudio",
        &[
            All(&["Channel"], "Channel not specified"),
            All(&["State"], "State not specified"),
            All(&["Direction"], "Direction not specified"),
        ],
        Channel("Channel", "No such channel"),
    ),
    rule("PlayDTMF", &[], Channel("Channel", "Channel not found")),
    rule("PlayMF", &[], Channel("Channel", "Channel not found")),
    rule(
        "PresenceState",
        &[All(&["Provider"], "No provider specified")],
        Fields("Presence State", &[("State", "not_set")]),
    ),
    rule(
        "PresenceStateList",
        &[],
        List("Presence State Changes will follow", "PresenceStateListComplete"),
    ),
    rule(
        "QueueAdd",
        &[
            All(&["Queue"], "'Queue' not specified."),
            All(&["Interface"], "'Interface' not specified."),
        ],
        Error("Unable to add interface to queue: No such queue"),
    ),
    rule(
        "QueueChangePriorityCaller",
        &[
            All(&["Queue"], "'Queue' not specified."),
            All(&["Caller"], "'Caller' not specified."),
            All(&["Priority"], "'Priority' not specified."),
        ],
        Error("Unable to change priority caller on queue: No such queue"),
    ),
    rule(
        "QueueLog",
        &[All(&["Queue", "Event"], "Need 'Queue' and 'Event' parameters.")],
        Ack("Event added successfully"),
    ),
    rule(
        "QueueMemberRingInUse",
        &[All(&["Interface", "RingInUse"], "Need 'Interface' and 'RingInUse' parameters.")],
        Error("Invalid interface, queuename, or ringinuse value\n"),
    ),
    rule(
        "QueuePause",
        &[All(&["Interface", "Paused"], "Need 'Interface' and 'Paused' parameters.")],
        Error("Interface not found"),
    ),
    rule(
        "QueuePenalty",
        &[All(&["Interface", "Penalty"], "Need 'Interface' and 'Penalty' parameters.")],
        Error("Invalid interface, queuename or penalty"),
    ),
    rule("QueueReload", &[], Ack("Queue reloaded successfully")),
    rule(
        "QueueRemove",
        &[All(&["Queue", "Interface"], "Need 'Queue' and 'Interface' parameters.")],
        Error("Unable to remove interface from queue: No such queue"),
    ),
    rule("QueueReset", &[], Ack("Queue stats reset successfully")),
    // `manager_queue_rule_show` ends its answer with one CRLF too many.
    rule("QueueRule", &[], Raw("Response: Success\r\n{ActionID}\r\n\r\n")),
    rule("QueueStatus", &[], List("Queue status will follow", "QueueStatusComplete")),
    rule("QueueSummary", &[], List("Queue summary will follow", "QueueSummaryComplete")),
    rule(
        "QueueWithdrawCaller",
        &[All(&["Queue"], "'Queue' not specified."), All(&["Caller"], "'Caller' not specified.")],
        Error("Unable to request withdraw from queue: No such queue"),
    ),
    rule(
        "Redirect",
        &[All(&["Channel"], "Channel not specified")],
        Channel("Channel", "Channel does not exist: {Channel}"),
    ),
    rule("SendFlash", &[], Channel("Channel", "Channel not found")),
    rule(
        "SendText",
        &[All(&["Channel"], "No channel specified"), All(&["Message"], "No Message specified")],
        Channel("Channel", "No such channel"),
    ),
    rule(
        "SorceryMemoryCacheExpire",
        &[All(&["Cache"], "SorceryMemoryCacheExpire requires that a cache name be provided.\n")],
        Error("The provided cache does not exist\n"),
    ),
    rule(
        "SorceryMemoryCacheExpireObject",
        &[All(
            &["Cache"],
            "SorceryMemoryCacheExpireObject requires that a cache name be provided.\n",
        )],
        Error("The provided cache does not exist\n"),
    ),
    rule(
        "SorceryMemoryCachePopulate",
        &[All(&["Cache"], "SorceryMemoryCachePopulate requires that a cache name be provided.\n")],
        Error("The provided cache does not exist\n"),
    ),
    rule(
        "SorceryMemoryCacheStale",
        &[All(&["Cache"], "SorceryMemoryCacheStale requires that a cache name be provided.\n")],
        Error("The provided cache does not exist\n"),
    ),
    rule(
        "SorceryMemoryCacheStaleObject",
        &[All(
            &["Cache"],
            "SorceryMemoryCacheStaleObject requires that a cache name be provided.\n",
        )],
        Error("The provided cache does not exist\n"),
    ),
    rule(
        "StopMixMonitor",
        &[All(&["Channel"], "No channel specified")],
        Channel("Channel", "No such channel"),
    ),
    rule("UpdateConfig", &[All(&["Filename"], "Filename not specified")], NotSimulated),
    rule(
        "VoicemailBoxSummary",
        &[All(&["Context", "Mailbox"], "Need 'Context' and 'Mailbox' parameters.")],
        Ack("There is no voicemail user matching the given user."),
    ),
    rule(
        "VoicemailForward",
        &[
            All(&["Mailbox"], "Mailbox not specified, required"),
            All(&["Context"], "Context not specified, required"),
            All(&["Folder"], "Folder not specified, required"),
            All(&["ID"], "ID not specified, required"),
            All(&["ToMailbox"], "ToMailbox not specified, required"),
            All(&["ToContext"], "ToContext not specified, required"),
        ],
        NotSimulated,
    ),
    rule(
        "VoicemailMove",
        &[
            All(&["Mailbox"], "Mailbox not specified, required"),
            All(&["Context"], "Context not specified, required"),
        ],
        NotSimulated,
    ),
    rule("VoicemailRefresh", &[], Ack("Refresh sent")),
    rule(
        "VoicemailRemove",
        &[
            All(&["Mailbox"], "Mailbox not specified, required"),
            All(&["Context"], "Context not specified, required"),
        ],
        NotSimulated,
    ),
    rule("VoicemailUsersList", &[], Ack("There are no voicemail users currently defined.")),
    rule(
        "VoicemailUserStatus",
        &[All(&["Context", "Mailbox"], "Need 'Context' and 'Mailbox' parameters.")],
        Ack("There is no voicemail user of the given info."),
    ),
];

/// The actions answered here.
#[cfg(test)]
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|r| r.name)
}

impl Pbx {
    /// Answers an action the mock does not simulate.
    pub(super) fn unsupported(&self, server: &mut Server, sid: SessionId, action: &ActionRef) {
        let text = |name: &str| {
            action.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
        };
        // `{Header}` in a template is the request's value (never itself expanded again).
        let fill = |template: &str| {
            let mut out = String::with_capacity(template.len());
            let mut rest = template;
            while let Some(start) = rest.find('{') {
                let Some(len) = rest[start..].find('}') else { break };
                out.push_str(&rest[..start]);
                let header = &rest[start + 1..start + len];
                if header == "ActionID" {
                    if let Some(id) = action.action_id() {
                        out.push_str(&format!("ActionID: {}\r\n", String::from_utf8_lossy(id)));
                    }
                } else {
                    out.push_str(&text(header));
                }
                rest = &rest[start + len + 1..];
            }
            out.push_str(rest);
            out
        };
        let not_simulated = format!("{} is not simulated by ami mock", action.name());
        let Some(rule) = RULES.iter().find(|r| r.name == action.name()) else {
            // A registered action this table does not know: say so rather than guess.
            reply(server, sid, action, "Error", &not_simulated);
            return;
        };
        for check in rule.checks {
            let (headers, all, error) = match check {
                All(h, e) => (h, true, e),
                Any(h, e) => (h, false, e),
            };
            let present = |h: &&str| !text(h).is_empty();
            let ok = if all { headers.iter().all(present) } else { headers.iter().any(present) };
            if !ok {
                reply(server, sid, action, "Error", error);
                return;
            }
        }
        match &rule.then {
            Error(e) => reply(server, sid, action, "Error", &fill(e)),
            Ack(m) => reply(server, sid, action, "Success", m),
            Fields(m, fields) => {
                let mut r = ami_proto::encode::Response::new("Success").with("Message", *m);
                for (k, v) in *fields {
                    r.push(*k, fill(v));
                }
                let _ = server.respond(sid, action, &r);
            }
            List(start, complete) => {
                if server.list_start(sid, action, start).is_ok() {
                    let _ = server.list_complete(sid, action, complete, 0, &[]);
                }
            }
            Raw(bytes) => {
                let _ = server.respond_raw(sid, action, fill(bytes).as_bytes());
            }
            Channel(header, error) => {
                if self.find(&text(header)).is_some() {
                    reply(server, sid, action, "Error", &not_simulated);
                } else {
                    reply(server, sid, action, "Error", &fill(error));
                }
            }
            Bridge(header, error) => {
                let id = text(header);
                if self.bridges.values().any(|b| b.uniqueid() == id) {
                    reply(server, sid, action, "Error", &not_simulated);
                } else {
                    reply(server, sid, action, "Error", error);
                }
            }
            NotSimulated => reply(server, sid, action, "Error", &not_simulated),
        }
    }
}

//! Who may do what: the action catalog with its authorities, event categories, and the extra
//! privilege checks some actions make.
//!
//! * [`ACTIONS`] lists every action of spec §4.8–4.9 with the authority it is registered
//!   with, its canonical spelling and the synopsis Asterisk 22 prints in ListCommands (taken
//!   from the real server's capture, and for the actions of modules not loaded there from
//!   the XML documentation, normalised the same way `xmldoc` does: so every synopsis ends
//!   with a blank). It is kept in Asterisk's registration order: case-insensitively sorted
//!   (`strcasecmp`), which is the ListCommands order. Lookup is case-insensitive
//!   ([`action_info`], [`action_authority`]).
//! * An action may run iff its authority is 0 or shares a bit with the session's write
//!   permissions (§4.4, [`crate::perm::may_run`]); [`list_commands`] yields exactly those,
//!   and [`list_commands_text`] renders `<Action>: <synopsis> (Priv: <authority>)\r\n` lines.
//! * [`event_category`] maps an emitted event name (case-sensitive) to its category (§4.10).
//! * §4.7 escalations, as pure decisions returning a [`Refusal`] with Asterisk's exact
//!   message: [`check_originate`] (application/data blacklist: the first matching entry
//!   decides), [`check_getvar`] and [`check_status_variables`] (`SHELL`/`EVAL` need
//!   `system`), [`check_command`] (`module load`, `module unload`, `restart gracefully`).
//!   `Filter` needs `system` through its catalog authority.
//!
//! Wire values are handled as C strings: they end at the first NUL byte, if any.
//!
//! ```
//! use ami_proto::authority::{action_authority, check_getvar, event_category, Refusal};
//! use ami_proto::perm::{may_run, Privilege};
//!
//! let status = action_authority(b"STATUS").unwrap();
//! assert_eq!(status.to_string(), "system,call,reporting,all");
//! assert!(may_run(Privilege::REPORTING, status));
//! assert_eq!(event_category(b"Newchannel"), Some(Privilege::CALL));
//! assert_eq!(
//!     check_getvar(Privilege::CALL, b"SHELL(id)"),
//!     Err(Refusal::GetVarForbidden)
//! );
//! assert_eq!(Refusal::GetVarForbidden.message(), "GetVar Access Forbidden: Variable");
//! ```

use std::cmp::Ordering;
use std::error::Error;
use std::fmt;
use std::fmt::Write as _;

use crate::perm::{Privilege, may_run};
use crate::scan::scan_int;

/// One manager action as Asterisk registers it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ActionInfo {
    /// Canonical spelling (as registered and shown by ListCommands).
    pub name: &'static str,
    /// Required write classes (any one suffices); 0 = every authenticated session.
    pub authority: Privilege,
    /// ListCommands synopsis, exactly as Asterisk 22 stores it (ends with a blank).
    pub synopsis: &'static str,
    /// The Asterisk module registering it (`core` for `main/`), e.g. `app_queue`.
    pub module: &'static str,
}

impl ActionInfo {
    /// Appends this action's ListCommands line,
    /// `<name>: <synopsis> (Priv: <authority>)\r\n` (`main/manager.c:3343`).
    pub fn write_list_line(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{}: {} (Priv: {})\r\n", self.name, self.synopsis, self.authority);
    }
}

const fn act(
    name: &'static str,
    authority: Privilege,
    synopsis: &'static str,
    module: &'static str,
) -> ActionInfo {
    ActionInfo { name, authority, synopsis, module }
}

/// Every action of spec §4.8–4.9, in Asterisk's registration (= ListCommands) order:
/// sorted by ASCII-case-insensitive comparison of the names.
pub static ACTIONS: [ActionInfo; 154] = [
    act(
        "AbsoluteTimeout",
        Privilege::SYSTEM.union(Privilege::CALL),
        "Set absolute timeout. ",
        "core",
    ),
    act(
        "AgentLogoff",
        Privilege::AGENT,
        "Sets an agent as no longer logged in. ",
        "app_agent_pool",
    ),
    act("Agents", Privilege::AGENT, "Lists agents and their status. ", "app_agent_pool"),
    act("AGI", Privilege::AGI, "Add an AGI command to execute by Async AGI. ", "res_agi"),
    act(
        "AOCMessage",
        Privilege::AOC,
        "Generate an Advice of Charge message on a channel. ",
        "core",
    ),
    act("Atxfer", Privilege::CALL, "Attended transfer. ", "core"),
    act(
        "BlindTransfer",
        Privilege::CALL,
        "Blind transfer channel(s) to the given destination ",
        "core",
    ),
    act("Bridge", Privilege::CALL, "Bridge two channels already in the PBX. ", "core"),
    act("BridgeDestroy", Privilege::NONE, "Destroy a bridge. ", "core"),
    act("BridgeInfo", Privilege::NONE, "Get information about a bridge. ", "core"),
    act("BridgeKick", Privilege::NONE, "Kick a channel from a bridge. ", "core"),
    act("BridgeList", Privilege::NONE, "Get a list of bridges in the system. ", "core"),
    act(
        "BridgeTechnologyList",
        Privilege::NONE,
        "List available bridging technologies and their statuses. ",
        "core",
    ),
    act("BridgeTechnologySuspend", Privilege::NONE, "Suspend a bridging technology. ", "core"),
    act("BridgeTechnologyUnsuspend", Privilege::NONE, "Unsuspend a bridging technology. ", "core"),
    act("CancelAtxfer", Privilege::CALL, "Cancel an attended transfer. ", "core"),
    act("Challenge", Privilege::NONE, "Generate Challenge for MD5 Auth. ", "core"),
    act("Command", Privilege::COMMAND, "Execute Asterisk CLI Command. ", "core"),
    act("ConfbridgeKick", Privilege::CALL, "Kick a Confbridge user. ", "app_confbridge"),
    act(
        "ConfbridgeList",
        Privilege::REPORTING,
        "List participants in a conference. ",
        "app_confbridge",
    ),
    act("ConfbridgeListRooms", Privilege::REPORTING, "List active conferences. ", "app_confbridge"),
    act("ConfbridgeLock", Privilege::CALL, "Lock a Confbridge conference. ", "app_confbridge"),
    act("ConfbridgeMute", Privilege::CALL, "Mute a Confbridge user. ", "app_confbridge"),
    act(
        "ConfbridgeSetSingleVideoSrc",
        Privilege::CALL,
        "Set a conference user as the single video source distributed to all other participants. ",
        "app_confbridge",
    ),
    act(
        "ConfbridgeStartRecord",
        Privilege::SYSTEM,
        "Start recording a Confbridge conference. ",
        "app_confbridge",
    ),
    act(
        "ConfbridgeStopRecord",
        Privilege::SYSTEM,
        "Stop recording a Confbridge conference. ",
        "app_confbridge",
    ),
    act("ConfbridgeUnlock", Privilege::CALL, "Unlock a Confbridge conference. ", "app_confbridge"),
    act("ConfbridgeUnmute", Privilege::CALL, "Unmute a Confbridge user. ", "app_confbridge"),
    act(
        "ControlPlayback",
        Privilege::CALL,
        "Control the playback of a file being played to a channel. ",
        "app_controlplayback",
    ),
    act(
        "CoreSettings",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Show PBX core settings (version etc). ",
        "core",
    ),
    act(
        "CoreShowChannelMap",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "List all channels connected to the specified channel. ",
        "core",
    ),
    act(
        "CoreShowChannels",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "List currently active channels. ",
        "core",
    ),
    act(
        "CoreStatus",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Show PBX core status variables. ",
        "core",
    ),
    act(
        "CreateConfig",
        Privilege::CONFIG,
        "Creates an empty file in the configuration directory. ",
        "core",
    ),
    act(
        "DAHDIDialOffhook",
        Privilege::NONE,
        "Dial over DAHDI channel while offhook. ",
        "chan_dahdi",
    ),
    act(
        "DAHDIDNDoff",
        Privilege::NONE,
        "Toggle DAHDI channel Do Not Disturb status OFF. ",
        "chan_dahdi",
    ),
    act(
        "DAHDIDNDon",
        Privilege::NONE,
        "Toggle DAHDI channel Do Not Disturb status ON. ",
        "chan_dahdi",
    ),
    act("DAHDIHangup", Privilege::NONE, "Hangup DAHDI Channel. ", "chan_dahdi"),
    act(
        "DAHDIRestart",
        Privilege::NONE,
        "Fully Restart DAHDI channels (terminates calls). ",
        "chan_dahdi",
    ),
    act("DAHDIShowChannels", Privilege::NONE, "Show status of DAHDI channels. ", "chan_dahdi"),
    act("DAHDIShowStatus", Privilege::NONE, "Show status of DAHDI spans. ", "chan_dahdi"),
    act("DAHDITransfer", Privilege::NONE, "Transfer DAHDI Channel. ", "chan_dahdi"),
    act("DBDel", Privilege::SYSTEM, "Delete DB entry. ", "core"),
    act("DBDelTree", Privilege::SYSTEM, "Delete DB Tree. ", "core"),
    act("DBGet", Privilege::SYSTEM.union(Privilege::REPORTING), "Get DB Entry. ", "core"),
    act(
        "DBGetTree",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Get DB entries, optionally at a particular family/key ",
        "core",
    ),
    act("DBPut", Privilege::SYSTEM, "Put DB entry. ", "core"),
    act(
        "DeviceStateList",
        Privilege::CALL.union(Privilege::REPORTING),
        "List the current known device states. ",
        "res_manager_devicestate",
    ),
    act(
        "DialplanExtensionAdd",
        Privilege::SYSTEM,
        "Add an extension to the dialplan ",
        "pbx_config",
    ),
    act(
        "DialplanExtensionRemove",
        Privilege::SYSTEM,
        "Remove an extension from the dialplan ",
        "pbx_config",
    ),
    act("Events", Privilege::NONE, "Control Event Flow. ", "core"),
    act(
        "ExtensionState",
        Privilege::CALL.union(Privilege::REPORTING),
        "Check Extension Status. ",
        "core",
    ),
    act(
        "ExtensionStateList",
        Privilege::CALL.union(Privilege::REPORTING),
        "List the current known extension states. ",
        "core",
    ),
    act(
        "FAXSession",
        Privilege::CALL,
        "Responds with a detailed description of a single FAX session ",
        "res_fax",
    ),
    act("FAXSessions", Privilege::CALL, "Lists active FAX sessions ", "res_fax"),
    act("FAXStats", Privilege::REPORTING, "Responds with fax statistics ", "res_fax"),
    act(
        "Filter",
        Privilege::SYSTEM,
        "Dynamically add filters for the current manager session. ",
        "core",
    ),
    act(
        "GetConfig",
        Privilege::SYSTEM.union(Privilege::CONFIG),
        "Retrieve configuration. ",
        "core",
    ),
    act(
        "GetConfigJSON",
        Privilege::SYSTEM.union(Privilege::CONFIG),
        "Retrieve configuration (JSON format). ",
        "core",
    ),
    act(
        "Getvar",
        Privilege::CALL.union(Privilege::REPORTING),
        "Gets a channel variable or function value. ",
        "core",
    ),
    act("Hangup", Privilege::SYSTEM.union(Privilege::CALL), "Hangup channel. ", "core"),
    act(
        "IAXnetstats",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Show IAX Netstats. ",
        "chan_iax2",
    ),
    act(
        "IAXpeerlist",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "List IAX Peers. ",
        "chan_iax2",
    ),
    act("IAXpeers", Privilege::SYSTEM.union(Privilege::REPORTING), "List IAX peers. ", "chan_iax2"),
    act(
        "IAXregistry",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Show IAX registrations. ",
        "chan_iax2",
    ),
    act("JabberSend", Privilege::SYSTEM, "Sends a message to a Jabber Client. ", "res_xmpp"),
    act("ListCategories", Privilege::CONFIG, "List categories in configuration file. ", "core"),
    act("ListCommands", Privilege::NONE, "List available manager commands. ", "core"),
    act(
        "LocalOptimizeAway",
        Privilege::SYSTEM.union(Privilege::CALL),
        "Optimize away a local channel when possible. ",
        "core",
    ),
    act(
        "LoggerRotate",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Reload and rotate the Asterisk logger. ",
        "core",
    ),
    act("Login", Privilege::NONE, "Login Manager. ", "core"),
    act("Logoff", Privilege::NONE, "Logoff Manager. ", "core"),
    act(
        "MailboxCount",
        Privilege::CALL.union(Privilege::REPORTING),
        "Check Mailbox Message Count. ",
        "core",
    ),
    act("MailboxStatus", Privilege::CALL.union(Privilege::REPORTING), "Check mailbox. ", "core"),
    act("MeetmeList", Privilege::REPORTING, "List participants in a conference. ", "app_meetme"),
    act("MeetmeListRooms", Privilege::REPORTING, "List active conferences. ", "app_meetme"),
    act("MeetmeMute", Privilege::CALL, "Mute a Meetme user. ", "app_meetme"),
    act("MeetmeUnmute", Privilege::CALL, "Unmute a Meetme user. ", "app_meetme"),
    act("MessageSend", Privilege::MESSAGE, "Send an out of call message to an endpoint. ", "core"),
    act(
        "MixMonitor",
        Privilege::SYSTEM,
        "Record a call and mix the audio during the recording.  Use of StopMixMonitor is required to guarantee the audio file is available for processing during dialplan execution. ",
        "app_mixmonitor",
    ),
    act(
        "MixMonitorMute",
        Privilege::SYSTEM.union(Privilege::CALL),
        "Mute / unMute a Mixmonitor recording. ",
        "app_mixmonitor",
    ),
    act("ModuleCheck", Privilege::SYSTEM, "Check if module is loaded. ", "core"),
    act("ModuleLoad", Privilege::SYSTEM, "Module management. ", "core"),
    act("MuteAudio", Privilege::SYSTEM, "Mute an audio stream. ", "res_mutestream"),
    act("MWIDelete", Privilege::CALL, "Delete selected mailboxes. ", "res_mwi_external_ami"),
    act(
        "MWIGet",
        Privilege::CALL.union(Privilege::REPORTING),
        "Get selected mailboxes with message counts. ",
        "res_mwi_external_ami",
    ),
    act(
        "MWIUpdate",
        Privilege::CALL,
        "Update the mailbox message counts. ",
        "res_mwi_external_ami",
    ),
    act("Originate", Privilege::ORIGINATE, "Originate a call. ", "core"),
    act("Park", Privilege::CALL, "Park a channel. ", "res_parking"),
    act("ParkedCalls", Privilege::CALL, "List parked calls. ", "res_parking"),
    act("Parkinglots", Privilege::CALL, "Get a list of parking lots ", "res_parking"),
    act("Ping", Privilege::NONE, "Keepalive command. ", "core"),
    act(
        "PJSIPHangup",
        Privilege::SYSTEM.union(Privilege::CALL),
        "Hangup an incoming PJSIP channel with a SIP response code ",
        "chan_pjsip",
    ),
    act(
        "PJSIPNotify",
        Privilege::SYSTEM,
        "Send a NOTIFY to either an endpoint, an arbitrary URI, or inside a SIP dialog. ",
        "res_pjsip_notify",
    ),
    act(
        "PJSIPQualify",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Qualify a chan_pjsip endpoint. ",
        "res_pjsip",
    ),
    act(
        "PJSIPRegister",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Register an outbound registration. ",
        "res_pjsip_outbound_registration",
    ),
    act(
        "PJSIPSetMaintenance",
        Privilege::SYSTEM,
        "Enable or disable maintenance mode for a PJSIP endpoint. ",
        "res_pjsip_maintenance",
    ),
    act("PJSIPShowAors", Privilege::SYSTEM, "Lists PJSIP AORs. ", "res_pjsip"),
    act("PJSIPShowAuths", Privilege::SYSTEM, "Lists PJSIP Auths. ", "res_pjsip"),
    act("PJSIPShowContacts", Privilege::SYSTEM, "Lists PJSIP Contacts. ", "res_pjsip"),
    act(
        "PJSIPShowEndpoint",
        Privilege::SYSTEM,
        "Detail listing of an endpoint and its objects. ",
        "res_pjsip",
    ),
    act("PJSIPShowEndpoints", Privilege::SYSTEM, "Lists PJSIP endpoints. ", "res_pjsip"),
    act(
        "PJSIPShowMaintenance",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Show maintenance mode status for PJSIP endpoints. ",
        "res_pjsip_maintenance",
    ),
    act(
        "PJSIPShowRegistrationInboundContactStatuses",
        Privilege::SYSTEM,
        "Lists ContactStatuses for PJSIP inbound registrations. ",
        "res_pjsip_registrar",
    ),
    act(
        "PJSIPShowRegistrationsInbound",
        Privilege::SYSTEM,
        "Lists PJSIP inbound registrations. ",
        "res_pjsip_registrar",
    ),
    act(
        "PJSIPShowRegistrationsOutbound",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Lists PJSIP outbound registrations. ",
        "res_pjsip_outbound_registration",
    ),
    act(
        "PJSIPShowResourceLists",
        Privilege::SYSTEM,
        "Displays settings for configured resource lists. ",
        "res_pjsip_pubsub",
    ),
    act(
        "PJSIPShowSubscriptionsInbound",
        Privilege::SYSTEM,
        "Lists inbound subscriptions. ",
        "res_pjsip_pubsub",
    ),
    act(
        "PJSIPShowSubscriptionsOutbound",
        Privilege::SYSTEM,
        "Lists outbound subscriptions. ",
        "res_pjsip_pubsub",
    ),
    act(
        "PJSIPUnregister",
        Privilege::SYSTEM.union(Privilege::REPORTING),
        "Unregister an outbound registration. ",
        "res_pjsip_outbound_registration",
    ),
    act("PlayDTMF", Privilege::CALL, "Play DTMF signal on a specific channel. ", "app_senddtmf"),
    act("PlayMF", Privilege::CALL, "Play MF digit on a specific channel. ", "app_mf"),
    act(
        "PresenceState",
        Privilege::CALL.union(Privilege::REPORTING),
        "Check Presence State ",
        "core",
    ),
    act(
        "PresenceStateList",
        Privilege::CALL.union(Privilege::REPORTING),
        "List the current known presence states. ",
        "res_manager_presencestate",
    ),
    act(
        "PRIDebugFileSet",
        Privilege::SYSTEM,
        "Set the file used for PRI debug message output ",
        "chan_dahdi",
    ),
    act(
        "PRIDebugFileUnset",
        Privilege::NONE,
        "Disables file output for PRI debug messages ",
        "chan_dahdi",
    ),
    act("PRIDebugSet", Privilege::NONE, "Set PRI debug levels for a span ", "chan_dahdi"),
    act("PRIShowSpans", Privilege::NONE, "Show status of PRI spans. ", "chan_dahdi"),
    act("QueueAdd", Privilege::AGENT, "Add interface to queue. ", "app_queue"),
    act(
        "QueueChangePriorityCaller",
        Privilege::NONE,
        "Change priority of a caller on queue. ",
        "app_queue",
    ),
    act("QueueLog", Privilege::AGENT, "Adds custom entry in queue_log. ", "app_queue"),
    act(
        "QueueMemberRingInUse",
        Privilege::AGENT,
        "Set the ringinuse value for a queue member. ",
        "app_queue",
    ),
    act(
        "QueuePause",
        Privilege::AGENT,
        "Makes a queue member temporarily unavailable. ",
        "app_queue",
    ),
    act("QueuePenalty", Privilege::AGENT, "Set the penalty for a queue member. ", "app_queue"),
    act(
        "QueueReload",
        Privilege::NONE,
        "Reload a queue, queues, or any sub-section of a queue or queues. ",
        "app_queue",
    ),
    act("QueueRemove", Privilege::AGENT, "Remove interface from queue. ", "app_queue"),
    act("QueueReset", Privilege::NONE, "Reset queue statistics. ", "app_queue"),
    act("QueueRule", Privilege::NONE, "Queue Rules. ", "app_queue"),
    act("QueueStatus", Privilege::NONE, "Show queue status. ", "app_queue"),
    act("QueueSummary", Privilege::NONE, "Show queue summary. ", "app_queue"),
    act(
        "QueueWithdrawCaller",
        Privilege::NONE,
        "Request to withdraw a caller from the queue back to the dialplan. ",
        "app_queue",
    ),
    act("Redirect", Privilege::CALL, "Redirect (transfer) a call. ", "core"),
    act("Reload", Privilege::SYSTEM.union(Privilege::CONFIG), "Send a reload event. ", "core"),
    act("SendFlash", Privilege::CALL, "Send a hook flash on a specific channel. ", "app_senddtmf"),
    act(
        "SendText",
        Privilege::CALL,
        "Sends a text message to channel. A content type\tcan be optionally specified. If not set it is set to an empty string allowing a custom handler to default it as it sees fit. ",
        "core",
    ),
    act("Setvar", Privilege::CALL, "Sets a channel variable or function value. ", "core"),
    act(
        "ShowDialPlan",
        Privilege::CONFIG.union(Privilege::REPORTING),
        "Show dialplan contexts and extensions ",
        "core",
    ),
    act(
        "SorceryMemoryCacheExpire",
        Privilege::SYSTEM,
        "Expire (remove) ALL objects from a sorcery memory cache. ",
        "res_sorcery_memory_cache",
    ),
    act(
        "SorceryMemoryCacheExpireObject",
        Privilege::SYSTEM,
        "Expire (remove) an object from a sorcery memory cache. ",
        "res_sorcery_memory_cache",
    ),
    act(
        "SorceryMemoryCachePopulate",
        Privilege::SYSTEM,
        "Expire all objects from a memory cache and populate it with all objects from the backend. ",
        "res_sorcery_memory_cache",
    ),
    act(
        "SorceryMemoryCacheStale",
        Privilege::SYSTEM,
        "Marks ALL objects in a sorcery memory cache as stale. ",
        "res_sorcery_memory_cache",
    ),
    act(
        "SorceryMemoryCacheStaleObject",
        Privilege::SYSTEM,
        "Mark an object in a sorcery memory cache as stale. ",
        "res_sorcery_memory_cache",
    ),
    act(
        "Status",
        Privilege::SYSTEM.union(Privilege::CALL).union(Privilege::REPORTING),
        "List channel status. ",
        "core",
    ),
    act(
        "StopMixMonitor",
        Privilege::SYSTEM.union(Privilege::CALL),
        "Stop recording a call through MixMonitor, and free the recording's file handle. ",
        "app_mixmonitor",
    ),
    act("UpdateConfig", Privilege::CONFIG, "Update basic configuration. ", "core"),
    act("UserEvent", Privilege::USER, "Send an arbitrary event. ", "core"),
    act(
        "VoicemailBoxSummary",
        Privilege::CALL.union(Privilege::REPORTING),
        "Show the mailbox contents of given voicemail user. ",
        "app_voicemail",
    ),
    act(
        "VoicemailForward",
        Privilege::USER,
        "Forward Voicemail from one mailbox folder to another between given users. ",
        "app_voicemail",
    ),
    act(
        "VoicemailMove",
        Privilege::USER,
        "Move Voicemail between mailbox folders of given user. ",
        "app_voicemail",
    ),
    act(
        "VoicemailRefresh",
        Privilege::USER,
        "Tell Asterisk to poll mailboxes for a change ",
        "app_voicemail",
    ),
    act(
        "VoicemailRemove",
        Privilege::USER,
        "Remove Voicemail from mailbox folder. ",
        "app_voicemail",
    ),
    act(
        "VoicemailUsersList",
        Privilege::CALL.union(Privilege::REPORTING),
        "List All Voicemail User Information. ",
        "app_voicemail",
    ),
    act(
        "VoicemailUserStatus",
        Privilege::CALL.union(Privilege::REPORTING),
        "Show the status of given voicemail user's info. ",
        "app_voicemail",
    ),
    act("WaitEvent", Privilege::NONE, "Wait for an event to occur. ", "core"),
];

/// ASCII-case-insensitive ordering, like C `strcasecmp`.
fn cmp_ignore_ascii_case(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().map(u8::to_ascii_lowercase).cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// The part of `value` before its first NUL byte (C string semantics).
fn c_str(value: &[u8]) -> &[u8] {
    match value.iter().position(|&b| b == 0) {
        Some(end) => value.get(..end).unwrap_or(value),
        None => value,
    }
}

/// The catalog entry for an `Action:` value, matched case-insensitively and exactly otherwise
/// (`Ping ` with a trailing blank is unknown).
pub fn action_info(action: &[u8]) -> Option<&'static ActionInfo> {
    let action = c_str(action);
    ACTIONS
        .binary_search_by(|info| cmp_ignore_ascii_case(info.name.as_bytes(), action))
        .ok()
        .and_then(|index| ACTIONS.get(index))
}

/// The authority of an action (case-insensitive); `None` = unknown action.
pub fn action_authority(action: &[u8]) -> Option<Privilege> {
    action_info(action).map(|info| info.authority)
}

/// The actions a session with write permissions `write` may run, in ListCommands order
/// (§4.4, `main/manager.c:3334-3351`).
pub fn list_commands(write: Privilege) -> impl Iterator<Item = &'static ActionInfo> {
    ACTIONS.iter().filter(move |info| may_run(write, info.authority))
}

/// The ListCommands response lines for `actions` (one
/// `<name>: <synopsis> (Priv: <authority>)\r\n` each), without the response's
/// `Response:`/`ActionID:` head and final blank line. Pass [`list_commands`], filtered to the
/// actions the server really provides.
pub fn list_commands_text<'a>(actions: impl IntoIterator<Item = &'a ActionInfo>) -> String {
    let mut out = String::new();
    for info in actions {
        info.write_list_line(&mut out);
    }
    out
}

/// Event name → category as emitted by the code (§4.10), sorted by name (byte order).
static EVENTS: [(&str, Privilege); 121] = [
    ("AGIExecEnd", Privilege::AGI),
    ("AGIExecStart", Privilege::AGI),
    ("AOC-D", Privilege::AOC),
    ("AOC-E", Privilege::AOC),
    ("AOC-S", Privilege::AOC),
    ("AgentCalled", Privilege::AGENT),
    ("AgentComplete", Privilege::AGENT),
    ("AgentConnect", Privilege::AGENT),
    ("AgentDump", Privilege::AGENT),
    ("AgentLogin", Privilege::AGENT),
    ("AgentLogoff", Privilege::AGENT),
    ("AgentRingNoAnswer", Privilege::AGENT),
    ("Alarm", Privilege::SYSTEM),
    ("AlarmClear", Privilege::SYSTEM),
    ("AsyncAGIEnd", Privilege::AGI),
    ("AsyncAGIExec", Privilege::AGI),
    ("AsyncAGIStart", Privilege::AGI),
    ("AttendedTransfer", Privilege::CALL),
    ("AuthMethodNotAllowed", Privilege::SECURITY),
    ("BlindTransfer", Privilege::CALL),
    ("BridgeCreate", Privilege::CALL),
    ("BridgeDestroy", Privilege::CALL),
    ("BridgeEnter", Privilege::CALL),
    ("BridgeLeave", Privilege::CALL),
    ("BridgeMerge", Privilege::CALL),
    ("BridgeVideoSourceUpdate", Privilege::CALL),
    ("CCAvailable", Privilege::CC),
    ("CCCallerRecalling", Privilege::CC),
    ("CCCallerStartMonitoring", Privilege::CC),
    ("CCCallerStopMonitoring", Privilege::CC),
    ("CCFailure", Privilege::CC),
    ("CCMonitorFailed", Privilege::CC),
    ("CCOfferTimerStart", Privilege::CC),
    ("CCRecallComplete", Privilege::CC),
    ("CCRequestAcknowledged", Privilege::CC),
    ("CCRequested", Privilege::CC),
    ("CEL", Privilege::CALL),
    ("Cdr", Privilege::CDR),
    ("ChallengeResponseFailed", Privilege::SECURITY),
    ("ChallengeSent", Privilege::SECURITY),
    ("ChanSpyStart", Privilege::CALL),
    ("ChanSpyStop", Privilege::CALL),
    ("ChannelTalkingStart", Privilege::CALL),
    ("ChannelTalkingStop", Privilege::CALL),
    ("ContactStatus", Privilege::SYSTEM),
    ("DNDState", Privilege::SYSTEM),
    ("DTMFBegin", Privilege::DTMF),
    ("DTMFEnd", Privilege::DTMF),
    ("DeviceStateChange", Privilege::CALL),
    ("DialBegin", Privilege::CALL),
    ("DialEnd", Privilege::CALL),
    ("DialState", Privilege::CALL),
    ("ExtensionStatus", Privilege::CALL),
    ("FAXStatus", Privilege::CALL),
    ("FailedACL", Privilege::SECURITY),
    ("Flash", Privilege::CALL),
    ("FullyBooted", Privilege::SYSTEM),
    ("Hangup", Privilege::CALL),
    ("HangupHandlerPop", Privilege::DIALPLAN),
    ("HangupHandlerPush", Privilege::DIALPLAN),
    ("HangupHandlerRun", Privilege::DIALPLAN),
    ("HangupRequest", Privilege::CALL),
    ("Hold", Privilege::CALL),
    ("InvalidAccountID", Privilege::SECURITY),
    ("InvalidPassword", Privilege::SECURITY),
    ("InvalidTransport", Privilege::SECURITY),
    ("Load", Privilege::SYSTEM),
    ("LoadAverageLimit", Privilege::SECURITY),
    ("LocalBridge", Privilege::CALL),
    ("LocalOptimizationBegin", Privilege::CALL),
    ("LocalOptimizationEnd", Privilege::CALL),
    ("MemoryLimit", Privilege::SECURITY),
    ("MessageWaiting", Privilege::CALL),
    ("MixMonitorMute", Privilege::CALL),
    ("MixMonitorStart", Privilege::CALL),
    ("MixMonitorStop", Privilege::CALL),
    ("MusicOnHoldStart", Privilege::CALL),
    ("MusicOnHoldStop", Privilege::CALL),
    ("NewAccountCode", Privilege::CALL),
    ("NewCallerid", Privilege::CALL),
    ("NewConnectedLine", Privilege::CALL),
    ("Newchannel", Privilege::CALL),
    ("Newexten", Privilege::DIALPLAN),
    ("Newstate", Privilege::CALL),
    ("OriginateResponse", Privilege::CALL),
    ("PeerStatus", Privilege::SYSTEM),
    ("Pickup", Privilege::CALL),
    ("PresenceStateChange", Privilege::CALL),
    ("PresenceStatus", Privilege::CALL),
    ("QueueCallerAbandon", Privilege::AGENT),
    ("QueueCallerJoin", Privilege::AGENT),
    ("QueueCallerLeave", Privilege::AGENT),
    ("QueueMemberAdded", Privilege::AGENT),
    ("QueueMemberPause", Privilege::AGENT),
    ("QueueMemberPenalty", Privilege::AGENT),
    ("QueueMemberRemoved", Privilege::AGENT),
    ("QueueMemberRinginuse", Privilege::AGENT),
    ("QueueMemberStatus", Privilege::AGENT),
    ("RTCPReceived", Privilege::REPORTING),
    ("RTCPSent", Privilege::REPORTING),
    ("ReceiveFAX", Privilege::CALL),
    ("Registry", Privilege::SYSTEM),
    ("Reload", Privilege::SYSTEM),
    ("Rename", Privilege::CALL),
    ("RequestBadFormat", Privilege::SECURITY),
    ("RequestNotAllowed", Privilege::SECURITY),
    ("RequestNotSupported", Privilege::SECURITY),
    ("SendFAX", Privilege::CALL),
    ("SessionLimit", Privilege::SECURITY),
    ("Shutdown", Privilege::SYSTEM),
    ("SoftHangupRequest", Privilege::CALL),
    ("SpanAlarm", Privilege::SYSTEM),
    ("SpanAlarmClear", Privilege::SYSTEM),
    ("SuccessfulAuth", Privilege::SECURITY),
    ("UnexpectedAddress", Privilege::SECURITY),
    ("Unhold", Privilege::CALL),
    ("Unload", Privilege::SYSTEM),
    ("UserEvent", Privilege::USER),
    ("VarSet", Privilege::DIALPLAN),
    ("VoicemailPasswordChange", Privilege::SYSTEM.union(Privilege::USER)),
    ("Wink", Privilege::CALL),
];

/// The category of an event as Asterisk emits it (§4.10); the name is matched
/// case-sensitively, exactly as it appears in `Event:` (`Newexten`, not `NewExten`).
/// `None` for events this table does not know.
pub fn event_category(event_name: &[u8]) -> Option<Privilege> {
    let name = c_str(event_name);
    EVENTS
        .binary_search_by(|(known, _)| known.as_bytes().cmp(name))
        .ok()
        .and_then(|index| EVENTS.get(index))
        .map(|&(_, category)| category)
}

/// An in-action privilege check (§4.7) that an action makes beyond its authority: what
/// [`check_originate`], [`check_getvar`], [`check_status_variables`] and [`check_command`]
/// decide, named so that a table of actions can say which one applies.
///
/// ```
/// use ami_proto::authority::{Escalation, Refusal};
/// use ami_proto::perm::Privilege;
///
/// let check = Escalation::of(b"getvar").unwrap();
/// assert_eq!(check, Escalation::GetvarFunctions);
/// assert_eq!(check.parameters(), ["Variable"]);
/// let get = |name: &str| (name == "Variable").then_some(&b"SHELL(id)"[..]);
/// assert_eq!(check.check(Privilege::CALL, get), Err(Refusal::GetVarForbidden));
/// assert_eq!(Escalation::of(b"Ping"), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Escalation {
    /// Originate's application/data blacklist ([`check_originate`]).
    OriginateBlacklist,
    /// Getvar's `SHELL`/`EVAL` rule on `Variable` ([`check_getvar`]).
    GetvarFunctions,
    /// Status's `SHELL`/`EVAL` rule on `Variables` ([`check_status_variables`]).
    StatusVariables,
    /// Command's CLI blacklist ([`check_command`]).
    CommandBlacklist,
}

impl Escalation {
    /// The check the action `action` makes (case-insensitive, C string), if any.
    pub fn of(action: &[u8]) -> Option<Escalation> {
        let action = c_str(action);
        [
            (&b"Originate"[..], Escalation::OriginateBlacklist),
            (b"Getvar", Escalation::GetvarFunctions),
            (b"Status", Escalation::StatusVariables),
            (b"Command", Escalation::CommandBlacklist),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(action))
        .map(|(_, check)| check)
    }

    /// The action's headers the check reads.
    pub const fn parameters(self) -> &'static [&'static str] {
        match self {
            Escalation::OriginateBlacklist => &["Application", "Data"],
            Escalation::GetvarFunctions => &["Variable"],
            Escalation::StatusVariables => &["Variables"],
            Escalation::CommandBlacklist => &["Command"],
        }
    }

    /// Runs the check for a session with write permissions `write`; `get` returns the value of
    /// one of the action's headers (the first one, as Asterisk reads it), or `None`.
    pub fn check<'v>(
        self,
        write: Privilege,
        get: impl Fn(&str) -> Option<&'v [u8]>,
    ) -> Result<(), Refusal> {
        match self {
            Escalation::OriginateBlacklist => {
                check_originate(write, get("Application"), get("Data"))
            }
            Escalation::GetvarFunctions => check_getvar(write, get("Variable").unwrap_or_default()),
            Escalation::StatusVariables => {
                check_status_variables(write, get("Variables").unwrap_or_default())
            }
            Escalation::CommandBlacklist => check_command(get("Command").unwrap_or_default()),
        }
    }
}

/// An action refused by one of Asterisk's in-action privilege checks (§4.7). `Display` and
/// [`Refusal::message`] give the exact `Message:` text of the `Response: Error`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Refusal {
    /// Originate with a blacklisted application or data.
    OriginateForbidden {
        /// The blacklist entry that matched (`exec`, `queue`, `SHELL`, ...).
        matched: &'static str,
        /// The write classes that entry requires (any one suffices).
        required: Privilege,
    },
    /// Getvar of a `SHELL`/`EVAL` expression without write `system`.
    GetVarForbidden,
    /// Status `Variables` containing `SHELL`/`EVAL` without write `system`.
    StatusVariablesForbidden,
    /// A blacklisted CLI command.
    CommandBlacklisted {
        /// The blacklist entry that matched (`module load`, ...).
        matched: &'static str,
    },
}

impl Refusal {
    /// Asterisk's exact error message.
    pub const fn message(&self) -> &'static str {
        match self {
            Refusal::OriginateForbidden { .. } => {
                "Originate Access Forbidden: app or data blacklisted"
            }
            Refusal::GetVarForbidden => "GetVar Access Forbidden: Variable",
            Refusal::StatusVariablesForbidden => "Status Access Forbidden: Variables",
            Refusal::CommandBlacklisted { .. } => "Command blacklisted",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl Error for Refusal {}

/// Why a logged-in session may not run an action, with the message Asterisk answers
/// ([`authorize`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Denial {
    /// The action's authority shares no class with the session's write classes (§4.4).
    PermissionDenied,
    /// A §4.7 escalation check refused it.
    Refused(Refusal),
    /// Originate's validation, which Asterisk makes before its application check, failed
    /// (only reported when the application check would refuse too, as Asterisk answers).
    Invalid(&'static str),
}

impl Denial {
    /// Asterisk's exact `Message:` text of the `Response: Error`.
    pub const fn message(&self) -> &'static str {
        match self {
            Denial::PermissionDenied => "Permission denied",
            Denial::Refused(refusal) => refusal.message(),
            Denial::Invalid(message) => message,
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl Error for Denial {}

/// Whether a logged-in session with write classes `write` may run the action `info`, exactly as
/// Asterisk decides before the action does anything: its authority (§4.4, [`may_run`]), then
/// the §4.7 check the action makes ([`Escalation`]); `get` returns the value of one of the
/// request's headers (the first, as Asterisk reads it). The same decision the core's
/// [`Server`](crate::server::Server) makes, for gateways that hold one session for many
/// callers (`ami proxy`, `ami bridge`).
///
/// ```
/// use ami_proto::authority::{action_info, authorize, Denial};
/// use ami_proto::perm::Privilege;
///
/// let originate = action_info(b"Originate").unwrap();
/// let request = |h: &str| match h {
///     "Channel" => Some(&b"Local/100@default"[..]),
///     "Application" => Some(&b"System"[..]),
///     "Data" => Some(&b"rm -rf /"[..]),
///     _ => None,
/// };
/// assert_eq!(authorize(originate, Privilege::REPORTING, request), Err(Denial::PermissionDenied));
/// let denied = authorize(originate, Privilege::ORIGINATE, request).unwrap_err();
/// assert_eq!(denied.message(), "Originate Access Forbidden: app or data blacklisted");
/// assert_eq!(authorize(originate, Privilege::SYSTEM.union(Privilege::ORIGINATE), request), Ok(()));
/// ```
pub fn authorize<'v>(
    info: &ActionInfo,
    write: Privilege,
    get: impl Fn(&str) -> Option<&'v [u8]>,
) -> Result<(), Denial> {
    if !may_run(write, info.authority) {
        return Err(Denial::PermissionDenied);
    }
    let Some(check) = Escalation::of(info.name.as_bytes()) else { return Ok(()) };
    let Err(refusal) = check.check(write, &get) else { return Ok(()) };
    if check == Escalation::OriginateBlacklist
        && let Some(message) = originate_precheck(&get)
    {
        return Err(Denial::Invalid(message));
    }
    Err(Denial::Refused(refusal))
}

/// `AST_MAX_PUBLIC_UNIQUEID`.
const MAX_PUBLIC_UNIQUEID: usize = 149;

/// The error Asterisk's Originate gives before its application check, if any (only the
/// checks that need no dialplan: `main/manager.c` `action_originate`).
fn originate_precheck<'v>(get: impl Fn(&str) -> Option<&'v [u8]>) -> Option<&'static str> {
    let len = |h: &str| get(h).map_or(0, <[u8]>::len);
    if len("ChannelId") > MAX_PUBLIC_UNIQUEID || len("OtherChannelId") > MAX_PUBLIC_UNIQUEID {
        return Some("Uniqueid length exceeds maximum of 149\n");
    }
    let channel = get("Channel").unwrap_or_default();
    if channel.is_empty() {
        return Some("Channel not specified");
    }
    let timeout = get("Timeout").unwrap_or_default();
    if !timeout.is_empty() && scan_int(timeout, false).is_none() {
        return Some("Invalid timeout");
    }
    // `ast_copy_string(tmp, name, 256)` then `strchr(tmp, '/')`.
    if !channel.iter().take(255).any(|&b| b == b'/') {
        return Some("Invalid channel");
    }
    None
}

/// How an Originate blacklist entry inspects the request.
#[derive(Clone, Copy)]
enum OriginateMatch {
    /// ASCII-case-insensitive substring of the application name (`strcasestr`).
    App,
    /// The application name contains `queue` (case-insensitive) and Queue's 6th argument
    /// (AGI) is non-empty.
    QueueAgi,
    /// Case-sensitive substring of the data (`strstr`), data non-empty.
    Data,
}

/// `originate_app_permissions[]` (`main/manager.c:5133-5167`), scanned in order.
const ORIGINATE_BLACKLIST: [(&str, Privilege, OriginateMatch); 16] = [
    ("agi", Privilege::SYSTEM, OriginateMatch::App),
    ("dbdeltree", Privilege::SYSTEM, OriginateMatch::App),
    ("exec", Privilege::SYSTEM, OriginateMatch::App),
    ("externalivr", Privilege::SYSTEM, OriginateMatch::App),
    ("mixmonitor", Privilege::SYSTEM, OriginateMatch::App),
    ("originate", Privilege::SYSTEM, OriginateMatch::App),
    ("reload", Privilege::SYSTEM, OriginateMatch::App),
    ("system", Privilege::SYSTEM, OriginateMatch::App),
    ("queue", Privilege::AGI.union(Privilege::SYSTEM), OriginateMatch::QueueAgi),
    ("CURL", Privilege::SYSTEM, OriginateMatch::Data),
    ("DB", Privilege::SYSTEM, OriginateMatch::Data),
    ("EVAL", Privilege::SYSTEM, OriginateMatch::Data),
    ("FILE", Privilege::SYSTEM, OriginateMatch::Data),
    ("ODBC", Privilege::SYSTEM, OriginateMatch::Data),
    ("REALTIME", Privilege::SYSTEM, OriginateMatch::Data),
    ("SHELL", Privilege::SYSTEM, OriginateMatch::Data),
];

/// Index of the AGI argument in Queue's argument list.
const QUEUE_AGI_ARG: usize = 5;
/// Number of arguments `queue_match` declares (queuename … position).
const QUEUE_ARGS: usize = 9;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Originate's application/data blacklist (§4.7, `is_originate_app_permitted`,
/// `main/manager.c:5169-5181`, applied at `:5367-5373`). Only applies when `Application` is
/// non-empty; the first matching entry decides (allowed iff `write` shares a bit with the
/// entry's classes); no match → allowed.
///
/// Entries in order: application name contains (case-insensitively) `agi`, `dbdeltree`,
/// `exec`, `externalivr`, `mixmonitor`, `originate`, `reload`, `system` → system; contains
/// `queue` and the Data's 6th argument (Queue's AGI argument, split like
/// `AST_STANDARD_APP_ARGS`: `,`-separated, `"` quoting and `\` escapes removed, `()`/`[]`
/// nesting) is non-empty → agi or system; Data contains (case-sensitively) `CURL`, `DB`,
/// `EVAL`, `FILE`, `ODBC`, `REALTIME`, `SHELL` → system.
pub fn check_originate(
    write: Privilege,
    application: Option<&[u8]>,
    data: Option<&[u8]>,
) -> Result<(), Refusal> {
    let app = c_str(application.unwrap_or_default());
    if app.is_empty() {
        return Ok(());
    }
    let data = c_str(data.unwrap_or_default());
    for (search, required, how) in ORIGINATE_BLACKLIST {
        let matched = match how {
            OriginateMatch::App => contains_ignore_ascii_case(app, search.as_bytes()),
            OriginateMatch::QueueAgi => {
                contains_ignore_ascii_case(app, search.as_bytes()) && !data.is_empty() && {
                    let (lens, argc) = standard_app_args::<QUEUE_ARGS>(data);
                    QUEUE_AGI_ARG < argc && lens.get(QUEUE_AGI_ARG).is_some_and(|&len| len > 0)
                }
            }
            OriginateMatch::Data => !data.is_empty() && contains(data, search.as_bytes()),
        };
        if matched {
            return if write.intersects(required) {
                Ok(())
            } else {
                Err(Refusal::OriginateForbidden { matched: search, required })
            };
        }
    }
    Ok(())
}

/// Splits `data` like `AST_STANDARD_APP_ARGS` (`__ast_app_separate_args` with delimiter `,`
/// and `remove_chars`, `main/app.c:2357-2419`) into at most `N` arguments and returns each
/// argument's length after quote/backslash removal, plus the argument count.
///
/// Rules reproduced: `(`…`)` and `[`…`]` nesting and `"` quoting suppress splitting (their
/// state carries over between arguments); `"` characters are removed; `\` is removed and the
/// next byte taken literally; after `N - 1` arguments the unprocessed rest is the last one; a
/// delimiter at the very end (also after removed quotes) adds one empty argument. A trailing
/// lone `\` is dropped.
fn standard_app_args<const N: usize>(data: &[u8]) -> ([usize; N], usize) {
    let mut lens = [0usize; N];
    let data = c_str(data);
    let max_split = N.saturating_sub(1);
    if N == 0 {
        return (lens, 0);
    }
    let mut pos = 0usize;
    let mut argc = 0usize;
    let (mut paren, mut bracket) = (0usize, 0usize);
    let mut quote = false;
    let mut last_ended_by_delim = false;
    let mut last_clean_empty = false;
    while pos < data.len() && argc < max_split {
        let mut len = 0usize;
        let mut ended_by_delim = false;
        let mut one_past_end = false;
        while let Some(&c) = data.get(pos) {
            pos += 1;
            match c {
                b'(' => {
                    paren = paren.saturating_add(1);
                    len += 1;
                }
                b')' => {
                    paren = paren.saturating_sub(1);
                    len += 1;
                }
                b'[' => {
                    bracket = bracket.saturating_add(1);
                    len += 1;
                }
                b']' => {
                    bracket = bracket.saturating_sub(1);
                    len += 1;
                }
                b'"' => quote = !quote,
                b'\\' => {
                    if pos < data.len() {
                        pos += 1;
                        len += 1;
                    } else {
                        one_past_end = true;
                    }
                }
                b',' if paren == 0 && bracket == 0 && !quote => {
                    ended_by_delim = true;
                    break;
                }
                _ => len += 1,
            }
        }
        if let Some(slot) = lens.get_mut(argc) {
            *slot = len;
        }
        argc += 1;
        last_ended_by_delim = ended_by_delim;
        // The argument started right after a delimiter and left nothing: C's
        // `scan - 1 == wasdelim` holds at the end.
        last_clean_empty = argc >= 2 && len == 0 && !ended_by_delim && !one_past_end;
    }
    if pos < data.len() {
        if let Some(slot) = lens.get_mut(argc) {
            *slot = data.len() - pos;
        }
        argc += 1;
    } else if last_ended_by_delim || last_clean_empty {
        if let Some(slot) = lens.get_mut(argc) {
            *slot = 0;
        }
        argc += 1;
    }
    (lens, argc.min(N))
}

/// `function_capable_string_allowed_with_auths` (`main/manager.c:728-738`): a string
/// containing (case-sensitively) `SHELL` or `EVAL` needs write `system`.
fn function_capable_string_allowed(write: Privilege, value: &[u8]) -> bool {
    let value = c_str(value);
    write.contains(Privilege::SYSTEM) || !(contains(value, b"SHELL") || contains(value, b"EVAL"))
}

/// Getvar's check of `Variable` (§4.7, `main/manager.c:3643-3646`): `SHELL`/`EVAL` anywhere
/// (case-sensitive) requires write `system`. (Setvar has no such check.)
pub fn check_getvar(write: Privilege, variable: &[u8]) -> Result<(), Refusal> {
    if function_capable_string_allowed(write, variable) {
        Ok(())
    } else {
        Err(Refusal::GetVarForbidden)
    }
}

/// Status's check of `Variables` (§4.7, `main/manager.c:3817-3820`): same rule as Getvar.
pub fn check_status_variables(write: Privilege, variables: &[u8]) -> Result<(), Refusal> {
    if function_capable_string_allowed(write, variables) {
        Ok(())
    } else {
        Err(Refusal::StatusVariablesForbidden)
    }
}

/// `command_blacklist[]` (`main/manager.c:208-215`).
const COMMAND_BLACKLIST: [(&str, &str, &str); 3] = [
    ("module", "load", "module load"),
    ("module", "unload", "module unload"),
    ("restart", "gracefully", "restart gracefully"),
];

/// Asterisk's blank: a byte in 0x01..=0x20.
fn is_blank(b: &u8) -> bool {
    (1..=b' ').contains(b)
}

/// The Command action's blacklist (§4.7, `check_blacklist`, `main/manager.c:4287-4320`).
///
/// Like Asterisk, the command is split at single spaces (`strsep(" ")`); each piece is
/// stripped of leading/trailing blanks (0x01–0x20, tabs included) and skipped if empty, so
/// `module  load x` and ` module load` are blacklisted while `module\tload` (one word) is not.
/// The first two words are compared case-insensitively with `module load`, `module unload`
/// and `restart gracefully`. (The action itself first answers "No command provided" for an
/// empty command; that is not a privilege check and is not done here.)
pub fn check_command(command: &[u8]) -> Result<(), Refusal> {
    let mut words: [&[u8]; 2] = [b"", b""];
    let mut found = 0usize;
    for piece in c_str(command).split(|&b| b == b' ') {
        if found >= words.len() {
            break;
        }
        let start = piece.iter().position(|b| !is_blank(b));
        let end = piece.iter().rposition(|b| !is_blank(b));
        let word = match (start, end) {
            (Some(s), Some(e)) => piece.get(s..=e).unwrap_or_default(),
            _ => continue,
        };
        if let Some(slot) = words.get_mut(found) {
            *slot = word;
        }
        found += 1;
    }
    let [first, second] = words;
    for (w1, w2, matched) in COMMAND_BLACKLIST {
        if first.eq_ignore_ascii_case(w1.as_bytes()) && second.eq_ignore_ascii_case(w2.as_bytes()) {
            return Err(Refusal::CommandBlacklisted { matched });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perm::{Strictness, parse_perm};
    use proptest::prelude::*;

    #[test]
    fn authorize_is_the_servers_decision() {
        let info = |name: &[u8]| action_info(name).unwrap();
        let none = |_: &str| None;
        // Authority first: Ping needs nothing, Originate needs originate.
        assert_eq!(authorize(info(b"Ping"), Privilege::from_bits(0), none), Ok(()));
        assert_eq!(
            authorize(info(b"Originate"), Privilege::CALL, none),
            Err(Denial::PermissionDenied)
        );
        // Then the escalation, with Asterisk's messages.
        let getvar = |h: &str| (h == "Variable").then_some(&b"SHELL(id)"[..]);
        assert_eq!(
            authorize(info(b"Getvar"), Privilege::CALL, getvar),
            Err(Denial::Refused(Refusal::GetVarForbidden))
        );
        assert_eq!(
            authorize(info(b"Getvar"), Privilege::CALL.union(Privilege::SYSTEM), getvar),
            Ok(())
        );
        let status = |h: &str| (h == "Variables").then_some(&b"EVAL(x)"[..]);
        assert_eq!(
            authorize(info(b"Status"), Privilege::CALL, status).map_err(|d| d.message()),
            Err("Status Access Forbidden: Variables")
        );
        let command = |h: &str| (h == "Command").then_some(&b"module load chan_x.so"[..]);
        assert_eq!(
            authorize(info(b"Command"), Privilege::ALL, command).map_err(|d| d.message()),
            Err("Command blacklisted")
        );
        // Originate: the blacklist, and Asterisk's validation before it when it refuses.
        let originate = |channel: &'static [u8]| {
            move |h: &str| match h {
                "Channel" => Some(channel),
                "Application" => Some(&b"System"[..]),
                _ => None,
            }
        };
        let denied = authorize(info(b"Originate"), Privilege::ORIGINATE, originate(b"PJSIP/1"));
        assert!(matches!(denied, Err(Denial::Refused(Refusal::OriginateForbidden { .. }))));
        assert_eq!(
            authorize(info(b"Originate"), Privilege::ORIGINATE, originate(b"")),
            Err(Denial::Invalid("Channel not specified"))
        );
        assert_eq!(
            authorize(info(b"Originate"), Privilege::ORIGINATE, originate(b"nochannel")),
            Err(Denial::Invalid("Invalid channel"))
        );
        // A permitted application is not validated here: the PBX does that.
        let dial = |h: &str| (h == "Application").then_some(&b"Dial"[..]);
        assert_eq!(authorize(info(b"Originate"), Privilege::ORIGINATE, dial), Ok(()));
    }

    const ADMIN_CAPTURE: &[u8] =
        include_bytes!("../tests/data/asterisk-22/listcommands-admin/server_to_client.bin");
    const READER_CAPTURE: &[u8] =
        include_bytes!("../tests/data/asterisk-22/listcommands-reader/server_to_client.bin");

    /// The ListCommands response lines: after `ActionID: client-2\r\n`, up to and including
    /// the CRLF before the terminating blank line.
    fn list_body(capture: &[u8]) -> &[u8] {
        let marker: &[u8] = b"ActionID: client-2\r\n";
        let start = capture
            .windows(marker.len())
            .position(|w| w == marker)
            .map(|p| p + marker.len())
            .expect("ActionID line in capture");
        let rest = &capture[start..];
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("end of response");
        &rest[..end + 2]
    }

    fn on_capture_server(info: &&ActionInfo) -> bool {
        crate::server::CAPTURE_MODULES.contains(&info.module)
    }

    #[test]
    fn list_commands_matches_admin_capture_byte_for_byte() {
        let text = list_commands_text(list_commands(Privilege::ALL).filter(on_capture_server));
        assert_eq!(String::from_utf8_lossy(list_body(ADMIN_CAPTURE)), text.as_str());
        assert_eq!(list_body(ADMIN_CAPTURE), text.as_bytes());
    }

    #[test]
    fn list_commands_matches_reader_capture_byte_for_byte() {
        let write = parse_perm("", Strictness::AsteriskCompatible).unwrap().privilege;
        let text = list_commands_text(list_commands(write).filter(on_capture_server));
        assert_eq!(list_body(READER_CAPTURE), text.as_bytes());
    }

    #[test]
    fn captured_priv_texts_parse_back_to_catalog_authority() {
        let body = list_body(ADMIN_CAPTURE);
        let mut seen = 0;
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = std::str::from_utf8(line).unwrap().trim_end_matches('\r');
            let (name, _) = line.split_once(": ").unwrap();
            let (_, privs) = line.rsplit_once(" (Priv: ").unwrap();
            let privs = privs.trim_end_matches(')');
            let expected = if privs == "<none>" {
                Privilege::NONE
            } else {
                let labels = privs.strip_suffix(",all").unwrap();
                parse_perm(labels, Strictness::Strict).unwrap().privilege
            };
            let info = action_info(name.as_bytes()).unwrap();
            assert_eq!(info.name, name);
            assert_eq!(info.authority, expected, "{name}");
            seen += 1;
        }
        assert_eq!(seen, 93);
    }

    #[test]
    fn catalog_is_in_strcasecmp_registration_order() {
        for pair in ACTIONS.windows(2) {
            assert_eq!(
                cmp_ignore_ascii_case(pair[0].name.as_bytes(), pair[1].name.as_bytes()),
                Ordering::Less,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        for info in &ACTIONS {
            assert!(info.synopsis.ends_with(' '), "{}", info.name);
        }
    }

    #[test]
    fn escalations_are_the_four_in_action_checks() {
        let with: Vec<(&str, Escalation)> = ACTIONS
            .iter()
            .filter_map(|a| Escalation::of(a.name.as_bytes()).map(|e| (a.name, e)))
            .collect();
        assert_eq!(
            with,
            [
                ("Command", Escalation::CommandBlacklist),
                ("Getvar", Escalation::GetvarFunctions),
                ("Originate", Escalation::OriginateBlacklist),
                ("Status", Escalation::StatusVariables),
            ]
        );
        assert_eq!(Escalation::of(b"ORIGINATE\0x"), Some(Escalation::OriginateBlacklist));
        let get = |h: &str| match h {
            "Application" => Some(&b"System"[..]),
            "Data" => Some(&b"id"[..]),
            "Command" => Some(&b"module load x"[..]),
            _ => None,
        };
        assert!(Escalation::OriginateBlacklist.check(Privilege::ORIGINATE, get).is_err());
        assert!(Escalation::OriginateBlacklist.check(Privilege::SYSTEM, get).is_ok());
        assert!(Escalation::CommandBlacklist.check(Privilege::ALL, get).is_err());
        assert!(Escalation::StatusVariables.check(Privilege::NONE, get).is_ok());
    }

    #[test]
    fn events_table_is_sorted() {
        for pair in EVENTS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{}", pair[1].0);
        }
    }

    #[test]
    fn action_lookup_is_case_insensitive_and_exact() {
        assert_eq!(action_info(b"pInG").map(|a| a.name), Some("Ping"));
        assert_eq!(action_info(b"agi").map(|a| a.name), Some("AGI"));
        assert_eq!(action_info(b"Ping "), None);
        assert_eq!(action_info(b"Pin"), None);
        assert_eq!(action_info(b""), None);
        assert_eq!(action_info(b"Ping\0junk").map(|a| a.name), Some("Ping"));
        assert_eq!(action_authority(b"originate"), Some(Privilege::ORIGINATE));
        assert_eq!(action_authority(b"Filter"), Some(Privilege::SYSTEM));
        assert_eq!(action_authority(b"PJSIPShowEndpoints"), Some(Privilege::SYSTEM));
        assert_eq!(action_authority(b"Foo"), None);
    }

    #[test]
    fn every_action_is_found_by_its_name_in_any_case() {
        for info in &ACTIONS {
            let upper = info.name.to_ascii_uppercase();
            assert_eq!(action_info(upper.as_bytes()), Some(info));
            assert_eq!(action_info(info.name.as_bytes()), Some(info));
        }
    }

    #[test]
    fn list_line_format() {
        let mut out = String::new();
        action_info(b"Hangup").unwrap().write_list_line(&mut out);
        assert_eq!(out, "Hangup: Hangup channel.  (Priv: system,call,all)\r\n");
    }

    #[test]
    fn case_25_write_permission_is_any_bit() {
        let reporting = Privilege::REPORTING;
        let can = |w: Privilege, a: &[u8]| may_run(w, action_authority(a).unwrap());
        assert!(can(reporting, b"Status"));
        assert!(can(reporting, b"CoreShowChannels"));
        assert!(!can(reporting, b"Hangup"));
        for action in
            [&b"Ping"[..], b"Events", b"ListCommands", b"WaitEvent", b"QueueStatus", b"BridgeList"]
        {
            assert!(can(Privilege::NONE, action));
        }
        assert!(!can(Privilege::NONE, b"Filter"));
        assert!(list_commands(Privilege::NONE).all(|a| a.authority.is_empty()));
    }

    #[test]
    fn event_categories() {
        assert_eq!(event_category(b"Newexten"), Some(Privilege::DIALPLAN));
        assert_eq!(event_category(b"NewExten"), None);
        assert_eq!(
            event_category(b"VoicemailPasswordChange"),
            Some(Privilege::SYSTEM | Privilege::USER)
        );
        assert_eq!(event_category(b"FullyBooted"), Some(Privilege::SYSTEM));
        assert_eq!(event_category(b"InvalidPassword"), Some(Privilege::SECURITY));
        assert_eq!(event_category(b"AOC-D"), Some(Privilege::AOC));
        assert_eq!(event_category(b"Cdr"), Some(Privilege::CDR));
        assert_eq!(event_category(b"UserEvent"), Some(Privilege::USER));
        assert_eq!(event_category(b"VarSet"), Some(Privilege::DIALPLAN));
        assert_eq!(event_category(b"AsyncAGIExec"), Some(Privilege::AGI));
        assert_eq!(event_category(b"newchannel"), None);
    }

    #[test]
    fn case_39_originate_escalation() {
        let write = Privilege::ORIGINATE;
        assert_eq!(
            check_originate(write, Some(b"ExecIf"), Some(b"1?NoOp")),
            Err(Refusal::OriginateForbidden { matched: "exec", required: Privilege::SYSTEM })
        );
        assert!(check_originate(write, Some(b"Playback"), Some(b"SHELL")).is_err());
        assert_eq!(check_originate(write, Some(b"Playback"), Some(b"shell")), Ok(()));
        assert_eq!(
            Refusal::OriginateForbidden { matched: "exec", required: Privilege::SYSTEM }
                .to_string(),
            "Originate Access Forbidden: app or data blacklisted"
        );
        assert_eq!(check_originate(Privilege::SYSTEM, Some(b"ExecIf"), Some(b"1?NoOp")), Ok(()));
    }

    #[test]
    fn originate_app_names_case_insensitive_substrings() {
        let write = Privilege::ORIGINATE | Privilege::CALL;
        for app in [
            &b"AGI"[..],
            b"EAGI",
            b"DeadAGI",
            b"DBdeltree",
            b"TryExec",
            b"ExternalIVR",
            b"MixMonitor",
            b"Originate",
            b"MODULERELOAD",
            b"System",
            b"TrySystem",
        ] {
            assert!(check_originate(write, Some(app), None).is_err(), "{app:?}");
        }
        assert_eq!(check_originate(write, Some(b"Playback"), Some(b"x")), Ok(()));
        assert_eq!(check_originate(write, None, Some(b"SHELL(rm)")), Ok(()));
        assert_eq!(check_originate(write, Some(b""), Some(b"SHELL(rm)")), Ok(()));
    }

    #[test]
    fn originate_data_substrings_case_sensitive() {
        let write = Privilege::ORIGINATE;
        for data in [
            &b"${CURL(x)}"[..],
            b"${DB(a/b)}",
            b"EVAL",
            b"FILE(/etc/passwd)",
            b"ODBC_X",
            b"REALTIME",
            b"xSHELLx",
        ] {
            assert!(check_originate(write, Some(b"NoOp"), Some(data)).is_err());
        }
        assert_eq!(check_originate(write, Some(b"NoOp"), Some(b"db curl")), Ok(()));
    }

    #[test]
    fn originate_queue_agi_argument_rule() {
        let write = Privilege::ORIGINATE;
        let q = |data: &'static [u8]| check_originate(write, Some(b"Queue"), Some(data));
        assert!(q(b"support,,,,,agi://x").is_err());
        assert!(q(b"support,,,,,\\,").is_err(), "escaped comma is content");
        assert!(q(b"a,b,\"c,d\",e,f,g").is_err(), "quoted comma does not split");
        assert!(q(b"[a,b],c,d,e,f,g").is_err());
        assert_eq!(q(b"support,t"), Ok(()));
        assert_eq!(q(b"support,,,,,\"\""), Ok(()), "quotes removed: empty");
        assert_eq!(q(b"support,(,,,,,x)"), Ok(()), "parentheses do not split");
        assert_eq!(q(b"a,b,c,d,e,,"), Ok(()));
        assert_eq!(q(b""), Ok(()));
        // agi or system suffices, and the first matching entry decides: with agi, the data
        // blacklist after it is never consulted.
        assert_eq!(check_originate(Privilege::AGI, Some(b"queue"), Some(b"q,,,,,SHELL")), Ok(()));
        assert_eq!(
            check_originate(write, Some(b"Queue"), Some(b"q,,,,,x")),
            Err(Refusal::OriginateForbidden {
                matched: "queue",
                required: Privilege::AGI | Privilege::SYSTEM
            })
        );
        // Queue without the AGI argument falls through to the data entries.
        assert!(check_originate(Privilege::AGI, Some(b"Queue"), Some(b"DB")).is_err());
    }

    #[test]
    fn standard_app_args_splitting() {
        assert_eq!(standard_app_args::<9>(b"a,bb"), ([1, 2, 0, 0, 0, 0, 0, 0, 0], 2));
        assert_eq!(standard_app_args::<9>(b"a,"), ([1, 0, 0, 0, 0, 0, 0, 0, 0], 2));
        assert_eq!(standard_app_args::<9>(b"a,\""), ([1, 0, 0, 0, 0, 0, 0, 0, 0], 3));
        assert_eq!(standard_app_args::<9>(b"a,\\"), ([1, 0, 0, 0, 0, 0, 0, 0, 0], 2));
        assert_eq!(standard_app_args::<9>(b""), ([0; 9], 0));
        assert_eq!(standard_app_args::<3>(b"a,b,\"c\",d"), ([1, 1, 5], 3));
        assert_eq!(standard_app_args::<3>(b"a,b,"), ([1, 1, 0], 3));
        assert_eq!(standard_app_args::<2>(b"\"a,b\",c"), ([3, 1], 2));
        assert_eq!(standard_app_args::<2>(b"(a,b),c"), ([5, 1], 2));
        assert_eq!(standard_app_args::<2>(b"a),b"), ([2, 1], 2));
        assert_eq!(standard_app_args::<1>(b"a,b"), ([3], 1));
        assert_eq!(standard_app_args::<0>(b"a,b"), ([], 0));
    }

    #[test]
    fn case_40_getvar_escalation() {
        assert_eq!(check_getvar(Privilege::CALL, b"SHELL(id)"), Err(Refusal::GetVarForbidden));
        assert_eq!(Refusal::GetVarForbidden.to_string(), "GetVar Access Forbidden: Variable");
        assert_eq!(check_getvar(Privilege::CALL, b"shell(id)"), Ok(()));
        assert!(check_getvar(Privilege::CALL, b"${EVAL(x)}").is_err());
        assert_eq!(check_getvar(Privilege::ALL, b"SHELL(id)"), Ok(()));
        assert_eq!(check_getvar(Privilege::CALL, b"CHANNEL(name)"), Ok(()));
    }

    #[test]
    fn status_variables_escalation() {
        assert_eq!(
            check_status_variables(Privilege::REPORTING, b"foo,SHELL(id)"),
            Err(Refusal::StatusVariablesForbidden)
        );
        assert_eq!(
            Refusal::StatusVariablesForbidden.message(),
            "Status Access Forbidden: Variables"
        );
        assert_eq!(check_status_variables(Privilege::REPORTING, b""), Ok(()));
        assert_eq!(check_status_variables(Privilege::SYSTEM, b"EVAL"), Ok(()));
    }

    #[test]
    fn case_28_command_blacklist() {
        let blacklisted = |c: &[u8]| check_command(c).is_err();
        assert!(blacklisted(b"module load x"));
        assert!(blacklisted(b"module  load x"));
        assert!(blacklisted(b" module load"));
        assert!(blacklisted(b"MODULE Unload chan_sip.so"));
        assert!(blacklisted(b"restart gracefully"));
        assert!(blacklisted(b"module\t load"));
        assert!(blacklisted(b"module load\t"));
        assert_eq!(
            check_command(b"module load x"),
            Err(Refusal::CommandBlacklisted { matched: "module load" })
        );
        assert_eq!(
            Refusal::CommandBlacklisted { matched: "module load" }.to_string(),
            "Command blacklisted"
        );
        assert!(!blacklisted(b"core show version"));
        assert!(!blacklisted(b"module\tload x"), "tab does not split words");
        assert!(!blacklisted(b"module"));
        assert!(!blacklisted(b"module show"));
        assert!(!blacklisted(b"module loadx"));
        assert!(!blacklisted(b"restart now"));
        assert!(!blacklisted(b""));
    }

    proptest! {
        #[test]
        fn prop_checks_never_panic(
            a in proptest::collection::vec(any::<u8>(), 0..48),
            b in proptest::collection::vec(any::<u8>(), 0..48),
            bits in any::<u32>(),
        ) {
            let write = Privilege::from_bits(bits);
            let _ = check_originate(write, Some(&a), Some(&b));
            let _ = check_getvar(write, &a);
            let _ = check_status_variables(write, &a);
            let _ = check_command(&a);
            let _ = action_info(&a);
            let _ = event_category(&a);
            let _ = standard_app_args::<9>(&a);
        }

        #[test]
        fn prop_app_args_plain_split(parts in proptest::collection::vec("[a-z]{0,3}", 1..8)) {
            // Without special characters the split is a plain `,` split (≤ 9 args).
            let data = parts.join(",");
            let (lens, argc) = standard_app_args::<9>(data.as_bytes());
            if data.is_empty() {
                prop_assert_eq!(argc, 0);
            } else {
                prop_assert_eq!(argc, parts.len());
                for (i, p) in parts.iter().enumerate() {
                    prop_assert_eq!(lens[i], p.len());
                }
            }
        }
    }
}

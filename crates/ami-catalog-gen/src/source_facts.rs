//! What Asterisk's code says that its documentation gets wrong or leaves out.
//!
//! Where the documentation and the code disagree, the code wins: it is what a server sends and
//! accepts. Every entry names the line of the Asterisk 22.10.1 source that proves it. The
//! extractor applies each entry only if the documentation still says what the entry expects,
//! and fails otherwise, so that a fixed documentation bug (or a renamed item) in a later release
//! is noticed and the entry removed, never applied blindly.

/// An event whose documented name is not the name Asterisk emits.
#[derive(Debug, Clone, Copy)]
pub struct EventRename {
    /// As documented.
    pub documented: &'static str,
    /// As emitted in `Event:`.
    pub emitted: &'static str,
    /// Source line.
    pub evidence: &'static str,
}

/// The documentation names an event `NewExten`; `manager_channels.c` emits `Newexten`.
pub const EVENT_RENAMES: &[EventRename] = &[EventRename {
    documented: "NewExten",
    emitted: "Newexten",
    evidence: "main/manager_channels.c:698",
}];

/// An event whose documented class is not the one it is emitted with.
#[derive(Debug, Clone, Copy)]
pub struct EventClass {
    /// The event (emitted name).
    pub event: &'static str,
    /// The documented `class` attribute.
    pub documented: &'static str,
    /// The classes it is emitted with, as manager.conf labels.
    pub emitted: &'static [&'static str],
    /// Source line.
    pub evidence: &'static str,
}

/// Class corrections.
pub const EVENT_CLASSES: &[EventClass] = &[
    EventClass {
        event: "ChannelTalkingStart",
        documented: "EVENT_FLAG_CLASS",
        emitted: &["call"],
        evidence: "main/stasis_channels.c:1563",
    },
    EventClass {
        event: "ChannelTalkingStop",
        documented: "EVENT_FLAG_CLASS",
        emitted: &["call"],
        evidence: "main/stasis_channels.c:1588",
    },
    EventClass {
        event: "VoicemailPasswordChange",
        documented: "EVENT_FLAG_USER",
        emitted: &["system", "user"],
        evidence: "apps/app_voicemail.c:2077",
    },
];

/// A documentation module (the source file's name) that is part of another loadable module.
#[derive(Debug, Clone, Copy)]
pub struct ModuleAlias {
    /// The `module` attribute of the documentation.
    pub documented: &'static str,
    /// The module Asterisk loads (`module show`), `core` for the core.
    pub module: &'static str,
    /// Where the build puts the file into that module.
    pub evidence: &'static str,
}

/// Module names.
pub const MODULE_ALIASES: &[ModuleAlias] = &[
    ModuleAlias {
        documented: "builtin",
        module: "core",
        evidence: "main/Makefile (the asterisk binary)",
    },
    ModuleAlias {
        documented: "confbridge_manager",
        module: "app_confbridge",
        evidence: "apps/Makefile:50",
    },
    ModuleAlias {
        documented: "parking_manager",
        module: "res_parking",
        evidence: "res/Makefile:62",
    },
    ModuleAlias { documented: "sig_pri", module: "chan_dahdi", evidence: "channels/Makefile:26" },
];

/// A parameter the action reads every occurrence of (all the documentation has is prose).
#[derive(Debug, Clone, Copy)]
pub struct Repeatable {
    /// The action.
    pub action: &'static str,
    /// The parameter.
    pub parameter: &'static str,
    /// The call that reads every occurrence.
    pub evidence: &'static str,
}

/// Repeatable parameters: the handlers read them with `astman_get_variables*`.
pub const REPEATABLE: &[Repeatable] = &[
    Repeatable { action: "MessageSend", parameter: "Variable", evidence: "main/message.c:1383" },
    Repeatable { action: "Originate", parameter: "Variable", evidence: "main/manager.c:5360" },
    Repeatable {
        action: "PJSIPNotify",
        parameter: "Variable",
        evidence: "res/res_pjsip_notify.c:1194",
    },
];

/// A documented name that stands for a numbered family of headers.
#[derive(Debug, Clone, Copy)]
pub struct Indexed {
    /// The action or event.
    pub owner: &'static str,
    /// The documented name.
    pub documented: &'static str,
    /// The header name with `{}`/`{:06}` where the number goes.
    pub template: &'static str,
    /// The `snprintf` that builds (or reads) the names.
    pub evidence: &'static str,
}

/// Numbered header families.
pub const INDEXED: &[Indexed] = &[
    Indexed {
        owner: "AOCMessage",
        documented: "UnitAmount(0)",
        template: "UnitAmount({})",
        evidence: "main/manager.c:4501",
    },
    Indexed {
        owner: "AOCMessage",
        documented: "UnitType(0)",
        template: "UnitType({})",
        evidence: "main/manager.c:4504",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Action-000000",
        template: "Action-{:06}",
        evidence: "main/manager.c:2763",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Cat-000000",
        template: "Cat-{:06}",
        evidence: "main/manager.c:2768",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Var-000000",
        template: "Var-{:06}",
        evidence: "main/manager.c:2775",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Value-000000",
        template: "Value-{:06}",
        evidence: "main/manager.c:2778",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Match-000000",
        template: "Match-{:06}",
        evidence: "main/manager.c:2786",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Line-000000",
        template: "Line-{:06}",
        evidence: "main/manager.c:2789",
    },
    Indexed {
        owner: "UpdateConfig",
        documented: "Options-000000",
        template: "Options-{:06}",
        evidence: "main/manager.c:2792",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXSourceSSRC",
        template: "Report{}SourceSSRC",
        evidence: "main/rtp_engine.c:3620",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXFractionLost",
        template: "Report{}FractionLost",
        evidence: "main/rtp_engine.c:3622",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXCumulativeLost",
        template: "Report{}CumulativeLost",
        evidence: "main/rtp_engine.c:3624",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXHighestSequence",
        template: "Report{}HighestSequence",
        evidence: "main/rtp_engine.c:3626",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXSequenceNumberCycles",
        template: "Report{}SequenceNumberCycles",
        evidence: "main/rtp_engine.c:3628",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXIAJitter",
        template: "Report{}IAJitter",
        evidence: "main/rtp_engine.c:3630",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXLSR",
        template: "Report{}LSR",
        evidence: "main/rtp_engine.c:3632",
    },
    Indexed {
        owner: "RTCPReceived",
        documented: "ReportXDLSR",
        template: "Report{}DLSR",
        evidence: "main/rtp_engine.c:3634",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXSourceSSRC",
        template: "Report{}SourceSSRC",
        evidence: "main/rtp_engine.c:3620",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXFractionLost",
        template: "Report{}FractionLost",
        evidence: "main/rtp_engine.c:3622",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXCumulativeLost",
        template: "Report{}CumulativeLost",
        evidence: "main/rtp_engine.c:3624",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXHighestSequence",
        template: "Report{}HighestSequence",
        evidence: "main/rtp_engine.c:3626",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXSequenceNumberCycles",
        template: "Report{}SequenceNumberCycles",
        evidence: "main/rtp_engine.c:3628",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXIAJitter",
        template: "Report{}IAJitter",
        evidence: "main/rtp_engine.c:3630",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXLSR",
        template: "Report{}LSR",
        evidence: "main/rtp_engine.c:3632",
    },
    Indexed {
        owner: "RTCPSent",
        documented: "ReportXDLSR",
        template: "Report{}DLSR",
        evidence: "main/rtp_engine.c:3634",
    },
];

/// A documented parameter that is a placeholder for arbitrary headers, not a header name.
#[derive(Debug, Clone, Copy)]
pub struct FreeForm {
    /// The action.
    pub action: &'static str,
    /// The placeholder.
    pub documented: &'static str,
    /// The loop that copies every other header.
    pub evidence: &'static str,
}

/// UserEvent copies every header but `Action` and `UserEvent` into the event; the documentation
/// writes them `Header1` … `HeaderN`. Builders add such headers with their generic `header`.
pub const FREE_FORM: &[FreeForm] = &[
    FreeForm { action: "UserEvent", documented: "Header1", evidence: "main/manager.c:6471" },
    FreeForm { action: "UserEvent", documented: "HeaderN", evidence: "main/manager.c:6471" },
];

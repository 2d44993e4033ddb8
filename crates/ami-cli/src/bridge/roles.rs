//! Roles: what an application on the bus may read and do, decided exactly as Asterisk decides
//! for a manager.conf user (the core's [`may_receive`], [`FilterSet`] and
//! [`authority::authorize`]).

use ami_proto::Message;
use ami_proto::authority::{self, ActionInfo, action_info};
use ami_proto::filter::FilterSet;
use ami_proto::perm::{Privilege, may_receive, may_run};

/// Actions that act on the AMI session itself: the bridge's session is shared, so no role may
/// send them (ListCommands is answered by the bridge from the role's classes).
pub const SESSION_ACTIONS: [&str; 6] =
    ["Login", "Logoff", "Challenge", "Events", "Filter", "WaitEvent"];

/// One role: a manager.conf user without a secret.
#[derive(Clone, Debug)]
pub struct Role {
    /// Its name, lower case: the second token of its subjects.
    pub name: String,
    /// Event classes it reads (an event needs all of its bits).
    pub read: Privilege,
    /// Action classes it may use (an action needs one of its authority's bits).
    pub write: Privilege,
    /// Its event filters (Asterisk's include/exclude rules on the event text).
    pub filters: FilterSet,
    /// The PBXs it sees, by upstream index (`None`: all).
    pub pbxs: Option<Vec<usize>>,
}

/// Why an action request was refused: the `Message:` of the `Response: Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl Role {
    /// A role.
    pub fn new(
        name: String,
        read: Privilege,
        write: Privilege,
        filters: FilterSet,
        pbxs: Option<Vec<usize>>,
    ) -> Role {
        Role { name, read, write, filters, pbxs }
    }

    /// Whether the role sees PBX `pbx` at all.
    pub fn sees_pbx(&self, pbx: usize) -> bool {
        self.pbxs.as_ref().is_none_or(|list| list.contains(&pbx))
    }

    /// Whether an event of `category` named `name`, whose full text is `text`, goes to this
    /// role's tree: every bit of its category among the read classes, and the filters pass
    /// it (Asterisk's order: the class first, then the filters on the event's text).
    pub fn receives(&self, pbx: usize, category: Privilege, name: &[u8], text: &[u8]) -> bool {
        self.sees_pbx(pbx)
            && may_receive(self.read, category)
            && (self.filters.is_empty() || self.filters.should_send(name, text))
    }

    /// Whether the role could have run the snapshot action `action` itself (and so gets its
    /// parts).
    pub fn may_snapshot(&self, pbx: usize, action: &str) -> bool {
        self.sees_pbx(pbx)
            && action_info(action.as_bytes())
                .is_some_and(|info| authority::authorize(info, self.write, |_| None).is_ok())
    }

    /// Authorizes an action request as Asterisk would for a user with this role's write
    /// classes, refusing the session actions; `Ok` gives the catalog entry.
    pub fn authorize(&self, m: &Message<'_>) -> Result<&'static ActionInfo, Refused> {
        let Some(name) = m.action().filter(|a| !a.is_empty()) else {
            return Err(Refused("Missing action in request".to_owned()));
        };
        let Some(info) = action_info(name) else {
            return Err(Refused(format!(
                "Invalid/unknown command: {}. Use Action: ListCommands to show available commands.",
                String::from_utf8_lossy(name)
            )));
        };
        if SESSION_ACTIONS.iter().any(|s| s.eq_ignore_ascii_case(info.name)) {
            return Err(Refused(format!(
                "{} acts on the bridge's shared AMI session and is not available on the bus",
                info.name
            )));
        }
        if !may_run(self.write, info.authority) {
            return Err(Refused("Permission denied".to_owned()));
        }
        authority::authorize(info, self.write, |h| m.get(h))
            .map_err(|d| Refused(d.message().to_owned()))?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::with_message as with;
    use ami_proto::filter::EventFilter;

    fn role(read: Privilege, write: Privilege) -> Role {
        Role::new("r".into(), read, write, FilterSet::default(), None)
    }

    #[test]
    fn events_need_every_class_bit_and_the_filters() {
        let r = role(Privilege::CALL, Privilege::NONE);
        let text = b"Event: Hangup\r\nPrivilege: call,all\r\n\r\n";
        assert!(r.receives(0, Privilege::CALL, b"Hangup", text));
        assert!(!r.receives(0, Privilege::CDR, b"Cdr", text));
        assert!(!r.receives(0, Privilege::CALL.union(Privilege::SYSTEM), b"X", text));
        // Category 0 (the bridge's own markers) reaches everyone, as in Asterisk.
        assert!(r.receives(0, Privilege::NONE, b"BridgeGap", text));
        let mut f = role(Privilege::CALL, Privilege::NONE);
        f.filters.add(EventFilter::parse("eventfilter", "!Event: Hangup").unwrap());
        assert!(!f.receives(0, Privilege::CALL, b"Hangup", text));
        assert!(f.receives(0, Privilege::CALL, b"Newchannel", b"Event: Newchannel\r\n\r\n"));
        let mut p = role(Privilege::ALL, Privilege::NONE);
        p.pbxs = Some(vec![1]);
        assert!(!p.receives(0, Privilege::CALL, b"Hangup", text));
        assert!(p.receives(1, Privilege::CALL, b"Hangup", text));
    }

    #[test]
    fn actions_as_asterisk_decides() {
        let r = role(Privilege::CALL, Privilege::ORIGINATE.union(Privilege::REPORTING));
        let refused = |r: &Role, bytes: &[u8]| {
            let mut out = None;
            with(bytes, |m| out = Some(r.authorize(&m)));
            out.unwrap().err().map(|e| e.0)
        };
        assert_eq!(refused(&r, b"Action: CoreShowChannels\r\n\r\n"), None);
        assert_eq!(
            refused(&r, b"Action: Command\r\nCommand: core show uptime\r\n\r\n").as_deref(),
            Some("Permission denied")
        );
        assert_eq!(
            refused(&r, b"Action: Originate\r\nChannel: Local/1@x\r\nApplication: System\r\nData: id\r\n\r\n").as_deref(),
            Some("Originate Access Forbidden: app or data blacklisted")
        );
        assert!(
            refused(&r, b"Action: Events\r\nEventMask: off\r\n\r\n")
                .unwrap()
                .contains("shared AMI session")
        );
        assert!(refused(&r, b"Action: Logoff\r\n\r\n").unwrap().contains("shared AMI session"));
        assert!(
            refused(&r, b"Action: Nope\r\n\r\n")
                .unwrap()
                .starts_with("Invalid/unknown command: Nope.")
        );
        assert_eq!(refused(&r, b"Foo: bar\r\n\r\n").as_deref(), Some("Missing action in request"));
        assert!(r.may_snapshot(0, "CoreShowChannels"));
        assert!(!role(Privilege::CALL, Privilege::NONE).may_snapshot(0, "CoreShowChannels"));
    }
}

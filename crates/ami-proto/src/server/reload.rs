//! [`Server::reload`]: a new manager.conf for a running server, without dropping sessions.

use crate::config::ManagerConfig;
use crate::time::Instant;

use super::{DisconnectReason, Server, SessionId};

/// What a [`Server::reload`] did to the sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// Logged-in sessions whose user is gone, or whose address the user's network filter no
    /// longer permits: they are disconnected ([`DisconnectReason::Revoked`]).
    pub revoked: Vec<SessionId>,
    /// Logged-in sessions that go on with their user's new rights.
    pub updated: Vec<SessionId>,
}

impl Server {
    /// Replaces the configuration of a running server (a gateway's SIGHUP):
    ///
    /// * new connections and logins use `config` at once;
    /// * a logged-in session whose user was removed, or whose address the user's `permit`/
    ///   `deny`/`acl` no longer lets in, is disconnected
    ///   ([`ServerEvent::Disconnect`](super::ServerEvent::Disconnect) with
    ///   [`DisconnectReason::Revoked`]; its queued bytes are still sent);
    /// * every other logged-in session takes its user's new `read` and `write` classes and
    ///   event filters from its next request and event on (an action already handed to the
    ///   application is not taken back). Its event mask follows the new `read` classes; if the
    ///   session had narrowed it with `Events:`, it keeps that narrowing within the new
    ///   classes. Filters it added with the `Filter` action are kept.
    ///
    /// Asterisk's own `manager reload` keeps the rights sessions logged in with; a gateway
    /// that enforces a policy must not, which is why this is a separate operation.
    ///
    /// ```
    /// use ami_proto::config::{parse_manager_conf, ConfigOptions, NoIncludes};
    /// use ami_proto::server::{Server, ServerOptions};
    /// use ami_proto::time::Instant;
    ///
    /// let load = |text: &str| parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    /// let before = "[general]\nenabled = yes\n[a]\nsecret = s\nread = all\nwrite = all\n[b]\nsecret = s\nread = all\nwrite = all\n";
    /// let mut server = Server::new(load(before), ServerOptions::default(), Box::new(|| 7u32));
    /// let now = Instant::from_millis(0);
    /// let mut login = |user: &str| {
    ///     let id = server.accept("127.0.0.1:4000".parse().unwrap(), now).unwrap();
    ///     let text = format!("Action: Login\r\nUsername: {user}\r\nSecret: s\r\n\r\n");
    ///     server.handle_input(id, text.as_bytes(), now);
    ///     id
    /// };
    /// let (a, b) = (login("a"), login("b"));
    /// let report = server.reload(load("[general]\nenabled = yes\n[a]\nsecret = s\nread = call\nwrite = call\n"), now);
    /// assert_eq!(report.revoked, [b]);
    /// assert_eq!(report.updated, [a]);
    /// assert_eq!(server.session_info(a).unwrap().write, ami_proto::perm::Privilege::CALL);
    /// ```
    pub fn reload(&mut self, config: ManagerConfig, now: Instant) -> ReloadReport {
        self.tick(now);
        self.config = config;
        let mut report = ReloadReport::default();
        let mut ids: Vec<u64> = self.sessions.keys().copied().collect();
        ids.sort_unstable();
        for sid in ids {
            let Some(s) = self.sessions.get_mut(&sid) else { continue };
            if !s.authenticated || s.closed {
                continue;
            }
            let user = self.config.user(&s.username).filter(|u| u.acl.permits(s.peer.ip()));
            let Some(user) = user else {
                report.revoked.push(SessionId(sid));
                self.close(sid, DisconnectReason::Revoked);
                continue;
            };
            let narrowed = s.send_events != s.read;
            s.send_events =
                if narrowed { s.send_events.intersection(user.read) } else { user.read };
            s.read = user.read;
            s.write = user.write;
            let mut filters = user.filters.clone();
            for f in &s.session_filters {
                filters.add(f.clone());
            }
            s.filters = filters;
            report.updated.push(SessionId(sid));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigOptions, NoIncludes, parse_manager_conf};
    use crate::perm::Privilege;
    use crate::server::{ServerEvent, ServerOptions};

    fn load(text: &str) -> ManagerConfig {
        parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()).unwrap()
    }

    const BEFORE: &str = "[general]\nenabled = yes\n\
        [keep]\nsecret = s\nread = call,system\nwrite = call,reporting\n\
        [narrow]\nsecret = s\nread = call,system\nwrite = all\n\
        [gone]\nsecret = s\nread = all\nwrite = all\n\
        [moved]\nsecret = s\nread = all\nwrite = all\n";

    const AFTER: &str = "[general]\nenabled = yes\n\
        [keep]\nsecret = s\nread = call\nwrite = reporting\neventfilter = !Event: Newstate\n\
        [narrow]\nsecret = s\nread = call,cdr\nwrite = all\n\
        [moved]\nsecret = s\nread = all\nwrite = all\ndeny = 0.0.0.0/0\npermit = 10.0.0.0/8\n";

    fn drain(server: &mut Server, id: SessionId) -> String {
        let text = String::from_utf8_lossy(server.poll_transmit(id)).into_owned();
        let n = server.poll_transmit(id).len();
        server.consume_transmit(id, n);
        text
    }

    #[test]
    fn rights_follow_the_new_file_and_removed_users_go() {
        let mut server = Server::new(load(BEFORE), ServerOptions::default(), Box::new(|| 7u32));
        let now = Instant::from_millis(0);
        let mut ids = Vec::new();
        for (user, events) in
            [("keep", ""), ("narrow", "Events: system\r\n"), ("gone", ""), ("moved", "")]
        {
            let id = server.accept("127.0.0.1:4000".parse().unwrap(), now).unwrap();
            let login = format!("Action: Login\r\nUsername: {user}\r\nSecret: s\r\n{events}\r\n");
            server.handle_input(id, login.as_bytes(), now);
            drain(&mut server, id);
            ids.push(id);
        }
        let unauthenticated = server.accept("127.0.0.1:4001".parse().unwrap(), now).unwrap();
        while server.poll_event().is_some() {}
        let report = server.reload(load(AFTER), now);
        assert_eq!(
            report.revoked,
            [ids[2], ids[3]],
            "gone, and moved (its ACL now refuses 127.0.0.1)"
        );
        assert_eq!(report.updated, [ids[0], ids[1]]);
        let mut disconnected = Vec::new();
        while let Some((sid, ev)) = server.poll_event() {
            if let ServerEvent::Disconnect { reason } = ev {
                assert_eq!(reason, DisconnectReason::Revoked);
                disconnected.push(sid);
            }
        }
        assert_eq!(disconnected, [ids[2], ids[3]]);
        assert!(server.session_info(unauthenticated).is_some(), "not logged in: untouched");
        let keep = server.session_info(ids[0]).unwrap();
        assert_eq!(
            (keep.read, keep.write, keep.send_events),
            (Privilege::CALL, Privilege::REPORTING, Privilege::CALL)
        );
        // `narrow` asked for `system` only; the new read classes no longer hold it.
        let narrow = server.session_info(ids[1]).unwrap();
        assert_eq!(narrow.send_events, Privilege::NONE);
        // New rights apply from the next request: `keep` may no longer Originate...
        server.handle_input(
            ids[0],
            b"Action: Originate\r\nChannel: Local/1@x\r\nExten: 1\r\n\r\n",
            now,
        );
        assert!(drain(&mut server, ids[0]).contains("Permission denied"));
        // ...and its new filter drops Newstate.
        let mut newstate = crate::server::PublishedEvent::new("Newstate", Privilege::CALL).unwrap();
        newstate.header("Channel", "X").unwrap();
        let mut hangup = crate::server::PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
        hangup.header("Channel", "X").unwrap();
        server.publish(&newstate);
        server.publish(&hangup);
        let seen = drain(&mut server, ids[0]);
        assert!(!seen.contains("Event: Newstate") && seen.contains("Event: Hangup"), "{seen}");
    }
}

//! Simulated phones (`PJSIP/100`, ...): they ring, answer after a moment and hang up after
//! a conversation (`PJSIP/busy…` is busy, `PJSIP/noanswer…` never answers), and the random
//! calls of `--calls-per-second`, which come from one phone into the dialplan's
//! `from-internal` context.

use ami_proto::time::Duration;

use super::channel::{ChanId, NewChan, Party, RING, RINGING, Tech, UP};
use super::{Control, Job, Pbx};

/// The technologies whose channels are simulated phones.
pub(super) const PHONE_TECHS: [&str; 4] = ["PJSIP", "SIP", "IAX2", "DAHDI"];

/// How a phone behaves when called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PhoneKind {
    /// Rings, answers, talks, hangs up.
    Answers,
    /// Reports busy.
    Busy,
    /// Rings forever.
    NoAnswer,
    /// Places a call (the caller of a `--calls-per-second` call).
    Caller,
}

/// What a phone does at a scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PhoneAct {
    Ring,
    Answer,
    Busy,
    HangUp,
}

/// The behaviour of a phone from its resource name.
pub(super) fn kind_of(resource: &str) -> PhoneKind {
    let lower = resource.to_ascii_lowercase();
    if lower.starts_with("busy") {
        PhoneKind::Busy
    } else if lower.starts_with("noanswer") {
        PhoneKind::NoAnswer
    } else {
        PhoneKind::Answers
    }
}

impl Pbx {
    /// A phone is called: it rings (and answers, or reports busy, later).
    pub(super) fn phone_call(&mut self, id: ChanId) {
        let Some(Tech::Phone(kind)) = self.chans.get(&id).map(|c| c.tech.clone()) else { return };
        match kind {
            PhoneKind::Busy => {
                let d = self.between(100, 300);
                self.after(Duration::from_millis(d), Job::Phone { chan: id, act: PhoneAct::Busy });
            }
            // The phone's 180 Ringing comes back after the call went out.
            PhoneKind::Answers | PhoneKind::NoAnswer | PhoneKind::Caller => {
                self.soon(Job::Phone { chan: id, act: PhoneAct::Ring });
            }
        }
    }

    /// A phone's scheduled action.
    pub(super) fn phone(&mut self, id: ChanId, act: PhoneAct) {
        let Some(c) = self.chans.get(&id) else { return };
        match act {
            PhoneAct::Ring => {
                if c.state == UP || c.hangup_requested {
                    return;
                }
                let kind = c.tech.clone();
                self.set_state(id, RINGING);
                let dev = self.chans.get(&id).map(super::channel::Chan::device).unwrap_or_default();
                self.device_state(&dev, "RINGING");
                self.indicate(id, Control::Ringing);
                if matches!(kind, Tech::Phone(PhoneKind::Answers)) {
                    let d = self.between(300, 900);
                    self.after(
                        Duration::from_millis(d),
                        Job::Phone { chan: id, act: PhoneAct::Answer },
                    );
                }
            }
            PhoneAct::Answer => {
                if c.state == UP || c.hangup_requested {
                    return;
                }
                self.answer(id);
                let talk = self.between(2000, 5000);
                self.after(
                    Duration::from_millis(talk),
                    Job::Phone { chan: id, act: PhoneAct::HangUp },
                );
            }
            PhoneAct::Busy => {
                if let Some(c) = self.chans.get_mut(&id) {
                    c.cause = 17;
                }
                self.indicate(id, Control::Busy);
            }
            PhoneAct::HangUp => self.request_hangup(id, 16),
        }
    }

    /// One random call: a phone of 100–119 calls another into `from-internal`.
    pub(super) fn auto_call(&mut self) {
        let from = self.between(100, 119);
        let mut to = self.between(100, 119);
        if to == from {
            to = 100 + (to - 99) % 20;
        }
        let names = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"];
        let who = names[(from % names.len() as u64) as usize];
        let name = format!("PJSIP/{from}-{}", self.name_suffix("PJSIP"));
        let id = self.new_chan(NewChan {
            name,
            state: RING,
            caller: Party { num: from.to_string(), name: who.to_owned() },
            context: "from-internal".to_owned(),
            exten: to.to_string(),
            linkedid: None,
            uniqueid: None,
            tech: Tech::Phone(PhoneKind::Caller),
        });
        self.start_dialplan(id);
    }
}

//! What an action brings back: [`Reply`] (collected) and [`Part`] (streamed as it arrives).

use std::borrow::Cow;

use ami_proto::OwnedMessage;
use ami_proto::client::{ActionId, MalformedError};

use super::error::Error;
use super::options::ListLimits;

/// Everything an action brought back, up to its final answer.
///
/// For most actions that is one response. A list action (`CoreShowChannels`, `Status`, ...)
/// has its start response, the [items](Reply::items) and the [completion
/// event](Reply::complete); `Command` has its [output lines](Reply::output); an async
/// `Originate` has the accepting response and the [`OriginateResponse`
/// event](Reply::originate_response).
#[derive(Clone, Debug)]
pub struct Reply {
    pub(crate) action: String,
    pub(crate) action_id: ActionId,
    pub(crate) response: OwnedMessage,
    pub(crate) items: Vec<OwnedMessage>,
    pub(crate) complete: Option<OwnedMessage>,
    pub(crate) output: Option<Vec<Vec<u8>>>,
    pub(crate) originate: Option<OwnedMessage>,
}

impl Reply {
    /// The action's ActionID.
    pub fn action_id(&self) -> &ActionId {
        &self.action_id
    }

    /// The response (for a list: the one that started it; for `Command`: the whole output
    /// message).
    pub fn response(&self) -> &OwnedMessage {
        &self.response
    }

    /// The first response header called `name` (case-insensitive).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        self.response.get(name)
    }

    /// The response's `Message:` text (invalid UTF-8 replaced).
    pub fn message(&self) -> Option<Cow<'_, str>> {
        self.response.get("Message").map(String::from_utf8_lossy)
    }

    /// The list items, in order (empty for other actions).
    pub fn items(&self) -> &[OwnedMessage] {
        &self.items
    }

    /// The list items, owned.
    pub fn into_items(self) -> Vec<OwnedMessage> {
        self.items
    }

    /// The event that completed a list (`EventList: Complete`).
    pub fn complete(&self) -> Option<&OwnedMessage> {
        self.complete.as_ref()
    }

    /// The output lines of a `Command` (either wire form).
    pub fn output(&self) -> Option<&[Vec<u8>]> {
        self.output.as_deref()
    }

    /// The `OriginateResponse` event that ended an async `Originate`.
    pub fn originate_response(&self) -> Option<&OwnedMessage> {
        self.originate.as_ref()
    }

    /// False when the server said `Response: Error` (or `Failure`), or an async `Originate`
    /// ended with `Response: Failure`.
    pub fn is_success(&self) -> bool {
        let response_ok = match self.response.as_message().response() {
            Some(r) => !(r.eq_ignore_ascii_case(b"Error") || r.eq_ignore_ascii_case(b"Failure")),
            None => true,
        };
        let originate_ok = self
            .originate
            .as_ref()
            .and_then(|m| m.get("Response"))
            .is_none_or(|r| !r.eq_ignore_ascii_case(b"Failure"));
        response_ok && originate_ok
    }

    /// The reply if it [succeeded](Reply::is_success), else [`Error::Action`] with the
    /// server's message.
    pub fn check(self) -> Result<Reply, Error> {
        if self.is_success() {
            return Ok(self);
        }
        let failed = self
            .originate
            .as_ref()
            .filter(|m| m.get("Response").is_some_and(|r| r.eq_ignore_ascii_case(b"Failure")));
        let (message, response) = match failed {
            Some(ev) => {
                let reason = ev.get("Reason").map(String::from_utf8_lossy).unwrap_or_default();
                (
                    format!("the call failed (OriginateResponse Failure, Reason {reason})"),
                    ev.clone(),
                )
            }
            None => (
                self.message().map_or_else(|| "Response: Error".to_owned(), Cow::into_owned),
                self.response.clone(),
            ),
        };
        Err(Error::Action { action: self.action, message, response: Box::new(response) })
    }
}

/// One part of an action's answer, as it arrives ([`Client::send`](crate::Client::send)).
/// The last part of every action is [final](Part::is_final).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Part {
    /// A response; `complete` is false only for an async `Originate` the server accepted
    /// (its `OriginateResponse` follows).
    Response {
        /// The response.
        message: OwnedMessage,
        /// Whether it ends the action.
        complete: bool,
    },
    /// The response that starts a list.
    ListStart(OwnedMessage),
    /// One list item.
    ListItem(OwnedMessage),
    /// The event that ends a list.
    ListComplete(OwnedMessage),
    /// A `Command`'s whole answer.
    CommandOutput(OwnedMessage),
    /// The `OriginateResponse` of an async `Originate`.
    OriginateResponse(OwnedMessage),
    /// A malformed final answer (what was kept of it).
    Malformed {
        /// The message as far as it was kept.
        message: OwnedMessage,
        /// What was wrong.
        error: MalformedError,
    },
    /// The action ended without an answer (time limit, connection lost, too large).
    Failed(Error),
}

impl Part {
    /// Whether this part ends the action.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Part::Response { complete: false, .. } | Part::ListStart(_) | Part::ListItem(_)
        )
    }

    /// The message it carries, if any.
    pub fn message(&self) -> Option<&OwnedMessage> {
        match self {
            Part::Response { message, .. }
            | Part::ListStart(message)
            | Part::ListItem(message)
            | Part::ListComplete(message)
            | Part::CommandOutput(message)
            | Part::OriginateResponse(message)
            | Part::Malformed { message, .. } => Some(message),
            Part::Failed(_) => None,
        }
    }
}

/// Counts what an action brought back against [`ListLimits`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    items: usize,
    bytes: usize,
}

impl Budget {
    /// Accounts for `part`; `Err` names the limit it broke.
    pub(crate) fn charge(
        &mut self,
        part: &Part,
        limits: &ListLimits,
        action: &str,
    ) -> Result<(), Error> {
        let Some(m) = part.message() else { return Ok(()) };
        self.bytes = self.bytes.saturating_add(m.raw().len());
        if matches!(part, Part::ListItem(_)) {
            self.items += 1;
        }
        if let Part::CommandOutput(m) = part {
            self.items += m.as_message().command_output().map_or(0, |o| o.lines().count());
        }
        let limit = if self.items > limits.max_items {
            "items"
        } else if self.bytes > limits.max_bytes {
            "bytes"
        } else {
            return Ok(());
        };
        Err(Error::TooLarge {
            action: action.to_owned(),
            items: self.items,
            bytes: self.bytes,
            limit,
        })
    }
}

/// Builds a [`Reply`] from an action's parts.
#[derive(Debug)]
pub(crate) struct Collector {
    action: String,
    action_id: ActionId,
    response: Option<OwnedMessage>,
    items: Vec<OwnedMessage>,
    complete: Option<OwnedMessage>,
    output: Option<Vec<Vec<u8>>>,
    originate: Option<OwnedMessage>,
}

impl Collector {
    pub(crate) fn new(action: String, action_id: ActionId) -> Collector {
        Collector {
            action,
            action_id,
            response: None,
            items: Vec::new(),
            complete: None,
            output: None,
            originate: None,
        }
    }

    /// Takes one part; the final one yields the result.
    pub(crate) fn add(&mut self, part: Part) -> Option<Result<Reply, Error>> {
        match part {
            Part::Response { message, complete } => {
                self.response = Some(message);
                if !complete {
                    return None;
                }
            }
            Part::ListStart(m) => {
                self.response = Some(m);
                return None;
            }
            Part::ListItem(m) => {
                self.items.push(m);
                return None;
            }
            Part::ListComplete(m) => self.complete = Some(m),
            Part::CommandOutput(m) => {
                self.output = m
                    .as_message()
                    .command_output()
                    .map(|o| o.lines().map(<[u8]>::to_vec).collect());
                self.response = Some(m);
            }
            Part::OriginateResponse(m) => self.originate = Some(m),
            Part::Malformed { error, .. } => {
                return Some(Err(Error::Malformed { action: self.action.clone(), error }));
            }
            Part::Failed(e) => return Some(Err(e)),
        }
        // A list completion or OriginateResponse without a response before it cannot happen
        // (the session routes them only after one); use the event as the response then.
        let response =
            self.response.take().or_else(|| self.complete.clone().or(self.originate.clone()))?;
        Some(Ok(Reply {
            action: std::mem::take(&mut self.action),
            action_id: self.action_id.clone(),
            response,
            items: std::mem::take(&mut self.items),
            complete: self.complete.take(),
            output: self.output.take(),
            originate: self.originate.take(),
        }))
    }
}

//! [`CatalogAction`]: what every generated action builder is.

use ami_proto::encode::{Action, EncodeError};
use ami_proto::perm::Privilege;

use crate::spec::{ActionSpec, Denied};

/// An action builder of the catalog (`Originate`, `Hangup`, ...): a documented action whose
/// required parameters were given to its `new`, encoded through [`ami_proto::encode`], which
/// refuses any value that could inject a header.
///
/// ```
/// use ami_catalog::actions::Originate;
/// use ami_catalog::CatalogAction;
/// use ami_proto::perm::Privilege;
///
/// let call = Originate::new("PJSIP/100").application("System").data("id");
/// assert!(call.permitted(Privilege::ORIGINATE).is_err()); // the blacklist wants `system`
/// assert!(call.permitted(Privilege::ORIGINATE | Privilege::SYSTEM).is_ok());
/// assert!(call.to_bytes()?.starts_with(b"Action: Originate\r\nChannel: PJSIP/100\r\n"));
/// # Ok::<(), ami_proto::encode::EncodeError>(())
/// ```
pub trait CatalogAction: Sized {
    /// The action's catalog entry.
    const SPEC: &'static ActionSpec;

    /// The action as built so far.
    fn as_action(&self) -> &Action;

    /// The action, to send with [`ami_proto::ClientSession::send_action`].
    fn into_action(self) -> Action;

    /// The encoded action, or the field that could inject a header.
    fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        self.as_action().to_bytes()
    }

    /// Appends the encoded action to `out` (nothing on error); returns its length.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        self.as_action().encode_into(out)
    }

    /// Whether a session with write permissions `write` may send it, as Asterisk decides:
    /// authority, then the action's own check of its parameters.
    fn permitted(&self, write: Privilege) -> Result<(), Denied> {
        let action = self.as_action();
        Self::SPEC.permits(write, |name| action.get(name))
    }
}

/// `action` with `name` set to `value` (every earlier `name` header replaced).
pub(crate) fn set(mut action: Action, name: &str, value: Vec<u8>) -> Action {
    action.fields.set(name, value);
    action
}

/// The header name of member `index` of a numbered family: `{}` or `{:06}` in `template`
/// replaced by the number.
pub(crate) fn indexed(template: &str, index: u32) -> String {
    if let Some((head, tail)) = template.split_once("{:06}") {
        format!("{head}{index:06}{tail}")
    } else if let Some((head, tail)) = template.split_once("{}") {
        format!("{head}{index}{tail}")
    } else {
        template.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names() {
        assert_eq!(indexed("Action-{:06}", 7), "Action-000007");
        assert_eq!(indexed("UnitAmount({})", 12), "UnitAmount(12)");
        assert_eq!(indexed("Report{}DLSR", 0), "Report0DLSR");
        assert_eq!(indexed("Plain", 3), "Plain");
    }
}

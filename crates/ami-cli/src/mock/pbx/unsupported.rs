//! Actions of the registered modules that the mock does not simulate.

use ami_proto::server::{ActionRef, Server, SessionId};

/// Answers an action the mock does not simulate.
pub(super) fn answer(server: &mut Server, sid: SessionId, action: &ActionRef) {
    let _ = server.error(sid, action, "Invalid/unknown command");
}

//! Login authentication: plain secrets, the MD5 challenge/response, and the security events
//! a login produces.
//!
//! Implements Asterisk's `authenticate()` (spec §3.2, `main/manager.c:2268-2374`) as a pure
//! decision, the Challenge value (§3.3) and the MD5 key (§3.4). The checks run in Asterisk's
//! order and the first failing one wins:
//!
//! 1. empty `Username` → failure, **no** security event;
//! 2. unknown user (the caller looked the name up case-insensitively) → `InvalidAccountID`;
//! 3. ACL denies the peer (the caller evaluated it) → `FailedACL` — before the password;
//! 4. `AuthType` equal to `MD5` ignoring case → success iff `Key` is non-empty, a challenge was
//!    issued on this session, the user has a secret and `Key` equals
//!    `lowercase_hex(MD5(challenge ‖ secret))` byte for byte (so an upper-case key fails);
//!    a wrong key → `ChallengeResponseFailed`, which carries the **expected** key (as
//!    Asterisk's event does); anything missing → failure with no event;
//! 5. otherwise plain: a user with a secret logs in iff `Secret` is byte-identical
//!    (case-sensitive, trailing blanks count; an absent header is the empty string), else
//!    `InvalidPassword`. A user without any `secret=` line can **never** log in and no
//!    security event is emitted (Asterisk leaves `error` set and only logs a NOTICE).
//!
//! Every failure is the same on the wire ("Authentication failed" after 1 s, then close); the
//! [`LoginFailure`] variant only decides the security event (§3.7).
//!
//! All values are handled as C strings (they end at their first NUL byte), like Asterisk does.
//! Secrets and keys are compared in constant time with respect to their content and to the
//! length of the stored secret: the work depends only on the length of what the client sent
//! (see [`authenticate`]).
//!
//! ```
//! use ami_proto::auth::{authenticate, md5_key, Challenge, LoginAttempt, LoginFailure,
//!     SecurityEventKind, UserCredentials};
//!
//! let challenge = Challenge::from_random(840486216);
//! let key = md5_key(challenge.as_bytes(), b"mysecret");
//! assert_eq!(&key, b"0629781fdbf109174e006f32af4b8747");
//!
//! let user = UserCredentials { secret: Some(b"mysecret"), peer_allowed: true };
//! let attempt = LoginAttempt {
//!     username: b"admin",
//!     secret: None,
//!     auth_type: Some(b"md5"),
//!     key: Some(&key),
//!     challenge: Some(challenge.as_bytes()),
//! };
//! assert_eq!(authenticate(&attempt, Some(user)), Ok(()));
//!
//! let wrong = LoginAttempt { auth_type: None, secret: Some(b"nope"), ..attempt };
//! let failure = authenticate(&wrong, Some(user)).unwrap_err();
//! assert_eq!(failure.security_event(), Some(SecurityEventKind::InvalidPassword));
//! ```

use std::error::Error;
use std::fmt;

use md5::{Digest, Md5};
use subtle::{Choice, ConstantTimeEq};

/// `Key` for MD5 authentication (§3.4): lower-case hex of `MD5(challenge ‖ secret)`, 32 ASCII
/// bytes, no `0x`.
pub fn md5_key(challenge: &[u8], secret: &[u8]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Md5::new();
    hasher.update(challenge);
    hasher.update(secret);
    let digest: [u8; 16] = hasher.finalize().into();
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        if let [high, low] = pair {
            *high = HEX[usize::from(byte >> 4)];
            *low = HEX[usize::from(byte & 0x0F)];
        }
    }
    out
}

/// True if an `AuthType` header value selects MD5: C `strcasecmp(value, "MD5") == 0`, so only
/// `MD5` in any case, without blanks (an absent header is the empty string). Used by Login
/// (§3.2 step 4) and by the Challenge action, which otherwise answers "Must specify AuthType"
/// (§3.3).
pub fn is_md5_auth_type(auth_type: Option<&[u8]>) -> bool {
    c_str(auth_type.unwrap_or_default()).eq_ignore_ascii_case(b"MD5")
}

/// A session's MD5 challenge (§3.3): the decimal text of a random non-negative C `long` in
/// `[0, RAND_MAX]` written into Asterisk's 10-byte buffer, hence 1 to 9 digits. Generated
/// once per session and reused by every later Challenge action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Challenge {
    digits: [u8; 9],
    len: usize,
}

impl Challenge {
    /// Builds the challenge from caller-supplied randomness: `r & 0x7FFF_FFFF`
    /// (= `ast_random() % (RAND_MAX + 1)` with glibc's `RAND_MAX` = 2³¹−1) in decimal,
    /// truncated to its first 9 digits like `snprintf` into `char challenge[10]`.
    pub fn from_random(r: u32) -> Challenge {
        let mut value = r & 0x7FFF_FFFF;
        let mut reversed = [0u8; 10];
        let mut count = 0usize;
        for slot in reversed.iter_mut() {
            // `value % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (value % 10) as u8;
            count += 1;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        let mut digits = [0u8; 9];
        let len = count.min(digits.len());
        for (dst, src) in digits.iter_mut().zip(reversed.iter().take(count).rev()) {
            *dst = *src;
        }
        Challenge { digits, len }
    }

    /// The challenge digits as sent in `Challenge:` and hashed into the key.
    pub fn as_bytes(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or(&self.digits)
    }

    /// The challenge digits as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The headers of one Login action plus the session's challenge. Header values are the
/// wire bytes; an absent header is `None` (Asterisk treats it like the empty value).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoginAttempt<'a> {
    /// `Username:` (empty when absent).
    pub username: &'a [u8],
    /// `Secret:`.
    pub secret: Option<&'a [u8]>,
    /// `AuthType:` (`MD5` in any case selects MD5, anything else is plain).
    pub auth_type: Option<&'a [u8]>,
    /// `Key:` (MD5 response).
    pub key: Option<&'a [u8]>,
    /// The challenge issued earlier on this session, if any.
    pub challenge: Option<&'a [u8]>,
}

/// What authentication needs to know about the configured user the username resolved to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UserCredentials<'a> {
    /// The user's `secret=` value; `None` when the section has no `secret` line at all
    /// (such a user can never log in), `Some(b"")` for an empty `secret=`.
    pub secret: Option<&'a [u8]>,
    /// Result of the user's ACL for the peer address (true when the user has no ACL).
    pub peer_allowed: bool,
}

/// Which of an MD5 login's prerequisites was missing (checked in this order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Md5Missing {
    /// No or empty `Key` header.
    Key,
    /// No Challenge action was run on this session.
    Challenge,
    /// The user has no `secret=` line.
    Secret,
}

/// Why a login failed. All reasons give the same wire response; they differ in the security
/// event emitted (§3.7), see [`LoginFailure::security_event`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LoginFailure {
    /// Empty or absent `Username` (no security event).
    MissingUsername,
    /// No such user (`InvalidAccountID`).
    UnknownUser,
    /// The user's ACL denies the peer (`FailedACL`).
    AclDenied,
    /// MD5 requested but impossible: no key, no challenge or no secret (no security event).
    Md5NotPossible {
        /// The first missing prerequisite.
        missing: Md5Missing,
    },
    /// Wrong MD5 key (`ChallengeResponseFailed`). Security note: like Asterisk, the event
    /// reveals the expected key to every session that reads `security` events.
    ChallengeResponseFailed {
        /// The session's challenge (`Challenge` header of the event).
        challenge: Vec<u8>,
        /// The key the client sent (`Response`).
        response: Vec<u8>,
        /// The correct key (`ExpectedResponse`).
        expected: [u8; 32],
    },
    /// Plain secret mismatch (`InvalidPassword`).
    InvalidPassword,
    /// Plain login for a user without any `secret=` line: Asterisk never lets it in and emits
    /// no security event.
    NoSecretConfigured,
}

impl LoginFailure {
    /// The security event Asterisk emits for this failure, if any.
    pub fn security_event(&self) -> Option<SecurityEventKind> {
        match self {
            LoginFailure::UnknownUser => Some(SecurityEventKind::InvalidAccountID),
            LoginFailure::AclDenied => Some(SecurityEventKind::FailedACL),
            LoginFailure::ChallengeResponseFailed { .. } => {
                Some(SecurityEventKind::ChallengeResponseFailed)
            }
            LoginFailure::InvalidPassword => Some(SecurityEventKind::InvalidPassword),
            LoginFailure::MissingUsername
            | LoginFailure::Md5NotPossible { .. }
            | LoginFailure::NoSecretConfigured => None,
        }
    }
}

impl fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginFailure::MissingUsername => f.write_str("missing Username"),
            LoginFailure::UnknownUser => f.write_str("unknown user"),
            LoginFailure::AclDenied => f.write_str("peer address denied by the user's ACL"),
            LoginFailure::Md5NotPossible { missing } => {
                let what = match missing {
                    Md5Missing::Key => "no Key was sent",
                    Md5Missing::Challenge => "no challenge was issued on this session",
                    Md5Missing::Secret => "the user has no secret",
                };
                write!(f, "MD5 authentication is not possible: {what}")
            }
            LoginFailure::ChallengeResponseFailed { .. } => {
                f.write_str("MD5 challenge response does not match")
            }
            LoginFailure::InvalidPassword => f.write_str("wrong secret"),
            LoginFailure::NoSecretConfigured => {
                f.write_str("the user has no secret configured and can never log in")
            }
        }
    }
}

impl Error for LoginFailure {}

/// The security events AMI emits (§3.7), all of category `security`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SecurityEventKind {
    /// Login with an unknown user.
    InvalidAccountID,
    /// The user's ACL denied the peer.
    FailedACL,
    /// Plain secret mismatch.
    InvalidPassword,
    /// MD5 key mismatch.
    ChallengeResponseFailed,
    /// Login succeeded.
    SuccessfulAuth,
    /// "Permission denied" for an action.
    RequestNotAllowed,
    /// Missing or unknown action.
    RequestBadFormat,
    /// `allowmultiplelogin=no` collision.
    SessionLimit,
}

impl SecurityEventKind {
    /// The exact `Event:` name.
    pub const fn name(self) -> &'static str {
        match self {
            SecurityEventKind::InvalidAccountID => "InvalidAccountID",
            SecurityEventKind::FailedACL => "FailedACL",
            SecurityEventKind::InvalidPassword => "InvalidPassword",
            SecurityEventKind::ChallengeResponseFailed => "ChallengeResponseFailed",
            SecurityEventKind::SuccessfulAuth => "SuccessfulAuth",
            SecurityEventKind::RequestNotAllowed => "RequestNotAllowed",
            SecurityEventKind::RequestBadFormat => "RequestBadFormat",
            SecurityEventKind::SessionLimit => "SessionLimit",
        }
    }

    /// The `EventVersion:` value (`include/asterisk/security_events_defs.h`).
    pub const fn version(self) -> u32 {
        match self {
            SecurityEventKind::InvalidPassword => 2,
            _ => 1,
        }
    }

    /// The `Severity:` value: `Informational` for SuccessfulAuth, `Error` otherwise.
    pub const fn severity(self) -> &'static str {
        match self {
            SecurityEventKind::SuccessfulAuth => "Informational",
            _ => "Error",
        }
    }
}

impl fmt::Display for SecurityEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Decide a Login exactly like Asterisk's `authenticate()` (§3.2); `user` is the configured
/// user the (case-insensitive) `Username` resolved to, `None` if there is none.
///
/// Comparisons of `Secret` and `Key` are constant-time: they look at every byte the client
/// sent whatever the content, and never branch on the stored secret's bytes or length. The
/// only thing their duration reveals is the length of the client's own value. (The MD5
/// computation itself takes time proportional to the secret's length, in 64-byte blocks, as
/// in any MD5 implementation; that is unavoidable for MD5 authentication.)
pub fn authenticate(
    attempt: &LoginAttempt<'_>,
    user: Option<UserCredentials<'_>>,
) -> Result<(), LoginFailure> {
    if c_str(attempt.username).is_empty() {
        return Err(LoginFailure::MissingUsername);
    }
    let Some(user) = user else {
        return Err(LoginFailure::UnknownUser);
    };
    if !user.peer_allowed {
        return Err(LoginFailure::AclDenied);
    }
    let user_secret = user.secret.map(c_str);
    if is_md5_auth_type(attempt.auth_type) {
        let key = c_str(attempt.key.unwrap_or_default());
        let challenge = c_str(attempt.challenge.unwrap_or_default());
        let missing = if key.is_empty() {
            Some(Md5Missing::Key)
        } else if challenge.is_empty() {
            Some(Md5Missing::Challenge)
        } else {
            None
        };
        if let Some(missing) = missing {
            return Err(LoginFailure::Md5NotPossible { missing });
        }
        let Some(secret) = user_secret else {
            return Err(LoginFailure::Md5NotPossible { missing: Md5Missing::Secret });
        };
        let expected = md5_key(challenge, secret);
        return if constant_time_eq(key, &expected) {
            Ok(())
        } else {
            Err(LoginFailure::ChallengeResponseFailed {
                challenge: challenge.to_vec(),
                response: key.to_vec(),
                expected,
            })
        };
    }
    match user_secret {
        Some(secret) => {
            let provided = c_str(attempt.secret.unwrap_or_default());
            if constant_time_eq(provided, secret) {
                Ok(())
            } else {
                Err(LoginFailure::InvalidPassword)
            }
        }
        None => Err(LoginFailure::NoSecretConfigured),
    }
}

/// The part of `value` before its first NUL byte (C string semantics).
fn c_str(value: &[u8]) -> &[u8] {
    match value.iter().position(|&b| b == 0) {
        Some(end) => value.get(..end).unwrap_or(value),
        None => value,
    }
}

/// Byte equality whose running time depends only on `provided.len()`.
///
/// Every byte of `provided` is compared with `expected[i % expected.len()]` (0 when
/// `expected` is empty) and the lengths are compared with `ct_eq`; all results are folded
/// into a [`Choice`] without early exit. When the lengths are equal the wrapped index is the
/// plain index, so the result is exact equality.
fn constant_time_eq(provided: &[u8], expected: &[u8]) -> bool {
    let provided_len = provided.len() as u64;
    let expected_len = expected.len() as u64;
    let mut equal: Choice = provided_len.ct_eq(&expected_len);
    let modulus = expected.len().max(1);
    for (i, &byte) in provided.iter().enumerate() {
        let other = expected.get(i % modulus).copied().unwrap_or(0);
        equal &= byte.ct_eq(&other);
    }
    bool::from(equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ADMIN: UserCredentials<'static> =
        UserCredentials { secret: Some(b"s3cret"), peer_allowed: true };

    fn plain(username: &'static [u8], secret: Option<&'static [u8]>) -> LoginAttempt<'static> {
        LoginAttempt { username, secret, auth_type: None, key: None, challenge: None }
    }

    fn md5(key: Option<&'static [u8]>, challenge: Option<&'static [u8]>) -> LoginAttempt<'static> {
        LoginAttempt { username: b"admin", secret: None, auth_type: Some(b"MD5"), key, challenge }
    }

    #[test]
    fn md5_key_matches_spec_vector() {
        assert_eq!(&md5_key(b"840486216", b"mysecret"), b"0629781fdbf109174e006f32af4b8747");
        assert_eq!(&md5_key(b"", b""), b"d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn challenge_from_random_is_nonnegative_and_at_most_nine_digits() {
        assert_eq!(Challenge::from_random(0).as_str(), "0");
        assert_eq!(Challenge::from_random(7).as_bytes(), b"7");
        assert_eq!(Challenge::from_random(840486216).as_str(), "840486216");
        assert_eq!(Challenge::from_random(999_999_999).as_str(), "999999999");
        // 10-digit values are cut to their first 9 digits.
        assert_eq!(Challenge::from_random(1_000_000_000).as_str(), "100000000");
        assert_eq!(Challenge::from_random(0x7FFF_FFFF).as_str(), "214748364");
        // The sign bit is dropped.
        assert_eq!(Challenge::from_random(0x8000_0005).as_str(), "5");
        assert_eq!(Challenge::from_random(u32::MAX).to_string(), "214748364");
    }

    #[test]
    fn auth_type_md5_is_case_insensitive_exact() {
        assert!(is_md5_auth_type(Some(b"md5")));
        assert!(is_md5_auth_type(Some(b"Md5")));
        assert!(!is_md5_auth_type(Some(b"MD5 ")));
        assert!(!is_md5_auth_type(Some(b"plain")));
        assert!(!is_md5_auth_type(None));
    }

    #[test]
    fn check_order_acl_before_password() {
        let denied = UserCredentials { secret: Some(b"s3cret"), peer_allowed: false };
        assert_eq!(
            authenticate(&plain(b"admin", Some(b"s3cret")), Some(denied)),
            Err(LoginFailure::AclDenied)
        );
        assert_eq!(
            authenticate(&plain(b"", Some(b"s3cret")), None),
            Err(LoginFailure::MissingUsername)
        );
    }

    #[test]
    fn case_13_bad_password_and_friends() {
        let cases: [(LoginAttempt<'static>, Option<UserCredentials<'static>>, _); 5] = [
            (
                plain(b"admin", Some(b"wrong")),
                Some(ADMIN),
                Some(SecurityEventKind::InvalidPassword),
            ),
            (plain(b"nobody", Some(b"s3cret")), None, Some(SecurityEventKind::InvalidAccountID)),
            (
                plain(b"admin", Some(b"s3cret")),
                Some(UserCredentials { secret: Some(b"s3cret"), peer_allowed: false }),
                Some(SecurityEventKind::FailedACL),
            ),
            (
                plain(b"admin", Some(b"s3cret ")),
                Some(ADMIN),
                Some(SecurityEventKind::InvalidPassword),
            ),
            (plain(b"", Some(b"s3cret")), Some(ADMIN), None),
        ];
        for (attempt, user, event) in cases {
            let failure = authenticate(&attempt, user).unwrap_err();
            assert_eq!(failure.security_event(), event, "{attempt:?}");
        }
        assert_eq!(authenticate(&plain(b"admin", Some(b"s3cret")), Some(ADMIN)), Ok(()));
    }

    #[test]
    fn case_14_secret_is_case_sensitive() {
        // The username was resolved case-insensitively by the caller (`ADMIN` → admin).
        assert_eq!(authenticate(&plain(b"ADMIN", Some(b"s3cret")), Some(ADMIN)), Ok(()));
        assert_eq!(
            authenticate(&plain(b"ADMIN", Some(b"S3CRET")), Some(ADMIN)),
            Err(LoginFailure::InvalidPassword)
        );
    }

    #[test]
    fn case_17_md5_flow() {
        let user = UserCredentials { secret: Some(b"mysecret"), peer_allowed: true };
        let challenge = Challenge::from_random(840486216);
        assert_eq!(challenge.as_bytes(), b"840486216");
        assert_eq!(
            authenticate(
                &md5(Some(b"0629781fdbf109174e006f32af4b8747"), Some(b"840486216")),
                Some(user)
            ),
            Ok(())
        );
        let upper = authenticate(
            &md5(Some(b"0629781FDBF109174E006F32AF4B8747"), Some(b"840486216")),
            Some(user),
        )
        .unwrap_err();
        assert_eq!(
            upper,
            LoginFailure::ChallengeResponseFailed {
                challenge: b"840486216".to_vec(),
                response: b"0629781FDBF109174E006F32AF4B8747".to_vec(),
                expected: *b"0629781fdbf109174e006f32af4b8747",
            }
        );
        assert_eq!(upper.security_event(), Some(SecurityEventKind::ChallengeResponseFailed));
        let no_challenge =
            authenticate(&md5(Some(b"0629781fdbf109174e006f32af4b8747"), None), Some(user));
        assert_eq!(
            no_challenge,
            Err(LoginFailure::Md5NotPossible { missing: Md5Missing::Challenge })
        );
        assert_eq!(no_challenge.unwrap_err().security_event(), None);
    }

    #[test]
    fn md5_missing_key_or_secret_fails_without_event() {
        let user = UserCredentials { secret: Some(b"mysecret"), peer_allowed: true };
        assert_eq!(
            authenticate(&md5(Some(b""), Some(b"1")), Some(user)),
            Err(LoginFailure::Md5NotPossible { missing: Md5Missing::Key })
        );
        let no_secret = UserCredentials { secret: None, peer_allowed: true };
        let r = authenticate(&md5(Some(b"abc"), Some(b"1")), Some(no_secret));
        assert_eq!(r, Err(LoginFailure::Md5NotPossible { missing: Md5Missing::Secret }));
        // A plain Secret header is ignored under MD5.
        let mut attempt = md5(None, Some(b"1"));
        attempt.secret = Some(b"mysecret");
        assert!(authenticate(&attempt, Some(user)).is_err());
    }

    #[test]
    fn case_42_empty_secret_and_missing_secret() {
        let nopw = UserCredentials { secret: Some(b""), peer_allowed: true };
        assert_eq!(authenticate(&plain(b"nopw", None), Some(nopw)), Ok(()));
        assert_eq!(authenticate(&plain(b"nopw", Some(b"")), Some(nopw)), Ok(()));
        assert_eq!(
            authenticate(&plain(b"nopw", Some(b"x")), Some(nopw)),
            Err(LoginFailure::InvalidPassword)
        );
        let nosecret = UserCredentials { secret: None, peer_allowed: true };
        for s in [None, Some(&b""[..]), Some(&b"anything"[..])] {
            let attempt = LoginAttempt { secret: s, ..plain(b"x", None) };
            let failure = authenticate(&attempt, Some(nosecret)).unwrap_err();
            assert_eq!(failure, LoginFailure::NoSecretConfigured);
            assert_eq!(failure.security_event(), None);
        }
    }

    #[test]
    fn values_are_c_strings() {
        assert_eq!(authenticate(&plain(b"admin", Some(b"s3cret\0junk")), Some(ADMIN)), Ok(()));
        assert_eq!(
            authenticate(&plain(b"\0admin", Some(b"s3cret")), Some(ADMIN)),
            Err(LoginFailure::MissingUsername)
        );
    }

    #[test]
    fn security_event_names_and_versions() {
        let all = [
            (SecurityEventKind::InvalidAccountID, "InvalidAccountID", 1),
            (SecurityEventKind::FailedACL, "FailedACL", 1),
            (SecurityEventKind::InvalidPassword, "InvalidPassword", 2),
            (SecurityEventKind::ChallengeResponseFailed, "ChallengeResponseFailed", 1),
            (SecurityEventKind::SuccessfulAuth, "SuccessfulAuth", 1),
            (SecurityEventKind::RequestNotAllowed, "RequestNotAllowed", 1),
            (SecurityEventKind::RequestBadFormat, "RequestBadFormat", 1),
            (SecurityEventKind::SessionLimit, "SessionLimit", 1),
        ];
        for (kind, name, version) in all {
            assert_eq!(kind.name(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(kind.version(), version);
        }
        assert_eq!(SecurityEventKind::SuccessfulAuth.severity(), "Informational");
        assert_eq!(SecurityEventKind::FailedACL.severity(), "Error");
    }

    #[test]
    fn constant_time_eq_is_exact_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(b"abcabc", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(constant_time_eq(b"abc", b"abc"));
    }

    proptest! {
        #[test]
        fn prop_constant_time_eq_agrees_with_eq(
            a in proptest::collection::vec(0u8..4, 0..8),
            b in proptest::collection::vec(0u8..4, 0..8),
        ) {
            prop_assert_eq!(constant_time_eq(&a, &b), a == b);
        }

        #[test]
        fn prop_authenticate_never_panics(
            username in proptest::collection::vec(any::<u8>(), 0..8),
            secret in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            auth_type in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)),
            key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            challenge in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            user_secret in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            peer_allowed in any::<bool>(),
        ) {
            let attempt = LoginAttempt {
                username: &username,
                secret: secret.as_deref(),
                auth_type: auth_type.as_deref(),
                key: key.as_deref(),
                challenge: challenge.as_deref(),
            };
            let user = UserCredentials { secret: user_secret.as_deref(), peer_allowed };
            let _ = authenticate(&attempt, Some(user));
            let _ = authenticate(&attempt, None);
        }

        #[test]
        fn prop_challenge_digits(r in any::<u32>()) {
            let c = Challenge::from_random(r);
            let full = (r & 0x7FFF_FFFF).to_string();
            prop_assert!(!c.as_bytes().is_empty() && c.as_bytes().len() <= 9);
            prop_assert!(full.starts_with(c.as_str()));
            prop_assert_eq!(c.as_str().len(), full.len().min(9));
        }
    }
}

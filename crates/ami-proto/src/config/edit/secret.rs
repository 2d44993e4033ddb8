//! Generated secrets: random ASCII letters and digits, from randomness the caller supplies
//! (the core reads no entropy; the `ami` tool, the C library and the Python package pass the
//! operating system's CSPRNG).
//!
//! Why this alphabet: Asterisk reads `secret` with the ini rules, so `;` would start a comment
//! unless escaped, blanks at either end are stripped, and a line break ends the line; the
//! Login action's `Secret:` header must not hold CR or LF; MD5 and HTTP digest logins hash the
//! bytes as they are. Letters and digits pass all of these untouched, in shells and URLs too.
//! 62 symbols carry 5.95 bits each: the default 32 characters are 190 bits.

use std::fmt;

/// The characters of a generated secret.
pub const SECRET_ALPHABET: &[u8; 62] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// The length of a generated secret when none is asked for (190 bits).
pub const DEFAULT_SECRET_LENGTH: usize = 32;
/// The shortest secret [`generate_secret`] makes (95 bits).
pub const MIN_SECRET_LENGTH: usize = 16;
/// The longest secret [`generate_secret`] makes.
pub const MAX_SECRET_LENGTH: usize = 256;

/// Bytes below this are used (`byte % 62`); the others are drawn again, so every character is
/// equally likely.
const ACCEPT_BELOW: u8 = 248;
/// Refills of the random buffer before giving up on a source that keeps returning bytes that
/// are all rejected (a broken source; a working one needs one refill in a million).
const MAX_REFILLS: usize = 64;

/// Why [`generate_secret`] failed.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretError<E> {
    /// The length is outside [`MIN_SECRET_LENGTH`]..=[`MAX_SECRET_LENGTH`].
    Length {
        /// The length asked for.
        length: usize,
    },
    /// The random source failed.
    Random(E),
    /// The random source returned only bytes that had to be rejected, again and again: it is
    /// broken.
    BrokenSource,
}

impl<E: fmt::Display> fmt::Display for SecretError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Length { length } => write!(
                f,
                "a generated secret has {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters, \
                 not {length}"
            ),
            SecretError::Random(e) => write!(f, "the random source failed: {e}"),
            SecretError::BrokenSource => {
                f.write_str("the random source returned the same rejected bytes again and again")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for SecretError<E> {}

/// A secret of `length` characters from [`SECRET_ALPHABET`], each drawn uniformly from the
/// bytes `fill` writes (call it with the OS CSPRNG, e.g. `getrandom::fill`).
///
/// ```
/// use ami_proto::config::edit::{generate_secret, SECRET_ALPHABET};
///
/// // A real caller passes the OS CSPRNG; this counter only shows the mapping.
/// let mut next = 0u8;
/// let secret = generate_secret(16, |buf: &mut [u8]| -> Result<(), ()> {
///     for b in buf.iter_mut() {
///         *b = next;
///         next = next.wrapping_add(1);
///     }
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(secret, "ABCDEFGHIJKLMNOP");
/// assert!(secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
/// ```
pub fn generate_secret<E>(
    length: usize,
    mut fill: impl FnMut(&mut [u8]) -> Result<(), E>,
) -> Result<String, SecretError<E>> {
    if !(MIN_SECRET_LENGTH..=MAX_SECRET_LENGTH).contains(&length) {
        return Err(SecretError::Length { length });
    }
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; MAX_SECRET_LENGTH + 32];
    let want = length + 16;
    for _ in 0..MAX_REFILLS {
        let chunk = buf.get_mut(..want).unwrap_or_default();
        fill(chunk).map_err(SecretError::Random)?;
        for &b in chunk.iter() {
            if b < ACCEPT_BELOW
                && let Some(&c) = SECRET_ALPHABET.get(usize::from(b % 62))
            {
                out.push(char::from(c));
                if out.len() == length {
                    chunk.fill(0);
                    return Ok(out);
                }
            }
        }
        chunk.fill(0);
    }
    Err(SecretError::BrokenSource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(start: u8) -> impl FnMut(&mut [u8]) -> Result<(), ()> {
        let mut next = start;
        move |buf| {
            for b in buf.iter_mut() {
                *b = next;
                next = next.wrapping_add(1);
            }
            Ok(())
        }
    }

    #[test]
    fn rejected_bytes_are_skipped_so_every_character_is_equally_likely() {
        // 248..=255 are skipped: after 247 (247 % 62 = 61, `9`) comes 0 (`A`).
        let s = generate_secret(16, counter(240)).unwrap();
        let expected: String = (240u8..248)
            .chain(0..8)
            .map(|b| char::from(SECRET_ALPHABET[usize::from(b % 62)]))
            .collect();
        assert_eq!(s, expected);
        // Over a full cycle of bytes, each character comes exactly four times.
        let mut counts = [0usize; 62];
        let s = generate_secret(248, counter(0)).unwrap();
        for b in s.bytes() {
            counts[SECRET_ALPHABET.iter().position(|&c| c == b).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&n| n == 4));
    }

    #[test]
    fn lengths_and_failures() {
        assert_eq!(generate_secret(15, counter(0)), Err(SecretError::Length { length: 15 }));
        assert_eq!(generate_secret(257, counter(0)), Err(SecretError::Length { length: 257 }));
        assert_eq!(generate_secret(256, counter(0)).unwrap().len(), 256);
        assert_eq!(
            generate_secret(16, |_: &mut [u8]| Err("no entropy")),
            Err(SecretError::Random("no entropy"))
        );
        let all_rejected = |buf: &mut [u8]| -> Result<(), ()> {
            buf.fill(255);
            Ok(())
        };
        assert_eq!(generate_secret(16, all_rejected), Err(SecretError::BrokenSource));
    }
}

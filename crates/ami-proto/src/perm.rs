//! Permission classes, `read=`/`write=` parsing, event masks and the `Privilege:` rendering.
//!
//! This module reproduces Asterisk's permission model (spec §4) bit for bit:
//!
//! * [`Privilege`] is Asterisk's `int` permission mask: one bit per class (§4.1), `all` =
//!   `INT_MAX` = `0x7FFF_FFFF`, `none` = 0. Bit 14 ([`Privilege::HOOKRESPONSE`]) and bits 19–29
//!   have no label.
//! * [`Privilege`]'s `Display` is `authority_to_str` (§2.4, §4.4): the labels of every class that
//!   shares a bit with the mask, in table order ([`CLASSES`]), joined by `,`; since the `all`
//!   entry (`0x7FFF_FFFF`) shares a bit with any non-zero mask, `all` always comes last
//!   (`call,all`); a mask without a labelled bit renders as `all`, 0 renders as `<none>`.
//!   The same text is the `Privilege:` header of events and the `(Priv: …)` of ListCommands.
//! * [`parse_perm`] is `get_perm` (§4.2), used for manager.conf `read=`/`write=`, with all of
//!   its quirks: the value is a `,`-separated list; every element **except the last** matches
//!   every label it is a *prefix* of (`sys` → system, `a` → agent, agi, aoc **and all**), so an
//!   empty element before a comma (`,call`, `call,,log`) grants everything; the last element
//!   must equal a label exactly; a trailing comma is harmless (but turns the element before it
//!   into a prefix); labels are case-sensitive; spaces are not trimmed (`call, log` → call);
//!   unknown labels are ignored. Each quirk is reported as a [`PermDiagnostic`];
//!   [`Strictness::Strict`] turns them into a [`PermError`].
//! * [`parse_event_mask`] is `strings_to_mask` (§4.3) for `Events:` (Login) and `EventMask:`
//!   (Events action): empty → invalid; all digits → C `atoi` (wrapping to 32 bits, negative =
//!   invalid); `ast_false` words → 0; `ast_true` words → `0x7FFF_FFFF`; otherwise `get_perm`.
//!   [`Privilege::session_event_mask`] applies it like `set_eventmask`.
//! * [`may_run`] (§4.4: authority 0 or **any** shared bit) and [`may_receive`] (§4.5: **all**
//!   bits of the event category) are the two authorization decisions.
//!
//! ```
//! use ami_proto::perm::{parse_perm, parse_event_mask, EventMask, Privilege, Strictness};
//!
//! let p = parse_perm("sys,call", Strictness::AsteriskCompatible).unwrap();
//! assert_eq!(p.privilege, Privilege::SYSTEM | Privilege::CALL);
//! assert_eq!(p.privilege.to_string(), "system,call,all");
//! assert_eq!(p.diagnostics.len(), 1); // `sys` was expanded as a prefix
//!
//! // The empty-element quirk: a leading comma grants every permission.
//! let p = parse_perm(",call", Strictness::AsteriskCompatible).unwrap();
//! assert_eq!(p.privilege, Privilege::ALL);
//! assert!(parse_perm(",call", Strictness::Strict).is_err());
//!
//! assert_eq!(parse_event_mask(b"1"), EventMask::Mask(Privilege::SYSTEM));
//! assert_eq!(parse_event_mask(b"4294967295"), EventMask::Invalid);
//! ```

use std::error::Error;
use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign};

/// Asterisk's permission bit mask (spec §4.1), used for read/write permissions, action
/// authorities, event categories and session event masks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Privilege(u32);

impl Privilege {
    /// No permission (`none`, 0).
    pub const NONE: Privilege = Privilege(0);
    /// `system` (bit 0).
    pub const SYSTEM: Privilege = Privilege(1 << 0);
    /// `call` (bit 1).
    pub const CALL: Privilege = Privilege(1 << 1);
    /// `log` (bit 2).
    pub const LOG: Privilege = Privilege(1 << 2);
    /// `verbose` (bit 3).
    pub const VERBOSE: Privilege = Privilege(1 << 3);
    /// `command` (bit 4).
    pub const COMMAND: Privilege = Privilege(1 << 4);
    /// `agent` (bit 5).
    pub const AGENT: Privilege = Privilege(1 << 5);
    /// `user` (bit 6).
    pub const USER: Privilege = Privilege(1 << 6);
    /// `config` (bit 7).
    pub const CONFIG: Privilege = Privilege(1 << 7);
    /// `dtmf` (bit 8).
    pub const DTMF: Privilege = Privilege(1 << 8);
    /// `reporting` (bit 9).
    pub const REPORTING: Privilege = Privilege(1 << 9);
    /// `cdr` (bit 10).
    pub const CDR: Privilege = Privilege(1 << 10);
    /// `dialplan` (bit 11).
    pub const DIALPLAN: Privilege = Privilege(1 << 11);
    /// `originate` (bit 12).
    pub const ORIGINATE: Privilege = Privilege(1 << 12);
    /// `agi` (bit 13).
    pub const AGI: Privilege = Privilege(1 << 13);
    /// `EVENT_FLAG_HOOKRESPONSE` (bit 14): has no label, renders only as `all`.
    pub const HOOKRESPONSE: Privilege = Privilege(1 << 14);
    /// `cc` (bit 15).
    pub const CC: Privilege = Privilege(1 << 15);
    /// `aoc` (bit 16).
    pub const AOC: Privilege = Privilege(1 << 16);
    /// `test` (bit 17).
    pub const TEST: Privilege = Privilege(1 << 17);
    /// `security` (bit 18).
    pub const SECURITY: Privilege = Privilege(1 << 18);
    /// `message` (bit 30).
    pub const MESSAGE: Privilege = Privilege(1 << 30);
    /// `all` = C `INT_MAX` = `0x7FFF_FFFF` (every bit but 31, including unlabelled ones).
    pub const ALL: Privilege = Privilege(0x7FFF_FFFF);

    /// Wraps a raw mask.
    pub const fn from_bits(bits: u32) -> Privilege {
        Privilege(bits)
    }

    /// The raw mask.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every bit of `other` is set in `self` (`(self & other) == other`).
    pub const fn contains(self, other: Privilege) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if `self` and `other` share at least one bit.
    pub const fn intersects(self, other: Privilege) -> bool {
        self.0 & other.0 != 0
    }

    /// True for the empty mask (`none`).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self | other`, usable in `const` context.
    pub const fn union(self, other: Privilege) -> Privilege {
        Privilege(self.0 | other.0)
    }

    /// `self & other`, usable in `const` context.
    pub const fn intersection(self, other: Privilege) -> Privilege {
        Privilege(self.0 & other.0)
    }

    /// The class with exactly this label (case-sensitive, as in manager.conf), including
    /// `all` and `none`.
    pub fn from_label(label: &str) -> Option<Privilege> {
        CLASSES.iter().find(|(l, _)| *l == label).map(|&(_, privilege)| privilege)
    }

    /// The `Privilege:` header value / ListCommands `(Priv: …)` text (§2.4, §4.4); the same as
    /// `to_string()`.
    pub fn render(self) -> String {
        self.to_string()
    }

    /// A manager.conf `read=`/`write=` value that [`parse_perm`] turns back into exactly this
    /// mask: the labels of the set classes joined by `,` (without the trailing `all` of
    /// [`render`](Self::render), which would re-parse as [`ALL`](Self::ALL)), `all` for
    /// [`ALL`](Self::ALL) and `none` for 0.
    ///
    /// `None` if the mask holds bits that no label can express (bit 14, bits 19–29, 31) and
    /// is not exactly [`ALL`](Self::ALL).
    pub fn to_config_list(self) -> Option<String> {
        if self == Privilege::ALL {
            return Some("all".to_owned());
        }
        if self.is_empty() {
            return Some("none".to_owned());
        }
        let mut covered = 0u32;
        let mut out = String::new();
        for &(label, privilege) in LABELLED_CLASSES.iter() {
            if self.contains(privilege) {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(label);
                covered |= privilege.0;
            }
        }
        (covered == self.0).then_some(out)
    }

    /// `set_eventmask` (§4.3 "Effect"): the session's new `send_events` after an `Events:`
    /// (Login) or `EventMask:` (Events action) value parsed into `mask`. A valid mask yields
    /// `read & mask`; an invalid one leaves `current` unchanged.
    pub const fn session_event_mask(
        read: Privilege,
        mask: EventMask,
        current: Privilege,
    ) -> Privilege {
        match mask {
            EventMask::Mask(m) => read.intersection(m),
            EventMask::Invalid => current,
        }
    }
}

impl BitOr for Privilege {
    type Output = Privilege;
    fn bitor(self, rhs: Privilege) -> Privilege {
        self.union(rhs)
    }
}

impl BitOrAssign for Privilege {
    fn bitor_assign(&mut self, rhs: Privilege) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Privilege {
    type Output = Privilege;
    fn bitand(self, rhs: Privilege) -> Privilege {
        self.intersection(rhs)
    }
}

impl BitAndAssign for Privilege {
    fn bitand_assign(&mut self, rhs: Privilege) {
        self.0 &= rhs.0;
    }
}

/// `authority_to_str` (`main/manager.c:766-787`): labels of every class sharing a bit, in
/// table order, `all` included; `<none>` when nothing matched or for `EVENT_FLAG_SHUTDOWN`
/// (-1, i.e. `0xFFFF_FFFF`).
impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if self.0 != u32::MAX {
            for &(label, privilege) in CLASSES.iter() {
                if self.intersects(privilege) {
                    if wrote {
                        f.write_str(",")?;
                    }
                    f.write_str(label)?;
                    wrote = true;
                }
            }
        }
        if !wrote {
            f.write_str("<none>")?;
        }
        Ok(())
    }
}

/// Asterisk's `perms[]` table (`main/manager.c:697-722`) in its order: the order of
/// rendering (§2.4) and of `get_perm`'s scan. Ends with `all` and `none`.
pub const CLASSES: [(&str, Privilege); 21] = [
    ("system", Privilege::SYSTEM),
    ("call", Privilege::CALL),
    ("log", Privilege::LOG),
    ("verbose", Privilege::VERBOSE),
    ("command", Privilege::COMMAND),
    ("agent", Privilege::AGENT),
    ("user", Privilege::USER),
    ("config", Privilege::CONFIG),
    ("dtmf", Privilege::DTMF),
    ("reporting", Privilege::REPORTING),
    ("cdr", Privilege::CDR),
    ("dialplan", Privilege::DIALPLAN),
    ("originate", Privilege::ORIGINATE),
    ("agi", Privilege::AGI),
    ("cc", Privilege::CC),
    ("aoc", Privilege::AOC),
    ("test", Privilege::TEST),
    ("security", Privilege::SECURITY),
    ("message", Privilege::MESSAGE),
    ("all", Privilege::ALL),
    ("none", Privilege::NONE),
];

/// The 19 single-bit classes of [`CLASSES`] (without `all` and `none`, its last two entries).
const LABELLED_CLASSES: &[(&str, Privilege)] = CLASSES.split_at(CLASSES.len() - 2).0;

/// May a session with write permissions `write` run an action registered with `authority`?
/// (§4.4, `main/manager.c:7155-7156`): yes if the authority is 0 or **any single bit** is
/// shared (`write=reporting` may run `Status`, which is system|call|reporting).
pub const fn may_run(write: Privilege, authority: Privilege) -> bool {
    authority.is_empty() || write.intersects(authority)
}

/// Is an event of `category` queued for a session whose event mask is `send_events`?
/// (§4.5, `main/manager.c:7702-7703`): only if **all** bits of the category are enabled
/// (a system|user event needs both classes).
pub const fn may_receive(send_events: Privilege, category: Privilege) -> bool {
    send_events.contains(category)
}

/// How strictly to treat Asterisk's quirks; defined here and reused by every module.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Strictness {
    /// Behave exactly like Asterisk and report quirks as diagnostics.
    #[default]
    AsteriskCompatible,
    /// Reject dangerous or ambiguous input with an error.
    Strict,
}

/// Result of [`parse_perm`]: the mask Asterisk would compute plus what was surprising.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PermParse {
    /// The mask, identical to Asterisk's `get_perm`.
    pub privilege: Privilege,
    /// The quirks that took part in computing it, in element order.
    pub diagnostics: Vec<PermDiagnostic>,
}

/// A quirk of `get_perm` that influenced (or nullified) one element of a `read=`/`write=`
/// value. `index` is the 0-based position of the element in the `,`-separated list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PermDiagnostic {
    /// An empty element before a comma (`,call`, `call,,log`) matches every label including
    /// `all`: the user gets every permission.
    EmptyElementGrantsAll {
        /// Element position.
        index: usize,
    },
    /// A non-last element that is not itself a label was matched as a prefix of `labels`
    /// (`sys` → system, `c` → call, command, config, cdr, cc).
    PrefixExpanded {
        /// Element position.
        index: usize,
        /// The element as written.
        element: String,
        /// The labels it matched, in table order.
        labels: Vec<&'static str>,
    },
    /// A non-last element is a prefix of `all` (`a`, `al`): the user gets every permission.
    AllGrantedViaPrefix {
        /// Element position.
        index: usize,
        /// The element as written.
        element: String,
    },
    /// The element names no class and is ignored.
    UnknownClass {
        /// Element position.
        index: usize,
        /// The element as written.
        element: String,
        /// The label it equals when case is ignored (labels are case-sensitive).
        suggestion: Option<&'static str>,
    },
    /// The element has leading or trailing blanks, which Asterisk does not trim, so it
    /// matches nothing and is ignored (`call, log` grants only call).
    SurroundingSpaces {
        /// Element position.
        index: usize,
        /// The element as written, blanks included.
        element: String,
    },
}

impl fmt::Display for PermDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermDiagnostic::EmptyElementGrantsAll { index } => write!(
                f,
                "element {}: empty element grants all permissions",
                index.saturating_add(1)
            ),
            PermDiagnostic::PrefixExpanded { index, element, labels } => write!(
                f,
                "element {}: `{element}` is not the last element, so it is matched as a prefix \
                 and expands to {}",
                index.saturating_add(1),
                labels.join(",")
            ),
            PermDiagnostic::AllGrantedViaPrefix { index, element } => write!(
                f,
                "element {}: `{element}` is a prefix of `all` and grants all permissions",
                index.saturating_add(1)
            ),
            PermDiagnostic::UnknownClass { index, element, suggestion } => {
                write!(f, "element {}: unknown class `{element}`", index.saturating_add(1))?;
                match suggestion {
                    Some(label) => {
                        write!(f, " (labels are case-sensitive; did you mean `{label}`?)")
                    }
                    None => f.write_str(" is ignored"),
                }
            }
            PermDiagnostic::SurroundingSpaces { index, element } => write!(
                f,
                "element {}: `{element}` is ignored because blanks around a class are not \
                 trimmed (write `{}`)",
                index.saturating_add(1),
                element.trim_matches(is_blank_char)
            ),
        }
    }
}

/// A `read=`/`write=` value refused in [`Strictness::Strict`] mode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PermError {
    /// The value relies on a `get_perm` quirk (the first one found is given).
    Ambiguous(PermDiagnostic),
}

impl fmt::Display for PermError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermError::Ambiguous(diagnostic) => {
                write!(f, "ambiguous permission list (strict mode): {diagnostic}")
            }
        }
    }
}

impl Error for PermError {}

/// Parse a manager.conf `read=`/`write=` value exactly like `get_perm` (§4.2).
///
/// In [`Strictness::AsteriskCompatible`] mode this never fails; every quirk that affected the
/// result is listed in [`PermParse::diagnostics`]. In [`Strictness::Strict`] mode the first
/// such quirk (empty element, prefix expansion, unknown class, surrounding blanks) is an error.
/// Like C, the value ends at the first NUL character, if any.
pub fn parse_perm(value: &str, strictness: Strictness) -> Result<PermParse, PermError> {
    // C string: the value ends at the first NUL.
    let value = value.split('\0').next().unwrap_or_default();
    let mut result = PermParse::default();
    let count = value.split(',').count();
    for (index, element) in value.split(',').enumerate() {
        let last = index.saturating_add(1) == count;
        let mask = element_mask(element.as_bytes(), last);
        result.privilege |= Privilege(mask);
        if let Some(diagnostic) = diagnose(index, element, last) {
            if strictness == Strictness::Strict {
                return Err(PermError::Ambiguous(diagnostic));
            }
            result.diagnostics.push(diagnostic);
        }
    }
    Ok(result)
}

/// What `ast_instring(list, label, ',')` answers for one element: a non-last element matches
/// every label it is a prefix of (`strncmp(element, label, strlen(element))`), the last one
/// must equal the label (`strcmp`).
fn element_matches(element: &[u8], label: &str, last: bool) -> bool {
    if last { label.as_bytes() == element } else { label.as_bytes().starts_with(element) }
}

/// OR of the classes matched by one element.
fn element_mask(element: &[u8], last: bool) -> u32 {
    CLASSES
        .iter()
        .filter(|(label, _)| element_matches(element, label, last))
        .fold(0, |acc, (_, privilege)| acc | privilege.0)
}

/// `get_perm` on raw bytes, without diagnostics.
fn get_perm(value: &[u8]) -> u32 {
    let count = value.split(|&b| b == b',').count();
    value.split(|&b| b == b',').enumerate().fold(0, |acc, (index, element)| {
        acc | element_mask(element, index.saturating_add(1) == count)
    })
}

/// Asterisk's "blank": a byte in 0x01..=0x20.
fn is_blank_char(c: char) -> bool {
    ('\u{1}'..=' ').contains(&c)
}

fn diagnose(index: usize, element: &str, last: bool) -> Option<PermDiagnostic> {
    if element.is_empty() {
        // An empty last element (trailing comma, or an empty value) is harmless.
        return (!last).then_some(PermDiagnostic::EmptyElementGrantsAll { index });
    }
    let matched: Vec<&'static str> = CLASSES
        .iter()
        .filter(|(label, _)| element_matches(element.as_bytes(), label, last))
        .map(|&(label, _)| label)
        .collect();
    if matched.is_empty() {
        if element.starts_with(is_blank_char) || element.ends_with(is_blank_char) {
            return Some(PermDiagnostic::SurroundingSpaces { index, element: element.to_owned() });
        }
        let suggestion = CLASSES
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(element))
            .map(|&(label, _)| label);
        return Some(PermDiagnostic::UnknownClass {
            index,
            element: element.to_owned(),
            suggestion,
        });
    }
    if matched.as_slice() == [element] {
        return None;
    }
    if matched.contains(&"all") {
        return Some(PermDiagnostic::AllGrantedViaPrefix { index, element: element.to_owned() });
    }
    Some(PermDiagnostic::PrefixExpanded { index, element: element.to_owned(), labels: matched })
}

/// A parsed `Events:`/`EventMask:` value (§4.3): `strings_to_mask`'s `int` result.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EventMask {
    /// A negative result (empty value, or a digit string whose `atoi` value is negative):
    /// the Events action answers "Invalid event mask" and the session mask is unchanged.
    Invalid,
    /// A non-negative mask (0 = events off).
    Mask(Privilege),
}

/// Parse an `Events:` (Login) or `EventMask:` (Events action) value like `strings_to_mask`
/// (§4.3), in this order: empty → [`EventMask::Invalid`]; only ASCII digits → C `atoi`
/// (glibc: `strtol` saturating at `LONG_MAX`, then truncated to a 32-bit `int`, so
/// `4294967295` and `2147483648` are negative = invalid, `4294967297` = 1 = system);
/// `ast_false` words (`no`, `false`, `n`, `f`, `off`, case-insensitive) → 0; `ast_true` words
/// (`yes`, `true`, `y`, `t`, `on`) → `0x7FFF_FFFF`; otherwise `get_perm` (§4.2, same quirks).
///
/// The value is read as a C string (it ends at the first NUL byte, if any). Never panics.
pub fn parse_event_mask(value: &[u8]) -> EventMask {
    let value = until_nul(value);
    if value.is_empty() {
        return EventMask::Invalid;
    }
    if value.iter().all(u8::is_ascii_digit) {
        let n = c_atoi_digits(value);
        return if n < 0 {
            EventMask::Invalid
        } else {
            EventMask::Mask(Privilege(n.unsigned_abs()))
        };
    }
    const FALSE_WORDS: [&[u8]; 6] = [b"no", b"false", b"n", b"f", b"0", b"off"];
    const TRUE_WORDS: [&[u8]; 6] = [b"yes", b"true", b"y", b"t", b"1", b"on"];
    if FALSE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        return EventMask::Mask(Privilege::NONE);
    }
    if TRUE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        // OR of every perms[] value = INT_MAX.
        return EventMask::Mask(Privilege::ALL);
    }
    EventMask::Mask(Privilege(get_perm(value)))
}

/// The part of `value` before the first NUL byte (what C sees).
fn until_nul(value: &[u8]) -> &[u8] {
    match value.iter().position(|&b| b == 0) {
        Some(end) => value.get(..end).unwrap_or(value),
        None => value,
    }
}

/// glibc `atoi` on a string of ASCII digits: `(int) strtol(s, NULL, 10)` with a 64-bit
/// `long` that saturates at `LONG_MAX`, then keeps the low 32 bits.
fn c_atoi_digits(digits: &[u8]) -> i32 {
    let mut value: i64 = 0;
    for &d in digits {
        let digit = i64::from(d.wrapping_sub(b'0') % 10);
        value = value.checked_mul(10).and_then(|v| v.checked_add(digit)).unwrap_or(i64::MAX);
    }
    // Truncation to C `int` (two's complement), as the implicit long → int conversion does.
    (value as u64 as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AC: Strictness = Strictness::AsteriskCompatible;

    fn perm(value: &str) -> Privilege {
        parse_perm(value, AC).map(|p| p.privilege).unwrap_or_default()
    }

    /// A literal port of `ast_instring` + `get_perm` (`main/manager.c:794-828`), kept as the
    /// reference model for the property tests.
    fn reference_get_perm(bigstr: &[u8]) -> u32 {
        let bigstr = until_nul(bigstr);
        fn strncmp_eq(a: &[u8], b: &[u8], n: usize) -> bool {
            for i in 0..n {
                let ca = a.get(i).copied().unwrap_or(0);
                let cb = b.get(i).copied().unwrap_or(0);
                if ca != cb {
                    return false;
                }
                if ca == 0 {
                    return true;
                }
            }
            true
        }
        fn instring(big: &[u8], small: &[u8]) -> bool {
            let mut val = 0usize;
            loop {
                let rest = &big[val..];
                match rest.iter().position(|&b| b == b',') {
                    Some(off) => {
                        if strncmp_eq(rest, small, off) {
                            return true;
                        }
                        val += off + 1;
                        if val >= big.len() {
                            return false;
                        }
                    }
                    None => return rest == small,
                }
            }
        }
        CLASSES
            .iter()
            .filter(|(l, _)| instring(bigstr, l.as_bytes()))
            .fold(0, |a, (_, p)| a | p.bits())
    }

    #[test]
    fn constants_have_asterisk_values() {
        assert_eq!(Privilege::SYSTEM.bits(), 0x1);
        assert_eq!(Privilege::AGI.bits(), 0x2000);
        assert_eq!(Privilege::HOOKRESPONSE.bits(), 0x4000);
        assert_eq!(Privilege::CC.bits(), 0x8000);
        assert_eq!(Privilege::SECURITY.bits(), 0x40000);
        assert_eq!(Privilege::MESSAGE.bits(), 0x4000_0000);
        assert_eq!(Privilege::ALL.bits(), 0x7FFF_FFFF);
        for (i, (_, p)) in LABELLED_CLASSES.iter().enumerate() {
            assert_eq!(CLASSES[i].1, *p);
            assert_eq!(p.bits().count_ones(), 1);
        }
    }

    #[test]
    fn render_lists_labels_in_table_order_then_all() {
        assert_eq!(Privilege::CALL.to_string(), "call,all");
        assert_eq!(
            (Privilege::REPORTING | Privilege::SYSTEM | Privilege::CALL).render(),
            "system,call,reporting,all"
        );
        assert_eq!(Privilege::SECURITY.render(), "security,all");
        assert_eq!(Privilege::NONE.render(), "<none>");
        assert_eq!(Privilege::HOOKRESPONSE.render(), "all");
        assert_eq!(Privilege::from_bits(1 << 25).render(), "all");
        assert_eq!(
            Privilege::ALL.render(),
            "system,call,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan,\
             originate,agi,cc,aoc,test,security,message,all"
        );
    }

    #[test]
    fn render_of_bit31_and_shutdown_is_none() {
        // Bit 31 shares nothing with INT_MAX; -1 is EVENT_FLAG_SHUTDOWN.
        assert_eq!(Privilege::from_bits(0x8000_0000).render(), "<none>");
        assert_eq!(Privilege::from_bits(u32::MAX).render(), "<none>");
        assert_eq!(Privilege::from_bits(0x8000_0001).render(), "system,all");
    }

    #[test]
    fn list_commands_priv_texts() {
        assert_eq!(format!("(Priv: {})", Privilege::NONE), "(Priv: <none>)");
        assert_eq!(
            format!("(Priv: {})", Privilege::SYSTEM | Privilege::CALL),
            "(Priv: system,call,all)"
        );
    }

    #[test]
    fn prefix_matching_for_non_last_elements() {
        assert_eq!(
            perm("c,log"),
            Privilege::CALL
                | Privilege::COMMAND
                | Privilege::CONFIG
                | Privilege::CDR
                | Privilege::CC
                | Privilege::LOG
        );
        let p = parse_perm("sys,call", AC).unwrap();
        assert_eq!(
            p.diagnostics,
            vec![PermDiagnostic::PrefixExpanded {
                index: 0,
                element: "sys".into(),
                labels: vec!["system"]
            }]
        );
    }

    #[test]
    fn a_as_non_last_element_matches_agent_agi_aoc_and_all() {
        let p = parse_perm("a,call", AC).unwrap();
        assert_eq!(p.privilege, Privilege::ALL);
        assert_eq!(
            p.diagnostics,
            vec![PermDiagnostic::AllGrantedViaPrefix { index: 0, element: "a".into() }]
        );
        assert_eq!(perm("al,"), Privilege::ALL);
        assert_eq!(perm("ag,"), Privilege::AGENT | Privilege::AGI);
        assert_eq!(perm("a"), Privilege::NONE, "last element must be exact");
    }

    #[test]
    fn empty_non_last_element_grants_all() {
        for v in [",call", "call,,log", ",", "call,,"] {
            let p = parse_perm(v, AC).unwrap();
            assert_eq!(p.privilege, Privilege::ALL, "{v:?}");
            assert!(
                p.diagnostics
                    .iter()
                    .any(|d| matches!(d, PermDiagnostic::EmptyElementGrantsAll { .. }))
            );
        }
        assert_eq!(
            parse_perm("call,,log", AC).unwrap().diagnostics,
            vec![PermDiagnostic::EmptyElementGrantsAll { index: 1 }]
        );
    }

    #[test]
    fn last_element_exact_and_trailing_comma_harmless() {
        assert_eq!(perm("system,cal"), Privilege::SYSTEM);
        let p = parse_perm("call,", AC).unwrap();
        assert_eq!(p.privilege, Privilege::CALL);
        assert!(p.diagnostics.is_empty());
        assert_eq!(perm(""), Privilege::NONE);
        // A trailing comma turns the element before it into a prefix.
        assert_eq!(
            perm("c,"),
            Privilege::CALL
                | Privilege::COMMAND
                | Privilege::CONFIG
                | Privilege::CDR
                | Privilege::CC
        );
    }

    #[test]
    fn spaces_are_not_trimmed() {
        let p = parse_perm("call, log", AC).unwrap();
        assert_eq!(p.privilege, Privilege::CALL);
        assert_eq!(
            p.diagnostics,
            vec![PermDiagnostic::SurroundingSpaces { index: 1, element: " log".into() }]
        );
        assert_eq!(perm("call ,log"), Privilege::LOG);
        assert_eq!(
            p.diagnostics[0].to_string(),
            "element 2: ` log` is ignored because blanks around a class are not trimmed \
             (write `log`)"
        );
    }

    #[test]
    fn labels_are_case_sensitive_and_unknown_ignored() {
        let p = parse_perm("Call", AC).unwrap();
        assert_eq!(p.privilege, Privilege::NONE);
        assert_eq!(
            p.diagnostics[0].to_string(),
            "element 1: unknown class `Call` (labels are case-sensitive; did you mean `call`?)"
        );
        let p = parse_perm("foo,call", AC).unwrap();
        assert_eq!(p.privilege, Privilege::CALL);
        assert_eq!(
            p.diagnostics,
            vec![PermDiagnostic::UnknownClass {
                index: 0,
                element: "foo".into(),
                suggestion: None
            }]
        );
    }

    #[test]
    fn none_is_zero_and_all_is_int_max() {
        let p = parse_perm("none", AC).unwrap();
        assert_eq!(p.privilege, Privilege::NONE);
        assert!(p.diagnostics.is_empty());
        assert_eq!(perm("call,all"), Privilege::ALL);
        assert_eq!(perm("all,call"), Privilege::ALL);
        assert_eq!(perm("none,call"), Privilege::CALL);
    }

    #[test]
    fn strict_mode_rejects_every_quirk() {
        let strict = Strictness::Strict;
        assert_eq!(
            parse_perm(",call", strict),
            Err(PermError::Ambiguous(PermDiagnostic::EmptyElementGrantsAll { index: 0 }))
        );
        for v in ["sys,call", "a,call", "Call", "call, log", "call,bogus"] {
            assert!(parse_perm(v, strict).is_err(), "{v:?}");
        }
        let ok = parse_perm("system,call,", strict).unwrap();
        assert_eq!(ok.privilege, Privilege::SYSTEM | Privilege::CALL);
        assert_eq!(
            parse_perm("", strict).unwrap().privilege,
            Privilege::NONE,
            "empty write= is legitimate"
        );
        let err = parse_perm(",call", strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ambiguous permission list (strict mode): element 1: empty element grants all \
             permissions"
        );
    }

    #[test]
    fn case_23_read_parsing() {
        assert_eq!(perm(",call"), Privilege::ALL);
        assert_eq!(perm("Call"), Privilege::NONE);
        assert_eq!(perm("call, log"), Privilege::CALL);
        assert_eq!(perm("sys,call"), Privilege::SYSTEM | Privilege::CALL);
        // Repeated read= lines: each is parsed on its own and assigned (the config loader
        // keeps the last), so nothing of `system` survives.
        let mut read = perm("system");
        assert_eq!(read, Privilege::SYSTEM);
        read = perm("call");
        assert!(!read.intersects(Privilege::SYSTEM));
        assert_eq!(read, Privilege::CALL);
    }

    #[test]
    fn event_mask_order_and_words() {
        assert_eq!(parse_event_mask(b""), EventMask::Invalid);
        assert_eq!(parse_event_mask(b"0"), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"3"), EventMask::Mask(Privilege::from_bits(3)));
        for w in ["no", "FALSE", "n", "F", "Off"] {
            assert_eq!(parse_event_mask(w.as_bytes()), EventMask::Mask(Privilege::NONE));
        }
        for w in ["yes", "TRUE", "y", "T", "oN"] {
            assert_eq!(parse_event_mask(w.as_bytes()), EventMask::Mask(Privilege::ALL));
        }
        assert_eq!(parse_event_mask(b"call,sys"), EventMask::Mask(Privilege::CALL));
        assert_eq!(parse_event_mask(b",x"), EventMask::Mask(Privilege::ALL));
        assert_eq!(parse_event_mask(b"on "), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"call\xff,x"), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"agent\0junk"), EventMask::Mask(Privilege::AGENT));
        assert_eq!(parse_event_mask(b"\0on"), EventMask::Invalid);
    }

    #[test]
    fn event_mask_atoi_wraps_like_glibc() {
        let m = |s: &str| parse_event_mask(s.as_bytes());
        assert_eq!(m("4294967295"), EventMask::Invalid);
        assert_eq!(m("2147483648"), EventMask::Invalid);
        assert_eq!(m("2147483647"), EventMask::Mask(Privilege::ALL));
        assert_eq!(m("4294967296"), EventMask::Mask(Privilege::NONE));
        assert_eq!(m("4294967297"), EventMask::Mask(Privilege::SYSTEM));
        assert_eq!(m("0000000000000000000000000000002"), EventMask::Mask(Privilege::CALL));
        // strtol saturates at LONG_MAX (0x7FFF_FFFF_FFFF_FFFF): its low 32 bits are -1.
        assert_eq!(m("9223372036854775807"), EventMask::Invalid);
        assert_eq!(m("9223372036854775808"), EventMask::Invalid);
        assert_eq!(m(&"9".repeat(5000)), EventMask::Invalid);
        assert_eq!(m("9223372036854775806"), EventMask::Invalid);
        assert_eq!(
            m("9223372032559808513"),
            EventMask::Mask(Privilege::SYSTEM),
            "0x7FFF_FFFF_0000_0001 fits a long; low bits 1"
        );
    }

    #[test]
    fn case_24_events_action_masks() {
        let on = |m: EventMask| matches!(m, EventMask::Mask(p) if !p.is_empty());
        assert!(on(parse_event_mask(b"on")));
        assert_eq!(parse_event_mask(b"off"), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"foo"), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"Call"), EventMask::Mask(Privilege::NONE));
        assert_eq!(parse_event_mask(b"1"), EventMask::Mask(Privilege::SYSTEM));
        assert_eq!(parse_event_mask(b""), EventMask::Invalid);
        assert_eq!(parse_event_mask(b"4294967295"), EventMask::Invalid);
    }

    #[test]
    fn session_event_mask_is_set_eventmask() {
        let read = Privilege::SYSTEM | Privilege::CALL;
        let cur = Privilege::CALL;
        assert_eq!(Privilege::session_event_mask(read, parse_event_mask(b"on"), cur), read);
        assert_eq!(
            Privilege::session_event_mask(read, parse_event_mask(b"user"), cur),
            Privilege::NONE
        );
        assert_eq!(Privilege::session_event_mask(read, EventMask::Invalid, cur), cur);
        // At Login an invalid mask leaves send_events at its initial 0.
        assert_eq!(
            Privilege::session_event_mask(read, parse_event_mask(b"4294967295"), Privilege::NONE),
            Privilege::NONE
        );
    }

    #[test]
    fn case_15_events_off_or_no_system_suppresses_fully_booted() {
        let gets_fully_booted = |read: Privilege, events: &[u8]| {
            let send = if events.is_empty() {
                read
            } else {
                Privilege::session_event_mask(read, parse_event_mask(events), Privilege::NONE)
            };
            send.contains(Privilege::SYSTEM)
        };
        assert!(gets_fully_booted(Privilege::ALL, b""));
        assert!(!gets_fully_booted(Privilege::ALL, b"off"));
        assert!(!gets_fully_booted(Privilege::ALL, b"call"));
        assert!(!gets_fully_booted(perm("call,user"), b""));
    }

    #[test]
    fn case_25_write_permission_is_any_bit() {
        let status = Privilege::SYSTEM | Privilege::CALL | Privilege::REPORTING;
        let hangup = Privilege::SYSTEM | Privilege::CALL;
        let write = perm("reporting");
        assert!(may_run(write, status));
        assert!(may_run(write, Privilege::SYSTEM | Privilege::REPORTING));
        assert!(!may_run(write, hangup));
        assert!(may_run(perm("call"), hangup));
        assert!(may_run(Privilege::NONE, Privilege::NONE));
        assert!(!may_run(Privilege::NONE, Privilege::CALL));
    }

    #[test]
    fn case_26_read_permission_is_all_bits() {
        let vm_password_change = Privilege::SYSTEM | Privilege::USER;
        assert!(!may_receive(perm("user"), vm_password_change));
        assert!(may_receive(perm("system,user"), vm_password_change));
        assert_eq!(vm_password_change.render(), "system,user,all");
        assert!(may_receive(perm("call"), Privilege::CALL));
    }

    #[test]
    fn to_config_list_round_trips_and_refuses_unlabelled_bits() {
        assert_eq!(Privilege::ALL.to_config_list().as_deref(), Some("all"));
        assert_eq!(Privilege::NONE.to_config_list().as_deref(), Some("none"));
        assert_eq!(
            (Privilege::CALL | Privilege::SYSTEM).to_config_list().as_deref(),
            Some("system,call")
        );
        assert_eq!(Privilege::HOOKRESPONSE.to_config_list(), None);
        assert_eq!(Privilege::from_label("cdr"), Some(Privilege::CDR));
        assert_eq!(Privilege::from_label("Cdr"), None);
    }

    fn labelled_privilege() -> impl Strategy<Value = Privilege> {
        prop_oneof![
            (0u32..(1 << 19)).prop_map(|sel| {
                LABELLED_CLASSES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| sel & (1 << i) != 0)
                    .fold(Privilege::NONE, |acc, (_, (_, p))| acc | *p)
            }),
            Just(Privilege::ALL),
        ]
    }

    proptest! {
        #[test]
        fn prop_parse_perm_matches_get_perm(value in "[a-z ,A-Z]{0,24}|.{0,40}") {
            let p = parse_perm(&value, AC).unwrap();
            prop_assert_eq!(p.privilege.bits(), reference_get_perm(value.as_bytes()));
            let strict = parse_perm(&value, Strictness::Strict);
            if let Ok(s) = strict {
                prop_assert_eq!(s.privilege, p.privilege);
                prop_assert!(p.diagnostics.is_empty());
            }
        }

        #[test]
        fn prop_label_lists_match_get_perm(
            parts in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(CLASSES.iter().map(|c| c.0).collect::<Vec<_>>())
                        .prop_map(|s| s.to_owned()),
                    proptest::sample::select(CLASSES.iter().map(|c| c.0).collect::<Vec<_>>())
                        .prop_flat_map(|s| (Just(s), 0..=s.len()))
                        .prop_map(|(s, n)| s[..n].to_owned()),
                ],
                0..5,
            )
        ) {
            let value = parts.join(",");
            let p = parse_perm(&value, AC).unwrap();
            prop_assert_eq!(p.privilege.bits(), reference_get_perm(value.as_bytes()));
            prop_assert_eq!(get_perm(value.as_bytes()), p.privilege.bits());
        }

        /// Any `read=` string: whatever mask it grants, that mask's rendering re-parses to it.
        #[test]
        fn prop_any_read_string_rendering_reparses(value in "[a-z ,A-Z!]{0,30}|.{0,40}") {
            let p = parse_perm(&value, AC).unwrap().privilege;
            let list = p.to_config_list().expect("parsed masks only hold labelled bits or ALL");
            prop_assert_eq!(parse_perm(&list, AC).unwrap().privilege, p);
        }

        #[test]
        fn prop_config_list_round_trips(p in labelled_privilege()) {
            let list = p.to_config_list().unwrap();
            let parsed = parse_perm(&list, Strictness::Strict).unwrap();
            prop_assert_eq!(parsed.privilege, p);
        }

        #[test]
        fn prop_event_mask_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_event_mask(&bytes);
        }

        #[test]
        fn prop_event_mask_digits(digits in "[0-9]{1,40}") {
            let expected = match digits.parse::<u128>() {
                Ok(v) if v <= i64::MAX as u128 => v as u32 as i32,
                _ => -1,
            };
            let got = parse_event_mask(digits.as_bytes());
            if expected < 0 {
                prop_assert_eq!(got, EventMask::Invalid);
            } else {
                prop_assert_eq!(got, EventMask::Mask(Privilege::from_bits(expected as u32)));
            }
        }
    }
}

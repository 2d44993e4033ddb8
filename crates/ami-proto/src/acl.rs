//! Network ACLs of manager users: `permit=`, `deny=` and `acl=` (spec §6).
//!
//! Asterisk checks the TCP peer address of a Login against the user's ACL
//! after the user lookup and before the secret (§3.2). This module parses the
//! manager.conf lines and evaluates them exactly as Asterisk does:
//!
//! * Keys are appended in file order. The sense comes from the key's first
//!   letter, case-insensitively: `a…` names ACLs from acl.conf, `p…` permits,
//!   anything else denies.
//! * A `permit`/`deny` value is a comma-separated list of entries
//!   `[!]<address>[/<mask>]`. Entries are **not** trimmed, so the second entry
//!   of `10.0.0.1, 10.0.0.2` is ` 10.0.0.2`, which the numeric address parser
//!   rejects: the whole user is then deleted. `!` inverts the entry's sense.
//! * Addresses are numeric only, parsed like glibc's `getaddrinfo` with
//!   `AI_NUMERICHOST`: IPv4 in `inet_aton` forms (`127.1`, `0x7f.0.0.1` and the
//!   octal `010.0.0.1` = 8.0.0.1 are accepted), IPv6 optionally in brackets and
//!   with a `%scope` (ignored for matching). A port is an error. An
//!   IPv4-mapped IPv6 address becomes an IPv4 rule.
//! * No mask means one host; a number is a prefix length (read like C's
//!   `sscanf("%30d")`, so `/8abc` is /8); a mask containing `.` or `:` is a
//!   netmask of the same family, which may be non-contiguous. The address is
//!   ANDed with the mask when loaded (`10.1.2.3/8` is `10.0.0.0/8`).
//! * `acl=` takes comma-separated names (leading blanks trimmed); each named
//!   ACL is a separate list. An undefined name yields a list that denies
//!   every address. Naming the same ACL twice (case-insensitively) is an error.
//! * Evaluation: no list allows; an address must pass every list. Within a
//!   list the result starts as allow and every matching entry sets it to the
//!   entry's sense, so the last match wins. IPv4 entries apply to IPv4 peers
//!   and IPv4-mapped IPv6 peers, IPv6 entries only to native IPv6 peers, so
//!   `deny=0.0.0.0/0` does not block `::1` (§9 case 35).
//!
//! Any [`AclError`] makes Asterisk delete the user (§6); surprising but
//! accepted input is reported as an [`AclDiagnostic`].
//!
//! ```
//! # use ami_proto::acl::{AclList, NamedAcls};
//! use std::net::IpAddr;
//! let named = NamedAcls::default();
//! let mut acl = AclList::default();
//! acl.add_line("deny", "0.0.0.0/0.0.0.0", &named).unwrap();
//! acl.add_line("permit", "127.0.0.1/255.255.255.255", &named).unwrap();
//! assert!(acl.permits("127.0.0.1".parse::<IpAddr>().unwrap()));
//! assert!(!acl.permits("10.0.0.1".parse::<IpAddr>().unwrap()));
//! assert!(acl.permits("::1".parse::<IpAddr>().unwrap())); // IPv4 rules ignore IPv6
//! assert_eq!(acl.to_string(), "deny 0.0.0.0/0, permit 127.0.0.1/32");
//! assert!(acl.add_line("permit", "127.0.0.1:5038", &named).is_err());
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Asterisk keeps ACL names in 80-byte buffers: only the first 79 bytes count.
const ACL_NAME_MAX: usize = 79;

/// Linux interface names are shorter than `IFNAMSIZ` (16).
const IFNAME_MAX: usize = 15;

/// Whether a matching rule lets the address in or keeps it out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Sense {
    /// The address is allowed.
    Permit,
    /// The address is denied.
    Deny,
}

impl Sense {
    /// The sense of a `permit`/`deny` key as Asterisk reads it: `p…` (any
    /// case) permits, anything else denies.
    pub fn from_key(key: &str) -> Sense {
        if key.as_bytes().first().is_some_and(|b| b.eq_ignore_ascii_case(&b'p')) {
            Sense::Permit
        } else {
            Sense::Deny
        }
    }

    fn inverted(self) -> Sense {
        match self {
            Sense::Permit => Sense::Deny,
            Sense::Deny => Sense::Permit,
        }
    }
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sense::Permit => "permit",
            Sense::Deny => "deny",
        })
    }
}

/// A network as stored: the address is already ANDed with the mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Net {
    V4 { addr: u32, mask: u32 },
    V6 { addr: u128, mask: u128 },
}

impl Net {
    fn host(ip: IpAddr) -> Net {
        match ip {
            IpAddr::V4(a) => Net::V4 { addr: a.to_bits(), mask: u32::MAX },
            IpAddr::V6(a) => Net::V6 { addr: a.to_bits(), mask: u128::MAX },
        }
    }

    fn matches(self, peer: Peer) -> bool {
        match (self, peer) {
            (Net::V4 { addr, mask }, Peer::V4(p)) => p & mask == addr,
            (Net::V6 { addr, mask }, Peer::V6(p)) => p & mask == addr,
            _ => false,
        }
    }

    /// Every address matched by `other` is matched by `self`.
    fn covers(self, other: Net) -> bool {
        match (self, other) {
            (Net::V4 { addr, mask }, Net::V4 { addr: a, mask: m }) => {
                mask & !m == 0 && a & mask == addr
            }
            (Net::V6 { addr, mask }, Net::V6 { addr: a, mask: m }) => {
                mask & !m == 0 && a & mask == addr
            }
            _ => false,
        }
    }
}

/// A peer address as the rules see it: IPv4-mapped IPv6 counts as IPv4.
#[derive(Clone, Copy)]
enum Peer {
    V4(u32),
    V6(u128),
}

impl Peer {
    fn of(ip: IpAddr) -> Peer {
        match ip {
            IpAddr::V4(a) => Peer::V4(a.to_bits()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Peer::V4(v4.to_bits()),
                None => Peer::V6(a.to_bits()),
            },
        }
    }
}

/// One entry of a permit/deny list: a sense and a network.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rule {
    sense: Sense,
    net: Net,
}

impl Rule {
    /// What a matching address gets.
    pub fn sense(&self) -> Sense {
        self.sense
    }

    /// The network address (already ANDed with the netmask).
    pub fn address(&self) -> IpAddr {
        match self.net {
            Net::V4 { addr, .. } => IpAddr::V4(Ipv4Addr::from_bits(addr)),
            Net::V6 { addr, .. } => IpAddr::V6(Ipv6Addr::from_bits(addr)),
        }
    }

    /// The netmask, in the address's family.
    pub fn netmask(&self) -> IpAddr {
        match self.net {
            Net::V4 { mask, .. } => IpAddr::V4(Ipv4Addr::from_bits(mask)),
            Net::V6 { mask, .. } => IpAddr::V6(Ipv6Addr::from_bits(mask)),
        }
    }

    /// The prefix length, or `None` for a non-contiguous netmask.
    pub fn prefix_len(&self) -> Option<u8> {
        match self.net {
            Net::V4 { mask, .. } => prefix_of(mask.leading_ones(), mask.trailing_zeros(), 32),
            Net::V6 { mask, .. } => prefix_of(mask.leading_ones(), mask.trailing_zeros(), 128),
        }
    }

    /// Whether this rule applies to `peer` and matches it. IPv4 rules apply to
    /// IPv4 and IPv4-mapped IPv6 peers; IPv6 rules only to native IPv6 peers.
    pub fn matches(&self, peer: IpAddr) -> bool {
        self.net.matches(Peer::of(peer))
    }

    fn network(&self) -> NetworkText<'_> {
        NetworkText(self)
    }

    fn is_v6(&self) -> bool {
        matches!(self.net, Net::V6 { .. })
    }

    /// A deny entry that matches every IPv4 address.
    fn denies_all_ipv4(&self) -> bool {
        self.sense == Sense::Deny && matches!(self.net, Net::V4 { mask: 0, .. })
    }
}

fn prefix_of(ones: u32, zeros: u32, bits: u32) -> Option<u8> {
    if ones + zeros == bits { u8::try_from(ones).ok() } else { None }
}

impl fmt::Display for Rule {
    /// `permit 10.0.0.0/8`; a non-contiguous mask is written out in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.sense, self.network())
    }
}

/// `10.0.0.0/8`, or `10.0.0.5/255.0.0.255` for a non-contiguous mask.
struct NetworkText<'a>(&'a Rule);

impl fmt::Display for NetworkText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.prefix_len() {
            Some(p) => write!(f, "{}/{}", self.0.address(), p),
            None => write!(f, "{}/{}", self.0.address(), self.0.netmask()),
        }
    }
}

/// One ACL: the permit/deny list of a user, or a named ACL from acl.conf.
///
/// An empty `Acl` permits every address.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Acl {
    rules: Vec<Rule>,
    undefined: bool,
    notes: Vec<AclDiagnostic>,
}

impl Acl {
    /// An empty ACL (permits everyone).
    pub fn new() -> Acl {
        Acl::default()
    }

    /// The list that stands for an `acl=` name not defined in acl.conf.
    fn undefined() -> Acl {
        Acl { undefined: true, ..Acl::default() }
    }

    /// Append the entries of one `permit=`/`deny=` line, with the sense taken
    /// from the first letter of `key` (`p…` permits, anything else denies),
    /// as Asterisk's `ast_append_ha` does. On error nothing is appended.
    pub fn add_rule(&mut self, key: &str, value: &str) -> Result<(), AclError> {
        let (rules, notes) = parse_rules(Sense::from_key(key), value)?;
        self.rules.extend(rules);
        self.notes.extend(notes);
        Ok(())
    }

    /// Evaluate the list: start with allow; every applicable matching rule sets
    /// the result to its sense (last match wins). Does not allocate.
    pub fn permits(&self, peer: IpAddr) -> bool {
        if self.undefined {
            return false;
        }
        let peer = Peer::of(peer);
        let mut allowed = true;
        for rule in &self.rules {
            if rule.net.matches(peer) {
                allowed = rule.sense == Sense::Permit;
            }
        }
        allowed
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether this stands for an undefined named ACL (which denies everyone).
    pub fn is_undefined(&self) -> bool {
        self.undefined
    }

    /// Everything worth telling an admin about this ACL: the notes on its
    /// entries (host bits masked away, odd masks, ...) and whole-list findings
    /// (permits every address, IPv4 lockdown that leaves IPv6 open).
    pub fn diagnostics(&self) -> Vec<AclDiagnostic> {
        let mut out = self.notes.clone();
        list_findings(std::iter::once(self), &self.to_string(), &mut out);
        out
    }

    /// No address is denied. Exact for the usual shapes (no deny entry, or
    /// every deny entry followed by one permit entry covering it); a deny
    /// entry covered only by several permit entries together is not seen.
    fn permits_everything(&self) -> bool {
        !self.undefined
            && self.rules.iter().enumerate().all(|(i, deny)| {
                deny.sense == Sense::Permit
                    || self
                        .rules
                        .iter()
                        .skip(i + 1)
                        .any(|p| p.sense == Sense::Permit && p.net.covers(deny.net))
            })
    }
}

impl fmt::Display for Acl {
    /// `deny 0.0.0.0/0, permit 10.0.0.0/8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.undefined {
            return f.write_str("undefined (denies everyone)");
        }
        if self.rules.is_empty() {
            return f.write_str("no rules (permits everyone)");
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

/// One list in an [`AclList`]; an empty name is the base permit/deny list.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Entry {
    name: String,
    acl: Acl,
}

/// All ACLs of one user: the base permit/deny list first, then every named
/// ACL as a separate list, in order. An address must pass every list.
/// `Default` is empty, which allows everyone.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AclList {
    lists: Vec<Entry>,
}

impl AclList {
    /// Append one manager.conf line. `key` is `permit`, `deny` or `acl` as
    /// written (sense by first letter: `a…` named ACLs, `p…` permit, anything
    /// else deny); `value` is the raw value. Named ACLs are copied from
    /// `named` now, as Asterisk does. Returns the notes on the new entries;
    /// call [`AclList::diagnostics`] once the user's section is complete for
    /// the whole-list findings. On error the list is unchanged (and Asterisk
    /// deletes the user).
    pub fn add_line(
        &mut self,
        key: &str,
        value: &str,
        named: &NamedAcls,
    ) -> Result<Vec<AclDiagnostic>, AclError> {
        if key.as_bytes().first().is_some_and(|b| b.eq_ignore_ascii_case(&b'a')) {
            return self.add_named(value, named);
        }
        let (rules, notes) = parse_rules(Sense::from_key(key), value)?;
        // The base list is the first list if its name is empty; otherwise a new
        // one goes in front of the named ACLs.
        if !self.lists.first().is_some_and(|e| e.name.is_empty()) {
            self.lists.insert(0, Entry { name: String::new(), acl: Acl::new() });
        }
        if let Some(base) = self.lists.first_mut() {
            base.acl.rules.extend(rules);
            base.acl.notes.extend(notes.iter().cloned());
        }
        Ok(notes)
    }

    fn add_named(
        &mut self,
        value: &str,
        named: &NamedAcls,
    ) -> Result<Vec<AclDiagnostic>, AclError> {
        let mut added: Vec<Entry> = Vec::new();
        let mut notes = Vec::new();
        let mut offset = 0;
        for token in value.split(',') {
            let token_offset = offset;
            offset += token.len() + 1;
            let name = token.trim_start_matches(|c: char| u32::from(c) < 33);
            // Asterisk compares the stored (truncated) names with the full new
            // name, ignoring case.
            let duplicate = self
                .lists
                .iter()
                .chain(added.iter())
                .any(|e| name_key(&e.name).eq_ignore_ascii_case(name.as_bytes()));
            if duplicate {
                return Err(AclError {
                    entry: token.to_owned(),
                    offset: token_offset,
                    kind: AclErrorKind::DuplicateNamedAcl { name: name.to_owned() },
                });
            }
            let acl = match named.get(name) {
                Some(acl) => {
                    if acl.rules.is_empty() {
                        notes.push(AclDiagnostic::EmptyNamedAcl { name: name.to_owned() });
                    }
                    acl.clone()
                }
                None => {
                    notes.push(AclDiagnostic::UndefinedNamedAcl { name: name.to_owned() });
                    Acl::undefined()
                }
            };
            added.push(Entry { name: name.to_owned(), acl });
        }
        self.lists.extend(added);
        Ok(notes)
    }

    /// Whether `peer` passes every list. No list allows everyone. Does not
    /// allocate.
    pub fn permits(&self, peer: IpAddr) -> bool {
        self.lists.iter().all(|e| e.acl.permits(peer))
    }

    /// Whether no ACL line was added.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// The lists in evaluation order as `(name, acl)`; the base permit/deny
    /// list has the empty name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Acl)> {
        self.lists.iter().map(|e| (e.name.as_str(), &e.acl))
    }

    /// Findings about all lists together, to report once after the user's last
    /// ACL line: every address permitted despite the rules, or IPv4 entries
    /// that deny all of IPv4 while no list has an IPv6 rule.
    pub fn diagnostics(&self) -> Vec<AclDiagnostic> {
        let mut out = Vec::new();
        if !self.lists.is_empty() {
            let acls = self.lists.iter().map(|e| &e.acl);
            list_findings(acls, &self.to_string(), &mut out);
        }
        out
    }
}

/// Whole-list findings over lists that must all allow an address.
fn list_findings<'a>(
    acls: impl Iterator<Item = &'a Acl> + Clone,
    description: &str,
    out: &mut Vec<AclDiagnostic>,
) {
    if acls.clone().all(Acl::permits_everything) {
        out.push(AclDiagnostic::PermitsEverything { acl: description.to_owned() });
        return;
    }
    let any_undefined = acls.clone().any(Acl::is_undefined);
    let any_v6 = acls.clone().flat_map(|a| a.rules.iter()).any(Rule::is_v6);
    let lockdown = acls.flat_map(|a| a.rules.iter()).find(|r| r.denies_all_ipv4());
    if let (false, false, Some(rule)) = (any_undefined, any_v6, lockdown) {
        out.push(AclDiagnostic::Ipv6NotRestricted { rule: rule.to_string() });
    }
}

impl fmt::Display for AclList {
    /// `deny 0.0.0.0/0, permit 10.0.0.0/8; acl office: permit 192.0.2.0/24`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lists.is_empty() {
            return f.write_str("none (every address allowed)");
        }
        for (i, e) in self.lists.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if e.name.is_empty() {
                write!(f, "{}", e.acl)?;
            } else {
                write!(f, "acl {}: {}", e.name, e.acl)?;
            }
        }
        Ok(())
    }
}

/// Named ACLs from acl.conf: name → [`Acl`]. Names are case-sensitive and
/// only their first 79 bytes count, as in Asterisk. `Default` defines none.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct NamedAcls {
    acls: Vec<(String, Acl)>,
}

impl NamedAcls {
    /// Define (or replace) the named ACL `name`.
    pub fn insert(&mut self, name: &str, acl: Acl) {
        match self.acls.iter_mut().find(|(n, _)| name_key(n) == name_key(name)) {
            Some(slot) => slot.1 = acl,
            None => self.acls.push((name.to_owned(), acl)),
        }
    }

    /// The named ACL `name`, if defined.
    pub fn get(&self, name: &str) -> Option<&Acl> {
        self.acls.iter().find(|(n, _)| name_key(n) == name_key(name)).map(|(_, acl)| acl)
    }

    /// The defined ACLs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Acl)> {
        self.acls.iter().map(|(n, a)| (n.as_str(), a))
    }
}

/// The part of an ACL name that Asterisk keeps.
fn name_key(name: &str) -> &[u8] {
    let bytes = name.as_bytes();
    bytes.get(..ACL_NAME_MAX).unwrap_or(bytes)
}

/// A `permit`/`deny` entry (or `acl=` name) Asterisk refuses; the user is then
/// deleted (§6).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AclError {
    /// The offending entry exactly as written (not trimmed).
    pub entry: String,
    /// Byte offset of the entry in the value.
    pub offset: usize,
    /// What is wrong with it.
    pub kind: AclErrorKind,
}

/// Why an ACL entry was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AclErrorKind {
    /// The address is not a numeric IPv4/IPv6 address.
    InvalidAddress {
        /// The address text.
        address: String,
    },
    /// The address carries a port (`127.0.0.1:5038`, `[::1]:5038`).
    PortNotAllowed {
        /// The address text.
        address: String,
    },
    /// A netmask containing `.` or `:` is not a numeric address.
    InvalidNetmask {
        /// The mask text.
        mask: String,
    },
    /// A prefix length is not a number or is out of range for the family.
    InvalidCidrMask {
        /// The mask text.
        mask: String,
        /// The largest prefix length of the family (32 or 128).
        max: u8,
    },
    /// Address and netmask are of different families.
    MaskFamilyMismatch {
        /// The address text.
        address: String,
        /// The mask text.
        mask: String,
    },
    /// The same named ACL appears twice for the user (names compared
    /// case-insensitively, the empty name matching the base permit/deny list).
    DuplicateNamedAcl {
        /// The repeated name.
        name: String,
    },
}

impl fmt::Display for AclErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclErrorKind::InvalidAddress { address } => {
                write!(f, "`{address}` is not a numeric IPv4 or IPv6 address")
            }
            AclErrorKind::PortNotAllowed { address } => {
                write!(f, "`{address}` contains a port, which ACL entries do not allow")
            }
            AclErrorKind::InvalidNetmask { mask } => {
                write!(f, "`{mask}` is not a valid netmask")
            }
            AclErrorKind::InvalidCidrMask { mask, max } => {
                write!(f, "`/{mask}` is not a prefix length from 0 to {max}")
            }
            AclErrorKind::MaskFamilyMismatch { address, mask } => write!(
                f,
                "address `{address}` and netmask `{mask}` are of different address families"
            ),
            AclErrorKind::DuplicateNamedAcl { name } => write!(
                f,
                "named ACL `{name}` is used more than once for this user (names compare \
                 case-insensitively)"
            ),
        }
    }
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid ACL entry `{}` at byte {}: {}", self.entry, self.offset, self.kind)?;
        let blank = |c: Option<char>| c.is_some_and(char::is_whitespace);
        if blank(self.entry.chars().next()) || blank(self.entry.chars().next_back()) {
            f.write_str(" (entries are not trimmed: remove the blanks around the commas)")?;
        }
        Ok(())
    }
}

impl std::error::Error for AclError {}

/// A non-fatal finding about an ACL: Asterisk accepts it, but an admin should
/// know.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AclDiagnostic {
    /// The address has bits outside the mask; Asterisk silently clears them.
    HostBitsMasked {
        /// The entry as written.
        entry: String,
        /// The network actually used, e.g. `10.0.0.0/8`.
        network: String,
    },
    /// The netmask is not a prefix: the entry matches a scattered set.
    NonContiguousMask {
        /// The entry as written.
        entry: String,
        /// The mask as read.
        mask: IpAddr,
    },
    /// The prefix length was not written as a plain number and was read the way
    /// C's `sscanf("%30d")` reads it (`8abc` → 8, ` 8` → 8, `4294967304` → 8,
    /// `-99999999999999999999` → 0).
    MaskReadAs {
        /// The entry as written.
        entry: String,
        /// The prefix length used.
        prefix: u8,
    },
    /// An IPv4 address in a non-dotted-quad `inet_aton` form (`127.1`,
    /// `0x7f.1`, and octal: `010.0.0.1` is 8.0.0.1).
    ShorthandIpv4 {
        /// The entry as written.
        entry: String,
        /// The address as read.
        address: Ipv4Addr,
    },
    /// An IPv4-mapped IPv6 address or netmask became an IPv4 rule.
    Ipv4MappedConverted {
        /// The entry as written.
        entry: String,
    },
    /// An IPv6 `%scope` is ignored when matching. An interface name depends on
    /// the Asterisk host: there the entry is refused (user deleted) unless the
    /// interface exists.
    ScopeIdIgnored {
        /// The entry as written.
        entry: String,
        /// The scope text after `%`.
        scope: String,
        /// The scope is an interface name rather than a number.
        interface: bool,
    },
    /// An `acl=` name not defined in acl.conf: that list denies everyone.
    UndefinedNamedAcl {
        /// The name as looked up (leading blanks removed, trailing kept).
        name: String,
    },
    /// A named ACL without rules: it accepts every address.
    EmptyNamedAcl {
        /// The name.
        name: String,
    },
    /// The rules permit every address (e.g. only `permit` entries: the default
    /// is already allow).
    PermitsEverything {
        /// The ACL, rendered.
        acl: String,
    },
    /// An entry denies all of IPv4 but no IPv6 rule exists, so IPv6 clients are
    /// not restricted at all.
    Ipv6NotRestricted {
        /// The IPv4 deny-all rule, rendered.
        rule: String,
    },
}

impl fmt::Display for AclDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclDiagnostic::HostBitsMasked { entry, network } => {
                write!(f, "ACL entry `{entry}` has host bits set; it is treated as {network}")
            }
            AclDiagnostic::NonContiguousMask { entry, mask } => write!(
                f,
                "ACL entry `{entry}` uses the non-contiguous netmask {mask}; it matches a \
                 scattered set of addresses"
            ),
            AclDiagnostic::MaskReadAs { entry, prefix } => write!(
                f,
                "ACL entry `{entry}`: the prefix length is not a plain number and is read as /{prefix}"
            ),
            AclDiagnostic::ShorthandIpv4 { entry, address } => write!(
                f,
                "ACL entry `{entry}` uses a shorthand/octal/hex IPv4 form, read as {address}"
            ),
            AclDiagnostic::Ipv4MappedConverted { entry } => write!(
                f,
                "ACL entry `{entry}` uses an IPv4-mapped IPv6 address; it is converted to an \
                 IPv4 rule"
            ),
            AclDiagnostic::ScopeIdIgnored { entry, scope, interface: false } => {
                write!(f, "ACL entry `{entry}`: the scope %{scope} is ignored when matching")
            }
            AclDiagnostic::ScopeIdIgnored { entry, scope, interface: true } => write!(
                f,
                "ACL entry `{entry}`: the scope %{scope} is ignored when matching, and Asterisk \
                 refuses the entry (deleting the user) unless interface {scope} exists on its host"
            ),
            AclDiagnostic::UndefinedNamedAcl { name } => {
                write!(f, "named ACL `{name}` is not defined in acl.conf; it denies every address")
            }
            AclDiagnostic::EmptyNamedAcl { name } => {
                write!(f, "named ACL `{name}` has no rules; it accepts every address")
            }
            AclDiagnostic::PermitsEverything { acl } => write!(
                f,
                "ACL `{acl}` permits every address (the default is allow; only a later-unmatched \
                 deny entry restricts)"
            ),
            AclDiagnostic::Ipv6NotRestricted { rule } => write!(
                f,
                "`{rule}` does not block IPv6 clients: IPv4 rules never match native IPv6 \
                 peers and there is no IPv6 rule (add `deny=::/0`)"
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Parse a whole `permit`/`deny` value (comma-separated, untrimmed entries).
fn parse_rules(sense: Sense, value: &str) -> Result<(Vec<Rule>, Vec<AclDiagnostic>), AclError> {
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut offset = 0;
    for entry in value.split(',') {
        rules.push(parse_entry(sense, entry, offset, &mut notes)?);
        offset += entry.len() + 1;
    }
    Ok((rules, notes))
}

/// Parse one `[!]<address>[/<mask>]` entry.
fn parse_entry(
    default: Sense,
    entry: &str,
    offset: usize,
    notes: &mut Vec<AclDiagnostic>,
) -> Result<Rule, AclError> {
    let fail = |kind| AclError { entry: entry.to_owned(), offset, kind };
    let (addr_part, mask_part) = match entry.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (entry, None),
    };
    let (sense, addr_text) = match addr_part.strip_prefix('!') {
        Some(rest) => (default.inverted(), rest),
        None => (default, addr_part),
    };
    let address = parse_numeric_host(addr_text).map_err(|e| {
        let address = addr_text.to_owned();
        fail(match e {
            HostError::Port => AclErrorKind::PortNotAllowed { address },
            HostError::Invalid => AclErrorKind::InvalidAddress { address },
        })
    })?;
    let ip = address.resolve(entry, notes);

    let net = match mask_part {
        None => Net::host(ip),
        Some(mask_text) if mask_text.contains([':', '.']) => {
            let mask = parse_numeric_host(mask_text)
                .map_err(|_| fail(AclErrorKind::InvalidNetmask { mask: mask_text.to_owned() }))?
                .resolve(entry, notes);
            match (ip, mask) {
                (IpAddr::V4(a), IpAddr::V4(m)) => Net::V4 { addr: a.to_bits(), mask: m.to_bits() },
                (IpAddr::V6(a), IpAddr::V6(m)) => Net::V6 { addr: a.to_bits(), mask: m.to_bits() },
                _ => {
                    return Err(fail(AclErrorKind::MaskFamilyMismatch {
                        address: addr_text.to_owned(),
                        mask: mask_text.to_owned(),
                    }));
                }
            }
        }
        Some(mask_text) => {
            let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = scan_c_int(mask_text)
                .and_then(|n| u8::try_from(n).ok())
                .filter(|&n| n <= max)
                .ok_or_else(|| {
                    fail(AclErrorKind::InvalidCidrMask { mask: mask_text.to_owned(), max })
                })?;
            if mask_text != prefix.to_string() {
                notes.push(AclDiagnostic::MaskReadAs { entry: entry.to_owned(), prefix });
            }
            cidr_net(ip, prefix)
        }
    };

    let masked = match net {
        Net::V4 { addr, mask } => Net::V4 { addr: addr & mask, mask },
        Net::V6 { addr, mask } => Net::V6 { addr: addr & mask, mask },
    };
    let rule = Rule { sense, net: masked };
    if rule.prefix_len().is_none() {
        notes.push(AclDiagnostic::NonContiguousMask {
            entry: entry.to_owned(),
            mask: rule.netmask(),
        });
    }
    if masked != net {
        notes.push(AclDiagnostic::HostBitsMasked {
            entry: entry.to_owned(),
            network: rule.network().to_string(),
        });
    }
    Ok(rule)
}

fn cidr_net(ip: IpAddr, prefix: u8) -> Net {
    match ip {
        IpAddr::V4(a) => Net::V4 {
            addr: a.to_bits(),
            mask: u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0),
        },
        IpAddr::V6(a) => Net::V6 {
            addr: a.to_bits(),
            mask: u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0),
        },
    }
}

/// Why a numeric host was refused.
enum HostError {
    Port,
    Invalid,
}

/// A numeric address as `getaddrinfo(AI_NUMERICHOST)` returns it.
struct NumericHost<'a> {
    ip: IpAddr,
    /// The text was an `inet_aton` form other than the canonical dotted quad.
    shorthand: bool,
    /// `%scope` text, and whether it is an interface name.
    scope: Option<(&'a str, bool)>,
}

impl NumericHost<'_> {
    /// Record notes and convert an IPv4-mapped address to IPv4.
    fn resolve(self, entry: &str, notes: &mut Vec<AclDiagnostic>) -> IpAddr {
        if let (IpAddr::V4(address), true) = (self.ip, self.shorthand) {
            notes.push(AclDiagnostic::ShorthandIpv4 { entry: entry.to_owned(), address });
        }
        if let Some((scope, interface)) = self.scope {
            notes.push(AclDiagnostic::ScopeIdIgnored {
                entry: entry.to_owned(),
                scope: scope.to_owned(),
                interface,
            });
        }
        match self.ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => {
                    notes.push(AclDiagnostic::Ipv4MappedConverted { entry: entry.to_owned() });
                    IpAddr::V4(v4)
                }
                None => IpAddr::V6(v6),
            },
            v4 => v4,
        }
    }
}

/// Asterisk's `ast_sockaddr_parse(.., PARSE_PORT_FORBID)`: split off brackets
/// and a port the way `ast_sockaddr_split_hostport` does, then parse the host
/// numerically.
fn parse_numeric_host(text: &str) -> Result<NumericHost<'_>, HostError> {
    let host = match text.strip_prefix('[') {
        // `[host]`, then only a `:` (a port) matters; anything else after `]`
        // is ignored. Without `]` the host runs to the end.
        Some(rest) => match rest.split_once(']') {
            Some((_, after)) if after.starts_with(':') => return Err(HostError::Port),
            Some((host, _)) => host,
            None => rest,
        },
        // Exactly one colon is read as host:port; two or more as IPv6.
        None if text.bytes().filter(|&b| b == b':').count() == 1 => return Err(HostError::Port),
        None => text,
    };
    numeric_getaddrinfo(host).ok_or(HostError::Invalid)
}

/// glibc `getaddrinfo` with `AI_NUMERICHOST`: an exact `inet_aton` IPv4 form,
/// else an IPv6 address with an optional `%scope`.
fn numeric_getaddrinfo(host: &str) -> Option<NumericHost<'_>> {
    if let Some(v4) = inet_aton_exact(host) {
        return Some(NumericHost {
            ip: IpAddr::V4(v4),
            shorthand: v4.to_string() != host,
            scope: None,
        });
    }
    let (addr_text, scope) = match host.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (host, None),
    };
    let v6 = parse_inet_pton6(addr_text)?;
    let scope = match scope {
        None => None,
        Some(s) if is_numeric_scope(s) => Some((s, false)),
        Some(s) if scope_may_name_interface(v6) && is_interface_name(s) => Some((s, true)),
        Some(_) => return None,
    };
    Some(NumericHost { ip: IpAddr::V6(v6), shorthand: false, scope })
}

/// `inet_pton(AF_INET6)`. Rust's parser accepts exactly the same texts
/// (groups of 1-4 hex digits, one `::` standing for at least one group, a
/// trailing strict dotted quad); it is wrapped here to document the choice.
fn parse_inet_pton6(text: &str) -> Option<Ipv6Addr> {
    text.parse().ok()
}

/// A decimal scope id: starts with a digit, digits only, at most `u32::MAX`.
fn is_numeric_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.bytes().all(|b| b.is_ascii_digit())
        && scope
            .bytes()
            .try_fold(0u64, |acc, b| {
                let v = acc * 10 + u64::from(b - b'0');
                (v <= u64::from(u32::MAX)).then_some(v)
            })
            .is_some()
}

/// glibc looks interface names up only for link-local unicast and node- or
/// link-local multicast addresses.
fn scope_may_name_interface(a: Ipv6Addr) -> bool {
    let s = a.segments();
    let link_local = s[0] & 0xffc0 == 0xfe80;
    let mc_local = s[0] & 0xff00 == 0xff00 && matches!(s[0] & 0x000f, 1 | 2);
    link_local || mc_local
}

/// Could name an interface on some host (`if_nametoindex` would be asked):
/// what Linux allows (1 to 15 bytes, no `/`, `:` or white space, not `.` or
/// `..`), except all digits, which no real interface is called.
fn is_interface_name(s: &str) -> bool {
    (1..=IFNAME_MAX).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// glibc's exact `inet_aton`: 1 to 4 dot-separated parts, each starting with
/// a digit and read like `strtoul(.., 0)` (decimal, `0` octal, `0x` hex); all
/// but the last part are single bytes, the last fills the remaining bytes;
/// nothing may follow.
fn inet_aton_exact(text: &str) -> Option<Ipv4Addr> {
    let mut parts = [0u32; 3];
    let mut count = 0usize;
    let mut rest = text.as_bytes();
    loop {
        let (value, after) = strtoul_part(rest)?;
        match after.split_first() {
            Some((b'.', tail)) => {
                if value > 0xff {
                    return None;
                }
                *parts.get_mut(count)? = value;
                count += 1;
                rest = tail;
            }
            Some(_) => return None,
            None => {
                let (bytes, last_max) = match count {
                    0 => (0, u32::MAX),
                    1 => (parts[0] << 24, 0x00ff_ffff),
                    2 => ((parts[0] << 24) | (parts[1] << 16), 0xffff),
                    _ => ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8), 0xff),
                };
                return (value <= last_max).then(|| Ipv4Addr::from_bits(bytes | value));
            }
        }
    }
}

/// One `inet_aton` part: must start with a digit; base from the prefix; a value
/// above `u32::MAX` fails. Returns the value and the unread rest.
fn strtoul_part(s: &[u8]) -> Option<(u32, &[u8])> {
    if !s.first()?.is_ascii_digit() {
        return None;
    }
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, s.get(2..)?),
        [b'0', ..] => (8, s),
        _ => (10, s),
    };
    let len = digits.iter().take_while(|b| char::from(**b).is_digit(radix)).count();
    let (number, rest) = digits.split_at_checked(len)?;
    let mut value: u32 = 0;
    for &b in number {
        let d = char::from(b).to_digit(radix)?;
        value = value.checked_mul(radix)?.checked_add(d)?;
    }
    Some((value, rest))
}

/// C's `sscanf(text, "%30d", &n)` with glibc's behaviour: skip white space,
/// read at most 30 characters of `[+-]digits`, convert like `strtol`
/// (saturating at the 64-bit `long` range) and store into an `int`
/// (truncating to 32 bits). `None` when no digit is read.
fn scan_c_int(text: &str) -> Option<i32> {
    let field = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let field = field.as_bytes();
    let field = field.get(..30).unwrap_or(field);
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, field),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = digits.get(..len).filter(|d| !d.is_empty())?;
    // At most 30 digits: fits in u128.
    let magnitude = digits.iter().fold(0u128, |acc, &b| acc * 10 + u128::from(b - b'0'));
    let long: i64 = if negative {
        i64::try_from(-i128::try_from(magnitude).ok()?).unwrap_or(i64::MIN)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    };
    // Storing a `long` into an `int`: keep the low 32 bits.
    Some(long as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn list(lines: &[(&str, &str)], named: &NamedAcls) -> AclList {
        let mut acl = AclList::default();
        for (k, v) in lines {
            acl.add_line(k, v, named).expect("valid test line");
        }
        acl
    }

    fn one(key: &str, value: &str) -> Result<Acl, AclError> {
        let mut acl = Acl::new();
        acl.add_rule(key, value)?;
        Ok(acl)
    }

    fn err_kind(value: &str) -> AclErrorKind {
        one("permit", value).expect_err("must be refused").kind
    }

    fn notes(value: &str) -> Vec<AclDiagnostic> {
        let mut acl = AclList::default();
        acl.add_line("permit", value, &NamedAcls::default()).expect("valid test line")
    }

    #[test]
    fn case_35_acl_family_quirk() {
        let named = NamedAcls::default();
        let acl =
            list(&[("deny", "0.0.0.0/0.0.0.0"), ("permit", "127.0.0.1/255.255.255.255")], &named);
        assert!(acl.permits(ip("127.0.0.1")));
        assert!(!acl.permits(ip("10.0.0.1")));
        assert!(acl.permits(ip("::1")));
        assert!(!acl.permits(ip("::ffff:10.0.0.1")));
        let mut bad = AclList::default();
        let err =
            bad.add_line("permit", "127.0.0.1:5038", &named).expect_err("a port deletes the user");
        assert_eq!(err.kind, AclErrorKind::PortNotAllowed { address: "127.0.0.1:5038".into() });
        assert!(bad.is_empty());
        assert!(
            acl.diagnostics().iter().any(|d| matches!(d, AclDiagnostic::Ipv6NotRestricted { .. }))
        );
    }

    #[test]
    fn conformance_user_denied() {
        let acl = list(
            &[("deny", "0.0.0.0/0.0.0.0"), ("permit", "10.0.0.0/255.0.0.0")],
            &NamedAcls::default(),
        );
        assert!(!acl.permits(ip("127.0.0.1")));
        assert!(acl.permits(ip("10.1.2.3")));
    }

    #[test]
    fn keys_case_insensitive_sense_by_first_letter() {
        let named = NamedAcls::default();
        for (key, sense) in [
            ("permit", Sense::Permit),
            ("PERMIT", Sense::Permit),
            ("Pxyz", Sense::Permit),
            ("deny", Sense::Deny),
            ("DENY", Sense::Deny),
            ("zzz", Sense::Deny),
            ("", Sense::Deny),
        ] {
            let acl = list(&[(key, "10.0.0.1")], &named);
            let (_, base) = acl.iter().next().expect("base list");
            assert_eq!(base.rules()[0].sense(), sense, "key {key:?}");
        }
        // `a…` (any case) names ACLs.
        let acl = list(&[("ACL", "office")], &named);
        assert_eq!(acl.iter().next().map(|(n, _)| n), Some("office"));
        let acl = list(&[("anything", "office")], &named);
        assert!(acl.iter().next().is_some_and(|(_, a)| a.is_undefined()));
    }

    #[test]
    fn entries_are_not_trimmed_leading_space_is_refused() {
        // glibc's numeric getaddrinfo refuses " 10.0.0.2" (and "10.0.0.2 "),
        // so Asterisk deletes the user.
        let err = one("permit", "10.0.0.1, 10.0.0.2").expect_err("refused");
        assert_eq!(err.entry, " 10.0.0.2");
        assert_eq!(err.offset, 9);
        assert_eq!(err.kind, AclErrorKind::InvalidAddress { address: " 10.0.0.2".into() });
        assert!(err.to_string().contains("not trimmed"));
        assert!(one("permit", "10.0.0.2 ").is_err());
        assert!(one("permit", "10.0.0.1,10.0.0.2").is_ok());
    }

    #[test]
    fn empty_entries_are_refused() {
        assert!(one("permit", "").is_err());
        assert!(one("permit", "10.0.0.1,").is_err());
        assert!(one("permit", ",10.0.0.1").is_err());
    }

    #[test]
    fn bang_inverts_sense() {
        let acl = one("permit", "!10.0.0.0/8").expect("valid");
        assert_eq!(acl.rules()[0].sense(), Sense::Deny);
        assert!(!acl.permits(ip("10.1.1.1")));
        let acl = one("deny", "!10.0.0.0/8").expect("valid");
        assert_eq!(acl.rules()[0].sense(), Sense::Permit);
        // Only one `!` is stripped; a `!` after a blank is part of the address.
        assert!(one("deny", "!!10.0.0.1").is_err());
        assert!(one("deny", " !10.0.0.1").is_err());
    }

    #[test]
    fn numeric_addresses_only() {
        assert!(matches!(err_kind("localhost"), AclErrorKind::InvalidAddress { .. }));
        assert!(matches!(err_kind("example.com"), AclErrorKind::InvalidAddress { .. }));
        assert!(one("permit", "192.0.2.1").is_ok());
        assert!(one("permit", "2001:db8::1").is_ok());
    }

    #[test]
    fn ipv4_inet_aton_forms_as_glibc() {
        // Results observed from glibc 2.36 getaddrinfo(AI_NUMERICHOST).
        for (text, want) in [
            ("10.1", Some("10.0.0.1")),
            ("127.1", Some("127.0.0.1")),
            ("1", Some("0.0.0.1")),
            ("0x7f.1", Some("127.0.0.1")),
            ("010.0.0.1", Some("8.0.0.1")),
            ("4294967295", Some("255.255.255.255")),
            ("1.2.65535", Some("1.2.255.255")),
            ("1.16777215", Some("1.255.255.255")),
            ("1.2.3.0x4", Some("1.2.3.4")),
            ("00000000000000000000000000000001.2.3.4", Some("1.2.3.4")),
            ("08.0.0.1", None),
            ("0x", None),
            ("4294967296", None),
            ("1.2.3.256", None),
            ("1.2.65536", None),
            ("+1.2.3.4", None),
            ("1.+2.3.4", None),
            ("1.2.3.4.", None),
            ("1.2.3.09", None),
            ("12345678901234567890", None),
            ("1..2", None),
        ] {
            let got = inet_aton_exact(text).map(|a| a.to_string());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
        let n = notes("010.0.0.1");
        assert!(n.iter().any(|d| matches!(
            d,
            AclDiagnostic::ShorthandIpv4 { address, .. } if *address == Ipv4Addr::new(8, 0, 0, 1)
        )));
    }

    #[test]
    fn ipv6_forms_as_glibc() {
        for (text, ok) in [
            ("::1", true),
            ("1:2:3:4:5:6:7::", true),
            ("::1:2:3:4:5:6:7", true),
            ("1:2:3:4:5:6:1.2.3.4", true),
            ("::FFFF:1.2.3.4", true),
            ("0::01:1", true),
            ("1:2:3:4:5:6:7:8::", false),
            ("::ffff:01.2.3.4", false),
            ("00001::1", false),
            ("::1 ", false),
            (" ::1", false),
            ("fe80::1%1", true),
            ("fe80::1%01", true),
            ("fe80::1%4294967295", true),
            ("::1%1", true),
            ("fe80::1%4294967296", false),
            ("::1%+1", false),
            ("::1%1x", false),
            ("fe80::1%", false),
            ("fe80::1%1.5", false),
            ("::1%lo", false),
            ("2001:db8::1%eth0", false),
        ] {
            assert_eq!(numeric_getaddrinfo(text).is_some(), ok, "{text:?}");
        }
        // glibc asks if_nametoindex only for link-local unicast and node/link-
        // local multicast; whether the name exists depends on the host, so any
        // valid Linux interface name is accepted (and reported).
        for text in ["fe80::1%eth0", "ff02::1%1x", "ff01::1%+1"] {
            let host = numeric_getaddrinfo(text).expect("interface scope");
            assert!(matches!(host.scope, Some((_, true))), "{text}");
        }
        for text in ["fe80::1%a/b", "fe80::1%a b", "fe80::1%sixteen-bytes-xx"] {
            assert!(numeric_getaddrinfo(text).is_none(), "{text}");
        }
    }

    #[test]
    fn ipv6_scope_ids_are_ignored_and_reported() {
        let acl = one("deny", "fe80::1%7").expect("valid");
        assert!(!acl.permits(ip("fe80::1")));
        let n = notes("fe80::1%eth0");
        assert!(
            n.iter().any(|d| matches!(d, AclDiagnostic::ScopeIdIgnored { interface: true, .. }))
        );
    }

    #[test]
    fn ipv6_may_be_bracketed() {
        let acl = one("deny", "[::1]").expect("valid");
        assert!(!acl.permits(ip("::1")));
        let acl = one("deny", "[2001:db8::]/32").expect("valid");
        assert!(!acl.permits(ip("2001:db8:1::5")));
        assert!(acl.permits(ip("2001:db9::5")));
        // Bracketed IPv4 is accepted too.
        assert!(one("deny", "[10.0.0.1]").is_ok());
        // split_hostport quirks: text after `]` other than `:` is ignored, and
        // a missing `]` runs to the end.
        assert!(one("deny", "[::1]junk").is_ok());
        assert!(one("deny", "[::1").is_ok());
    }

    #[test]
    fn port_is_refused() {
        for text in ["127.0.0.1:5038", "[::1]:5038", "[::1]:", "10.0.0.1:"] {
            assert!(matches!(err_kind(text), AclErrorKind::PortNotAllowed { .. }), "{text}");
        }
        // A port in a netmask is an invalid netmask.
        assert!(matches!(err_kind("10.0.0.0/255.0.0.0:1"), AclErrorKind::InvalidNetmask { .. }));
    }

    #[test]
    fn ipv4_mapped_address_becomes_ipv4_rule() {
        let acl = one("deny", "::ffff:10.0.0.0/8").expect("valid");
        assert_eq!(acl.rules()[0].address(), ip("10.0.0.0"));
        assert_eq!(acl.rules()[0].prefix_len(), Some(8));
        assert!(!acl.permits(ip("10.2.3.4")));
        assert!(!acl.permits(ip("::ffff:10.2.3.4")));
        // The prefix is then range-checked as IPv4.
        assert!(one("deny", "::ffff:10.0.0.0/104").is_err());
        // A mapped netmask is converted as well.
        let acl = one("deny", "10.0.0.0/::ffff:255.0.0.0").expect("valid");
        assert_eq!(acl.rules()[0].prefix_len(), Some(8));
        assert!(
            notes("::ffff:10.0.0.1")
                .iter()
                .any(|d| matches!(d, AclDiagnostic::Ipv4MappedConverted { .. }))
        );
    }

    #[test]
    fn mask_absent_means_host() {
        let acl = one("deny", "10.0.0.1").expect("valid");
        assert_eq!(acl.rules()[0].prefix_len(), Some(32));
        assert!(!acl.permits(ip("10.0.0.1")));
        assert!(acl.permits(ip("10.0.0.2")));
        let acl = one("deny", "2001:db8::1").expect("valid");
        assert_eq!(acl.rules()[0].prefix_len(), Some(128));
    }

    #[test]
    fn cidr_prefix_range_checked_per_family() {
        assert!(one("deny", "10.0.0.0/0").is_ok());
        assert!(one("deny", "10.0.0.0/32").is_ok());
        assert!(matches!(err_kind("10.0.0.0/33"), AclErrorKind::InvalidCidrMask { max: 32, .. }));
        assert!(one("deny", "2001:db8::/128").is_ok());
        assert!(matches!(
            err_kind("2001:db8::/129"),
            AclErrorKind::InvalidCidrMask { max: 128, .. }
        ));
        assert!(one("deny", "10.0.0.0/-1").is_err());
        assert!(one("deny", "10.0.0.0/").is_err());
        assert!(one("deny", "10.0.0.0/abc").is_err());
    }

    #[test]
    fn cidr_prefix_read_like_sscanf() {
        // Observed from glibc 2.36 sscanf("%30d").
        for (text, want) in [
            ("8", Some(8)),
            (" 8", Some(8)),
            ("8abc", Some(8)),
            ("+8", Some(8)),
            ("-0", Some(0)),
            ("010", Some(10)),
            ("0x10", Some(0)),
            ("4294967304", Some(8)),
            ("-4294967288", Some(8)),
            ("-99999999999999999999", Some(0)),
            ("99999999999999999999", Some(-1)),
            ("1234567890123456789012345678901234", Some(-1)),
            ("abc", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(scan_c_int(text), want, "{text:?}");
        }
        // So `/4294967296` is /0 and opens the whole internet; reported.
        let acl = one("permit", "10.0.0.0/8abc").expect("valid");
        assert_eq!(acl.rules()[0].prefix_len(), Some(8));
        let n = notes("10.0.0.0/4294967296");
        assert!(n.iter().any(|d| matches!(d, AclDiagnostic::MaskReadAs { prefix: 0, .. })));
    }

    #[test]
    fn netmask_must_be_same_family() {
        assert!(matches!(err_kind("10.0.0.0/ffff::"), AclErrorKind::MaskFamilyMismatch { .. }));
        assert!(matches!(
            err_kind("2001:db8::/255.255.0.0"),
            AclErrorKind::MaskFamilyMismatch { .. }
        ));
        let acl = one("deny", "2001:db8::/ffff:ffff::").expect("valid");
        assert_eq!(acl.rules()[0].prefix_len(), Some(32));
        assert!(matches!(err_kind("10.0.0.0/255.0.0.x"), AclErrorKind::InvalidNetmask { .. }));
    }

    #[test]
    fn address_anded_with_mask_and_reported() {
        let acl = one("deny", "10.1.2.3/8").expect("valid");
        assert_eq!(acl.to_string(), "deny 10.0.0.0/8");
        assert!(!acl.permits(ip("10.200.0.1")));
        let n = notes("10.1.2.3/8");
        assert_eq!(
            n,
            vec![AclDiagnostic::HostBitsMasked {
                entry: "10.1.2.3/8".into(),
                network: "10.0.0.0/8".into()
            }]
        );
        assert!(notes("10.0.0.0/8").is_empty());
    }

    #[test]
    fn non_contiguous_netmask_applied_bitwise_and_reported() {
        // Asterisk ANDs with whatever mask it is given.
        let acl = one("deny", "10.0.0.5/255.0.0.255").expect("valid");
        assert!(!acl.permits(ip("10.77.88.5")));
        assert!(acl.permits(ip("10.77.88.6")));
        assert_eq!(acl.rules()[0].prefix_len(), None);
        assert_eq!(acl.to_string(), "deny 10.0.0.5/255.0.0.255");
        assert!(
            notes("10.0.0.5/255.0.0.255")
                .iter()
                .any(|d| matches!(d, AclDiagnostic::NonContiguousMask { .. }))
        );
        // inet_aton shorthand in a netmask: `255.255` is 255.0.0.255.
        let acl = one("deny", "10.0.0.0/255.255").expect("valid");
        assert_eq!(acl.rules()[0].netmask(), ip("255.0.0.255"));
    }

    #[test]
    fn named_acl_names_leading_blanks_trimmed_each_separate_list() {
        let mut named = NamedAcls::default();
        named.insert("office", one("deny", "0.0.0.0/0").expect("valid"));
        named.insert("lan", one("permit", "192.168.0.0/16").expect("valid"));
        let mut acl = AclList::default();
        acl.add_line("acl", "office,  lan", &named).expect("valid");
        let names: Vec<&str> = acl.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["office", "lan"]);
        // Separate lists: "office" denies all IPv4, nothing overrides it.
        assert!(!acl.permits(ip("192.168.1.1")));
        // Trailing blanks are kept, so the name is not found.
        let mut acl = AclList::default();
        let n = acl.add_line("acl", "lan ", &named).expect("valid");
        assert_eq!(n, vec![AclDiagnostic::UndefinedNamedAcl { name: "lan ".into() }]);
    }

    #[test]
    fn named_acl_lookup_is_case_sensitive_duplicates_are_not() {
        let mut named = NamedAcls::default();
        named.insert("lan", Acl::new());
        assert!(named.get("LAN").is_none());
        let mut acl = AclList::default();
        let err = acl.add_line("acl", "lan,LAN", &named).expect_err("duplicate");
        assert_eq!(err.kind, AclErrorKind::DuplicateNamedAcl { name: "LAN".into() });
        assert!(acl.is_empty());
        // An empty name duplicates the base permit/deny list.
        let mut acl = list(&[("permit", "10.0.0.1")], &named);
        assert!(acl.add_line("acl", "lan,", &named).is_err());
    }

    #[test]
    fn named_acl_names_truncated_to_79_bytes() {
        let long = "n".repeat(100);
        let mut named = NamedAcls::default();
        named.insert(&long, one("deny", "10.0.0.1").expect("valid"));
        assert!(named.get(&"n".repeat(79)).is_some());
        assert!(named.get(&"n".repeat(78)).is_none());
    }

    #[test]
    fn undefined_named_acl_denies_everyone() {
        let named = NamedAcls::default();
        let mut acl = AclList::default();
        let n = acl.add_line("acl", "nosuch", &named).expect("valid");
        assert_eq!(n, vec![AclDiagnostic::UndefinedNamedAcl { name: "nosuch".into() }]);
        for peer in ["127.0.0.1", "::1", "10.0.0.1"] {
            assert!(!acl.permits(ip(peer)));
        }
        assert_eq!(acl.to_string(), "acl nosuch: undefined (denies everyone)");
        assert!(acl.add_line("acl", "NoSuch", &named).is_err());
    }

    #[test]
    fn named_acl_is_copied_when_added() {
        let mut named = NamedAcls::default();
        named.insert("lan", one("deny", "10.0.0.1").expect("valid"));
        let acl = list(&[("acl", "lan")], &named);
        named.insert("lan", Acl::new());
        assert!(!acl.permits(ip("10.0.0.1")));
    }

    #[test]
    fn base_list_first_then_named_in_order() {
        let mut named = NamedAcls::default();
        named.insert("a", one("deny", "10.0.0.1").expect("valid"));
        let acl = list(&[("acl", "a"), ("deny", "10.0.0.2"), ("permit", "10.0.0.3")], &named);
        assert_eq!(
            acl.to_string(),
            "deny 10.0.0.2/32, permit 10.0.0.3/32; acl a: deny 10.0.0.1/32"
        );
    }

    #[test]
    fn no_lists_allow() {
        let acl = AclList::default();
        assert!(acl.is_empty());
        assert!(acl.permits(ip("203.0.113.9")));
        assert!(acl.permits(ip("2001:db8::9")));
        assert!(Acl::new().permits(ip("203.0.113.9")));
        assert_eq!(acl.to_string(), "none (every address allowed)");
    }

    #[test]
    fn every_list_must_allow() {
        let mut named = NamedAcls::default();
        let mut lan = one("deny", "0.0.0.0/0").expect("valid");
        lan.add_rule("permit", "192.168.0.0/16").expect("valid");
        named.insert("only-lan", lan);
        let acl = list(&[("permit", "10.0.0.0/8"), ("acl", "only-lan")], &named);
        // The base list allows 10.x but the named list does not.
        assert!(!acl.permits(ip("10.0.0.1")));
        assert!(acl.permits(ip("192.168.3.4")));
    }

    #[test]
    fn within_a_list_last_match_wins_default_allow() {
        let mut acl = one("deny", "10.0.0.0/8").expect("valid");
        acl.add_rule("permit", "10.1.0.0/16").expect("valid");
        acl.add_rule("deny", "10.1.2.0/24").expect("valid");
        assert!(!acl.permits(ip("10.9.9.9")));
        assert!(acl.permits(ip("10.1.9.9")));
        assert!(!acl.permits(ip("10.1.2.9")));
        assert!(acl.permits(ip("11.0.0.1")));
    }

    #[test]
    fn ipv4_rules_apply_to_ipv4_and_mapped_peers_only() {
        let acl = one("deny", "0.0.0.0/0").expect("valid");
        assert!(!acl.permits(ip("192.0.2.1")));
        assert!(!acl.permits(ip("::ffff:192.0.2.1")));
        assert!(acl.permits(ip("::1")));
        assert!(acl.permits(ip("2001:db8::1")));
        // IPv4-compatible (deprecated) ::a.b.c.d is native IPv6.
        assert!(acl.permits(ip("::192.0.2.1")));
    }

    #[test]
    fn ipv6_rules_apply_to_native_ipv6_peers_only() {
        let acl = one("deny", "::/0").expect("valid");
        assert!(!acl.permits(ip("::1")));
        assert!(acl.permits(ip("127.0.0.1")));
        assert!(acl.permits(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn diagnostic_ipv4_lockdown_leaves_ipv6_open() {
        let acl = list(&[("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")], &NamedAcls::default());
        let d = acl.diagnostics();
        assert_eq!(d, vec![AclDiagnostic::Ipv6NotRestricted { rule: "deny 0.0.0.0/0".into() }]);
        assert!(d[0].to_string().contains("does not block IPv6 clients"));
        let acl =
            list(&[("deny", "0.0.0.0/0,::/0"), ("permit", "10.0.0.0/8")], &NamedAcls::default());
        assert!(acl.diagnostics().is_empty());
        // The same check for a named ACL on its own.
        let named = one("deny", "0.0.0.0/0").expect("valid");
        assert!(
            named
                .diagnostics()
                .iter()
                .any(|d| matches!(d, AclDiagnostic::Ipv6NotRestricted { .. }))
        );
    }

    #[test]
    fn diagnostic_permits_everything() {
        let named = NamedAcls::default();
        let acl = list(&[("permit", "10.0.0.0/8")], &named);
        let d = acl.diagnostics();
        assert_eq!(d, vec![AclDiagnostic::PermitsEverything { acl: "permit 10.0.0.0/8".into() }]);
        let acl = list(&[("deny", "10.1.0.0/16"), ("permit", "10.0.0.0/8")], &named);
        assert!(matches!(acl.diagnostics().as_slice(), [AclDiagnostic::PermitsEverything { .. }]));
        let acl = list(&[("permit", "10.0.0.0/8"), ("deny", "10.1.0.0/16")], &named);
        assert!(acl.diagnostics().is_empty());
        assert!(AclList::default().diagnostics().is_empty());
        let mut lan = NamedAcls::default();
        lan.insert("empty", Acl::new());
        let mut acl = AclList::default();
        let n = acl.add_line("acl", "empty", &lan).expect("valid");
        assert_eq!(n, vec![AclDiagnostic::EmptyNamedAcl { name: "empty".into() }]);
    }

    #[test]
    fn display_for_check_output() {
        let mut acl = one("deny", "0.0.0.0/0.0.0.0").expect("valid");
        acl.add_rule("permit", "10.0.0.0/8,2001:db8::/ffff:ffff::").expect("valid");
        assert_eq!(acl.to_string(), "deny 0.0.0.0/0, permit 10.0.0.0/8, permit 2001:db8::/32");
        assert_eq!(Acl::new().to_string(), "no rules (permits everyone)");
        let err = one("permit", "127.0.0.1:5038").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "invalid ACL entry `127.0.0.1:5038` at byte 0: `127.0.0.1:5038` contains a port, \
             which ACL entries do not allow"
        );
    }

    #[test]
    fn errors_leave_lists_unchanged() {
        let mut acl = one("deny", "10.0.0.1").expect("valid");
        assert!(acl.add_rule("deny", "10.0.0.2,bogus").is_err());
        assert_eq!(acl.rules().len(), 1);
    }

    #[test]
    fn undefined_empty_name_becomes_base_list_as_in_asterisk() {
        // `acl=` with an empty name creates an unnamed, undefined list; a later
        // permit= line then uses it as the base list, which still denies all.
        let named = NamedAcls::default();
        let acl = list(&[("acl", " "), ("permit", "10.0.0.1")], &named);
        assert_eq!(acl.iter().count(), 1);
        assert!(!acl.permits(ip("10.0.0.1")));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum RefRule {
            V4 { permit: bool, addr: u32, mask: u32 },
            V6 { permit: bool, addr: u128, mask: u128 },
        }

        /// Render a rule as manager.conf text, in prefix or netmask form.
        fn render(rule: &RefRule, netmask_form: bool) -> (&'static str, String) {
            match rule {
                RefRule::V4 { permit, addr, mask } => {
                    let a = Ipv4Addr::from(*addr);
                    let m = if netmask_form || mask.leading_ones() + mask.trailing_zeros() != 32 {
                        Ipv4Addr::from(*mask).to_string()
                    } else {
                        mask.leading_ones().to_string()
                    };
                    (if *permit { "permit" } else { "deny" }, format!("{a}/{m}"))
                }
                RefRule::V6 { permit, addr, mask } => {
                    let a = Ipv6Addr::from(*addr);
                    let m = if netmask_form || mask.leading_ones() + mask.trailing_zeros() != 128 {
                        format!("[{}]", Ipv6Addr::from(*mask))
                    } else {
                        mask.leading_ones().to_string()
                    };
                    (if *permit { "permit" } else { "deny" }, format!("[{a}]/{m}"))
                }
            }
        }

        /// Straightforward reference: IPv4-mapped peers are IPv4; a rule of the
        /// peer's family matches when the masked values are equal; last match
        /// wins; start with allow.
        fn reference(rules: &[RefRule], peer: IpAddr) -> bool {
            let (v4, v6) = match peer {
                IpAddr::V4(a) => (Some(u32::from(a)), None),
                IpAddr::V6(a) => {
                    let bits = u128::from(a);
                    if bits >> 32 == 0xffff {
                        (Some(bits as u32), None)
                    } else {
                        (None, Some(bits))
                    }
                }
            };
            let mut allow = true;
            for r in rules {
                match (r, v4, v6) {
                    (RefRule::V4 { permit, addr, mask }, Some(p), _) if p & mask == addr & mask => {
                        allow = *permit
                    }
                    (RefRule::V6 { permit, addr, mask }, _, Some(p)) if p & mask == addr & mask => {
                        allow = *permit
                    }
                    _ => {}
                }
            }
            allow
        }

        fn v4_mask() -> impl Strategy<Value = u32> {
            prop_oneof![
                (0u32..=32).prop_map(|p| u32::MAX.checked_shl(32 - p).unwrap_or(0)),
                any::<u32>(),
            ]
        }

        fn v6_mask() -> impl Strategy<Value = u128> {
            prop_oneof![
                (0u32..=128).prop_map(|p| u128::MAX.checked_shl(128 - p).unwrap_or(0)),
                any::<u128>(),
            ]
        }

        /// Addresses drawn near a few bases so that rules and peers collide.
        fn v4_addr() -> impl Strategy<Value = u32> {
            prop_oneof![
                any::<u32>(),
                (0u32..4, any::<u8>()).prop_map(|(b, x)| (10 << 24) | (b << 8) | u32::from(x)),
            ]
        }

        fn v6_addr() -> impl Strategy<Value = u128> {
            prop_oneof![
                any::<u128>(),
                (0u128..4, any::<u8>())
                    .prop_map(|(b, x)| (0x2001_0db8 << 96) | (b << 8) | u128::from(x)),
                Just(1u128),
            ]
            // Keep native IPv6: IPv4-mapped addresses become IPv4 rules.
            .prop_filter("not mapped", |a| a >> 32 != 0xffff)
        }

        fn rule() -> impl Strategy<Value = RefRule> {
            prop_oneof![
                (any::<bool>(), v4_addr(), v4_mask())
                    .prop_map(|(permit, addr, mask)| RefRule::V4 { permit, addr, mask }),
                (any::<bool>(), v6_addr(), v6_mask())
                    .prop_map(|(permit, addr, mask)| RefRule::V6 { permit, addr, mask }),
            ]
        }

        fn peer() -> impl Strategy<Value = IpAddr> {
            prop_oneof![
                v4_addr().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                v4_addr().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
                v6_addr().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            ]
        }

        proptest! {
            #[test]
            fn evaluation_matches_reference(
                lists in prop::collection::vec(prop::collection::vec(rule(), 0..8), 0..4),
                peers in prop::collection::vec(peer(), 1..16),
                netmask_form in any::<bool>(),
            ) {
                let mut named = NamedAcls::default();
                let mut acl_list = AclList::default();
                for (i, rules) in lists.iter().enumerate() {
                    let mut acl = Acl::new();
                    for r in rules {
                        let (key, value) = render(r, netmask_form);
                        acl.add_rule(key, &value).expect("rendered rule parses");
                    }
                    let name = format!("n{i}");
                    named.insert(&name, acl);
                    acl_list.add_line("acl", &name, &named).expect("defined");
                }
                for p in peers {
                    let single: Vec<bool> = lists.iter().map(|l| reference(l, p)).collect();
                    for ((_, acl), want) in acl_list.iter().zip(&single) {
                        prop_assert_eq!(acl.permits(p), *want, "peer {}", p);
                    }
                    prop_assert_eq!(acl_list.permits(p), single.iter().all(|b| *b));
                }
            }

            #[test]
            fn base_list_matches_reference(
                rules in prop::collection::vec(rule(), 0..10),
                peers in prop::collection::vec(peer(), 1..16),
            ) {
                let mut acl_list = AclList::default();
                let named = NamedAcls::default();
                for r in &rules {
                    let (key, value) = render(r, false);
                    acl_list.add_line(key, &value, &named).expect("rendered rule parses");
                }
                for p in peers {
                    prop_assert_eq!(acl_list.permits(p), reference(&rules, p));
                }
            }

            #[test]
            fn add_rule_never_panics(key in ".{0,6}", value in ".{0,64}") {
                let mut acl = Acl::new();
                let _ = acl.add_rule(&key, &value);
                let _ = acl.diagnostics();
                let _ = acl.to_string();
            }

            #[test]
            fn address_like_text_never_panics(value in "[0-9a-fA-FxX:.%/!\\[\\], +-]{0,48}") {
                let mut acl = Acl::new();
                if let Err(e) = acl.add_rule("permit", &value) {
                    let _ = e.to_string();
                }
                let mut list = AclList::default();
                let _ = list.add_line("acl", &value, &NamedAcls::default());
                let _ = list.diagnostics();
            }
        }
    }
}

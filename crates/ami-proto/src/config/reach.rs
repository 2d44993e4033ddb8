//! Which peer addresses a user's ACL lets in, decided exactly for prefix rules (what
//! `ami check` and the editor's validation report as `open-network`, `ipv6-open` and
//! `never-login`).
//!
//! An [`AclList`] answers for one address at a time. Its verdict only changes at the edges of
//! the rules' networks, and prefix networks nest or are disjoint, so every region of equal
//! verdict contains one of these probes: the first and last address of every rule's network,
//! the addresses just outside them, and the ends of the address space. Evaluating the list on
//! those probes tells whether it admits every address, some, or none, per address family.
//! (Non-contiguous netmasks make the regions scattered; the answer is then a best effort.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::acl::AclList;

/// What a user's ACL admits, per address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Some IPv4 address (or IPv4-mapped IPv6 address) may log in.
    pub any_v4: bool,
    /// Every IPv4 address may log in.
    pub all_v4: bool,
    /// Some native IPv6 address may log in.
    pub any_v6: bool,
    /// Every native IPv6 address may log in.
    pub all_v6: bool,
}

impl Reach {
    /// Every address may log in.
    pub fn open_to_all(self) -> bool {
        self.all_v4 && self.all_v6
    }

    /// No address may log in.
    pub fn admits_none(self) -> bool {
        !self.any_v4 && !self.any_v6
    }
}

/// Which address families can reach AMI at all, from the `[general]` listener settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    /// IPv4 clients can connect.
    pub v4: bool,
    /// Native IPv6 clients can connect.
    pub v6: bool,
}

impl Listener {
    /// The families reaching `bind` (TCP listener); TLS and HTTP listen elsewhere (TLS on
    /// `tlsbindaddr`, HTTP on http.conf's address), so with either enabled both families count.
    pub fn of(bind: IpAddr, other_listeners: bool) -> Listener {
        if other_listeners {
            return Listener { v4: true, v6: true };
        }
        match bind {
            IpAddr::V4(_) => Listener { v4: true, v6: false },
            IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => Listener { v4: true, v6: false },
            // `::` is dual-stack on Linux by default: IPv4 clients arrive as mapped addresses.
            IpAddr::V6(a) if a.is_unspecified() => Listener { v4: true, v6: true },
            IpAddr::V6(_) => Listener { v4: false, v6: true },
        }
    }

    /// Every client that can reach the listener passes the ACL.
    pub fn open_to_all(self, r: Reach) -> bool {
        (!self.v4 || r.all_v4) && (!self.v6 || r.all_v6)
    }

    /// No client that can reach the listener passes the ACL.
    pub fn admits_none(self, r: Reach) -> bool {
        (!self.v4 || !r.any_v4) && (!self.v6 || !r.any_v6)
    }
}

/// The IPv4-mapped range `::ffff:0:0/96`, which Asterisk evaluates as IPv4.
const MAPPED_FIRST: u128 = 0xffff_0000_0000;
const MAPPED_LAST: u128 = 0xffff_ffff_ffff;

/// Evaluates `acl` on the probes of every rule.
///
/// ```
/// use ami_proto::acl::{AclList, NamedAcls};
/// use ami_proto::config::reach::reach;
///
/// let mut acl = AclList::default();
/// acl.add_line("deny", "0.0.0.0/0", &NamedAcls::default()).unwrap();
/// acl.add_line("permit", "10.0.0.0/8", &NamedAcls::default()).unwrap();
/// let r = reach(&acl);
/// assert!(r.any_v4 && !r.all_v4);
/// assert!(r.all_v6); // nothing restricts IPv6: `deny = ::/0` is missing
/// ```
pub fn reach(acl: &AclList) -> Reach {
    let mut v4: Vec<u32> = vec![0, u32::MAX, 0x7f00_0001];
    let mut v6: Vec<u128> = vec![0, 1, u128::MAX, MAPPED_FIRST - 1, MAPPED_LAST + 1];
    for (_, list) in acl.iter() {
        for rule in list.rules() {
            match (rule.address(), rule.netmask()) {
                (IpAddr::V4(a), IpAddr::V4(m)) => {
                    let (first, last) = (a.to_bits(), a.to_bits() | !m.to_bits());
                    v4.extend([first, last]);
                    v4.extend(first.checked_sub(1));
                    v4.extend(last.checked_add(1));
                }
                (IpAddr::V6(a), IpAddr::V6(m)) => {
                    let (first, last) = (a.to_bits(), a.to_bits() | !m.to_bits());
                    v6.extend([first, last]);
                    v6.extend(first.checked_sub(1));
                    v6.extend(last.checked_add(1));
                }
                _ => {}
            }
        }
    }
    let v4: Vec<bool> =
        v4.into_iter().map(|a| acl.permits(IpAddr::V4(Ipv4Addr::from_bits(a)))).collect();
    // Probes inside the mapped range are IPv4 peers: leave them to the IPv4 side.
    let v6: Vec<bool> = v6
        .into_iter()
        .filter(|a| !(MAPPED_FIRST..=MAPPED_LAST).contains(a))
        .map(|a| acl.permits(IpAddr::V6(Ipv6Addr::from_bits(a))))
        .collect();
    Reach {
        any_v4: v4.iter().any(|&p| p),
        all_v4: v4.iter().all(|&p| p),
        any_v6: v6.iter().any(|&p| p),
        all_v6: v6.iter().all(|&p| p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::NamedAcls;

    fn list(lines: &[(&str, &str)]) -> AclList {
        let mut acl = AclList::default();
        for (k, v) in lines {
            acl.add_line(k, v, &NamedAcls::default()).unwrap();
        }
        acl
    }

    #[test]
    fn empty_is_open() {
        assert!(reach(&AclList::default()).open_to_all());
    }

    #[test]
    fn ipv4_lockdown_leaves_ipv6() {
        let r = reach(&list(&[("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")]));
        assert!(r.any_v4 && !r.all_v4 && r.all_v6 && !r.open_to_all());
    }

    #[test]
    fn deny_everything() {
        let r = reach(&list(&[("deny", "0.0.0.0/0"), ("deny", "::/0")]));
        assert!(r.admits_none());
    }

    #[test]
    fn hole_punched_in_deny() {
        // Deny 10/8 except 10.1/16: a permit between the deny's edges must be found.
        let r = reach(&list(&[("deny", "0.0.0.0/0,::/0"), ("permit", "10.1.0.0/16")]));
        assert!(r.any_v4 && !r.any_v6);
        let r = reach(&list(&[("deny", "10.0.0.0/8"), ("permit", "10.1.0.0/16")]));
        assert!(r.any_v4 && !r.all_v4 && r.all_v6);
    }

    #[test]
    fn listener_families() {
        let v4 = Listener::of("0.0.0.0".parse().unwrap(), false);
        let dual = Listener::of("::".parse().unwrap(), false);
        let v6 = Listener::of("::1".parse().unwrap(), false);
        // Only IPv6 permitted: nobody reaches an IPv4 listener through this ACL.
        let r = reach(&list(&[("deny", "0.0.0.0/0"), ("deny", "::/0"), ("permit", "::1")]));
        assert!(v4.admits_none(r) && !dual.admits_none(r) && !v6.admits_none(r));
        // IPv6 left open: all that matters on an IPv6-only listener.
        let r = reach(&list(&[("deny", "::/0")]));
        assert!(v4.open_to_all(r) && !dual.open_to_all(r) && !v6.open_to_all(r));
        assert_eq!(Listener::of("127.0.0.1".parse().unwrap(), true), dual);
    }

    /// Random prefix ACLs: the probes never contradict random addresses.
    #[test]
    fn probes_agree_with_random_addresses() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed
        };
        for _ in 0..300 {
            let mut acl = AclList::default();
            for _ in 0..(next() % 5 + 1) {
                let key = if next() % 2 == 0 { "permit" } else { "deny" };
                // Few distinct high bits so that networks overlap often.
                let v4 =
                    Ipv4Addr::from_bits(((next() % 4) as u32) << 30 | ((next() % 4) as u32) << 24);
                let v6 = Ipv6Addr::from_bits(u128::from(next() % 4) << 126);
                let value = if next() % 3 == 0 {
                    format!("{v6}/{}", next() % 8)
                } else {
                    format!("{v4}/{}", next() % 10)
                };
                acl.add_line(key, &value, &NamedAcls::default()).unwrap();
            }
            let r = reach(&acl);
            for _ in 0..200 {
                let a4 = IpAddr::V4(Ipv4Addr::from_bits(next() as u32));
                let a6 = IpAddr::V6(Ipv6Addr::from_bits(u128::from(next()) << 64 | 1 << 100));
                let (p4, p6) = (acl.permits(a4), acl.permits(a6));
                assert!(!p4 || r.any_v4, "{acl}: {a4} permitted");
                assert!(p4 || !r.all_v4, "{acl}: {a4} denied");
                assert!(!p6 || r.any_v6, "{acl}: {a6} permitted");
                assert!(p6 || !r.all_v6, "{acl}: {a6} denied");
            }
        }
    }

    #[test]
    fn undefined_named_acl_admits_none() {
        let mut acl = AclList::default();
        acl.add_line("acl", "nosuch", &NamedAcls::default()).unwrap();
        assert!(reach(&acl).admits_none());
    }
}

//! Randomness from the operating system's CSPRNG (`getrandom`): MD5 challenges for servers,
//! and the jitter of reconnection delays.

use ami_proto::server::RandomSource;

/// The OS CSPRNG as the core's [`RandomSource`]: every MD5 challenge a server issues is
/// unpredictable, so a recorded key cannot be replayed.
///
/// ```
/// use ami_proto::server::RandomSource;
///
/// let mut source = ami_tokio::OsRandom;
/// let (a, b) = (source.next_u32(), source.next_u32());
/// assert!(a != b || source.next_u32() != a); // 2^-64 to fail
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u32(&mut self) -> u32 {
        random_u32()
    }
}

/// 32 random bits from the OS. The OS generator does not fail once the system has booted; if
/// it ever did, this panics rather than hand out a predictable challenge.
pub fn random_u32() -> u32 {
    getrandom::u32().expect("the operating system's random number generator failed")
}

/// 64 random bits from the OS (see [`random_u32`]).
pub fn random_u64() -> u64 {
    getrandom::u64().expect("the operating system's random number generator failed")
}

/// A boxed [`OsRandom`], as `ami_proto::server::Server::new` takes it.
pub fn challenge_source() -> Box<dyn RandomSource> {
    Box::new(OsRandom)
}

//! The PBX on a virtual clock.

//! placeholder until corpus lands

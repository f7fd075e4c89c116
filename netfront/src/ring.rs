//! The io/ring.h front ring netfront drives: one implementation for every
//! PV driver, in `xenabi::ring`.

pub use xenabi::ring::{Corrupt, FrontRing};

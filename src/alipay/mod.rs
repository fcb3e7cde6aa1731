//! Alipay's `my.getPhoneNumber`, the pure engine: a call's inputs ([`model`]), the documented
//! rules in order ([`rules`]), what they decide ([`outcome`]), the envelope's bytes, correct or
//! deliberately wrong ([`envelope`], [`fault`]), one call end to end ([`simulate`]) and the
//! embedded catalogue ([`scenario`]); what the page's handler gets per front end ([`front_end`]); the keys a backend is configured with, read in the
//! console's terms ([`keys`]). No state, no HTTP.

pub mod envelope;
pub mod error;
pub mod fault;
pub mod front_end;
pub mod gateway;
pub mod keys;
pub mod model;
pub mod outcome;
pub mod rules;
pub mod scenario;
pub mod simulate;

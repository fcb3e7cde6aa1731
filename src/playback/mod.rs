//! Playback: suite files of calls and the answers a backend must give, recorded ones included
//! ([`suite`]), and replaying them against a backend with text, JSON and JUnit reports
//! ([`play`]).

pub mod play;
pub mod suite;

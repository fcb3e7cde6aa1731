//! The stateful shell: apps with their keys and console ([`state`]), the journal, device-page
//! recordings ([`recording`]) and the state file ([`store`]). No HTTP.

pub mod recording;
pub mod state;
pub mod store;

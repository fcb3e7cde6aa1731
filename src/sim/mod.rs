//! The stateful shell. No HTTP.
//!
//! - [`state`]: [`state::SimState`], the one shared state every adapter uses.
//! - [`apps`]: the closed set of apps, one variant per platform; [`alipay`]: Alipay apps
//!   (what the API takes and shows of them, and the running app).
//! - [`journal`]: the calls answered, as tagged events.
//! - [`recording`]: device-page recordings; [`store`]: the state file; [`error`]: why an
//!   operation failed.
//! - [`exchange`]: an exchange with a developer's backend, as the journal and playback keep it.

pub mod alipay;
pub(crate) mod alipay_login;
pub(crate) mod apps;
pub mod error;
pub mod exchange;
pub mod journal;
pub(crate) mod journal_db;
pub mod recording;
pub mod state;
pub mod store;
pub mod wechat;

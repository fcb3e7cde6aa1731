//! WeChat's mini-program phone-number flows (legacy `encryptedData`, the code flow, login and
//! access tokens), as a pure engine: no state of its own, no HTTP, no clock but the `now` it is
//! given. `docs/wechat-getphonenumber.md` is the behaviour it follows; each rule cites its section.
//!
//! - [`keys`]: the app's appid and secret, the user's openid and session keys, codes and tokens,
//!   all from a seed.
//! - [`crypto`]: the legacy payload's AES-128-CBC, its plaintext, the checksession signature.
//! - [`model`]: the console, the user and the switches for what the docs leave open.
//! - [`front_end`]: what `wx.login` returns and what the phone button hands the page.
//! - [`platform`]: the server endpoints (`/sns/jscode2session`, `/cgi-bin/token`, ...) as
//!   functions over the platform's memory of codes, tokens and session keys.
//! - [`rules`]: every documented behaviour by id, with its section; [`judge`]: what a correct
//!   backend concludes from a legacy payload; [`scenario`]: the catalogue.

pub mod crypto;
pub mod front_end;
pub mod judge;
pub mod keys;
pub mod model;
pub mod platform;
pub mod rules;
pub mod scenario;

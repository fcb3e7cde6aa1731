//! The integration tests, one binary with a module per topic (it links the crate once). Each
//! module's doc says what it covers; `common` holds the launchers and helpers they share.
//! `cargo test --test it MODULE` runs one topic, e.g. `cargo test --test it golden`.

mod common;

mod alipay_login;
mod alipay_login_java_v3;
mod alipay_login_play;
mod api;
mod api_errors;
mod browser;
mod catalogue;
mod cert_mode;
mod cli;
mod container;
mod crate_surface;
mod fixture;
mod golden;
mod hardening;
mod interop;
mod journal_history;
mod layers;
mod openapi;
mod play;
mod properties;
mod readme;
mod readme_example_library;
mod readme_example_simulator;
mod readme_example_wechat;
mod server;
mod shared;
mod snapshot;
mod state;
mod ui;
mod vectors;
mod wechat_flows;
mod wechat_interop;
mod wechat_play;
mod wechat_scenarios;
mod wechat_ui;
mod wechat_vectors;

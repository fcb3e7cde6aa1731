//! Playback: suite files of calls and the answers a backend must give, recorded ones included
//! ([`suite`]), and replaying them against a backend with text, JSON and JUnit reports
//! ([`play`]).

pub mod alipay_login;
mod report;
mod run;
pub mod suite;
pub mod wechat;

/// Playing prepared suites against a backend (`run.rs`), and what a run reports with its text,
/// JSON and JUnit renderings (`report.rs`).
pub mod play {
    pub use super::report::{
        junit_xml, render_step, render_summary, Report, StepReport, StepStatus, SuiteReport,
    };
    pub use super::run::{play, Event, PlayError, PlayOptions};
}

//! `alipay-sim envelope`: what the front end receives for one scenario, with keys and oracle.

use std::io::Write;

use anyhow::Result;

use alipay_sim::model::{FrontEnd, Mobile};
use alipay_sim::{catalogue, AppKeys};

use super::parse_seed;

#[derive(clap::Args)]
pub struct EnvelopeArgs {
    /// Scenario name, as `alipay-sim scenarios` lists it.
    #[arg(long)]
    scenario: String,
    /// Seed of the app's keys; the same seed gives the same output.
    #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
    seed: u64,
    /// Bound mobile instead of the scenario's: 11 mainland digits, `国家码-号码`, or "".
    #[arg(long)]
    mobile: Option<Mobile>,
    /// Add `page_event`: what the page's handler gets on this front end (button: the 2.8.0+
    /// onGetPhoneNumber's split envelope; uni-app; taro).
    #[arg(long, value_parser = parse_front_end)]
    front_end: Option<FrontEnd>,
}

fn parse_front_end(text: &str) -> Result<FrontEnd, String> {
    use strum::IntoEnumIterator;
    FrontEnd::iter()
        .find(|f| f.to_string() == text)
        .ok_or_else(|| {
            let names: Vec<String> = FrontEnd::iter().map(|f| f.to_string()).collect();
            format!("unknown front end {text:?}; one of {}", names.join(", "))
        })
}

pub fn run(args: EnvelopeArgs, out: &mut impl Write) -> Result<()> {
    let EnvelopeArgs {
        scenario,
        seed,
        mobile,
        front_end,
    } = args;

    let scenario = catalogue().get(&scenario)?;
    let keys = AppKeys::for_seed(seed)?;
    let mut fixture = scenario.run(&keys, mobile.as_ref())?;
    if let Some(front_end) = front_end {
        let base_library = scenario.user.base_library_version.clone();
        fixture.delivery = fixture.delivery.with_front_end(front_end, &base_library);
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&fixture)?)?;
    Ok(())
}

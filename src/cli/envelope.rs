//! `alipay-sim envelope`: what the front end receives for one scenario, with keys and oracle.

use std::io::Write;

use anyhow::Result;

use alipay_sim::model::Mobile;
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
}

pub fn run(args: EnvelopeArgs, out: &mut impl Write) -> Result<()> {
    let EnvelopeArgs {
        scenario,
        seed,
        mobile,
    } = args;

    let scenario = catalogue().get(&scenario)?;
    let keys = AppKeys::for_seed(seed)?;
    let fixture = scenario.run(&keys, mobile.as_ref())?;
    writeln!(out, "{}", serde_json::to_string_pretty(&fixture)?)?;
    Ok(())
}

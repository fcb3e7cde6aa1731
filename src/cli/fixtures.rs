//! `alipay-sim fixtures`: every scenario as a file, with an index and the keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use alipay_sim::oracle::BusinessResult;
use alipay_sim::{catalogue, AppKeys};

use super::parse_seed;

#[derive(clap::Args)]
pub struct FixturesArgs {
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the app's keys (those of `alipay-sim keys --seed N`).
    #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
    seed: u64,
}

pub fn run(args: FixturesArgs, out: &mut impl Write) -> Result<()> {
    let FixturesArgs { out: dir, seed } = args;

    let written = write_fixtures(&dir, seed)?;
    writeln!(
        out,
        "wrote {written} scenario fixtures, index.json and keys.json to {}",
        dir.display()
    )?;
    Ok(())
}

fn write_fixtures(dir: &Path, seed: u64) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keys = AppKeys::for_seed(seed)?;
    let write = |name: &str, value: &serde_json::Value| -> Result<()> {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    let mut index = Vec::new();
    for scenario in catalogue().iter() {
        let fixture = scenario
            .run(&keys, None)
            .with_context(|| format!("scenario {}", scenario.name))?;
        let file = format!("{}.json", scenario.name);
        index.push(json!({
            "name": scenario.name,
            "title": scenario.title,
            "verdict": fixture.delivery.expect.verdict,
            "business_result": fixture.delivery.expect.plaintext.as_ref().and_then(BusinessResult::of),
            "rule": fixture.delivery.expect.cause,
            "callback": fixture.delivery.callback,
            "file": file,
        }));
        write(&file, &serde_json::to_value(&fixture)?)?;
    }
    write("index.json", &serde_json::Value::Array(index.clone()))?;
    write("keys.json", &serde_json::to_value(keys.published())?)?;
    Ok(index.len())
}

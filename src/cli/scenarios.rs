//! `alipay-sim scenarios`: the catalogue, as text or JSON.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use alipay_sim::catalogue;

#[derive(clap::Args)]
pub struct ScenariosArgs {
    /// Print a JSON array of {name, title, verdict, business_result, rule} instead of one
    /// line each.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScenariosArgs, out: &mut impl Write) -> Result<()> {
    let json = args.json;

    let catalogue = catalogue();
    if json {
        let list: Vec<_> = catalogue
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "title": s.title,
                    "verdict": s.expect.verdict,
                    "business_result": s.business_result(),
                    "rule": s.expect.cause,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
    } else {
        let width = catalogue.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let summaries: Vec<String> = catalogue.iter().map(|s| s.verdict_summary()).collect();
        let summary_width = summaries
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0);
        for (s, summary) in catalogue.iter().zip(&summaries) {
            writeln!(
                out,
                "{:width$}  {summary:summary_width$}  {}",
                s.name, s.title
            )?;
        }
    }
    Ok(())
}

//! `alipay-sim keys`: an app's keys for a seed, to configure a backend with.

use std::io::Write;

use anyhow::Result;

use alipay_sim::AppKeys;

use super::parse_seed;

#[derive(clap::Args)]
pub struct KeysArgs {
    /// Seed of the app's keys; the same seed gives the same keys.
    #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
    seed: u64,
    /// Print JSON instead of labelled text.
    #[arg(long)]
    json: bool,
    /// `wechat`: the WeChat app's appid and secret for the seed (what `play` serves WeChat
    /// suites with), instead of the Alipay keys.
    #[arg(long, value_parser = ["alipay", "wechat"], default_value = "alipay")]
    platform: String,
    /// Also the app's own key pair (应用公钥), which signs its gateway requests: what a
    /// backend that logs users in configures its SDK with (`privateKey`). Takes a key
    /// generation.
    #[arg(long)]
    login: bool,
}

pub fn run(args: KeysArgs, out: &mut impl Write) -> Result<()> {
    let KeysArgs {
        seed,
        json,
        platform,
        login,
    } = args;
    if platform == "wechat" {
        let keys = alipay_sim::wechat::keys::WechatKeys::for_seed(seed);
        if json {
            let published = serde_json::json!({"appid": keys.appid, "secret": keys.secret, "openid": keys.openid()});
            writeln!(out, "{}", serde_json::to_string_pretty(&published)?)?;
        } else {
            writeln!(out, "# A throwaway WeChat app for seed {seed}. Never use real credentials with alipay-sim.")?;
            writeln!(out, "appid: {}", keys.appid)?;
            writeln!(out, "secret: {}", keys.secret)?;
            writeln!(out, "openid (its user): {}", keys.openid())?;
        }
        return Ok(());
    }

    let app_keys = AppKeys::for_seed(seed)?;
    let keys = app_keys.published();
    let app_key = if login {
        Some(app_keys.app_key()?)
    } else {
        None
    };
    if json {
        let mut published = serde_json::to_value(&keys)?;
        if let Some(key) = app_key {
            published["app_public_key"] = key.public_key().to_base64().into();
            published["app_private_key_pkcs1_pem"] = key.to_pkcs1_pem().into();
            published["app_private_key_pkcs8_pem"] = key.to_pkcs8_pem().into();
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&published)?)?;
    } else {
        writeln!(
            out,
            "# Throwaway keys for seed {seed}. Never use real keys with alipay-sim."
        )?;
        writeln!(out, "app_id: {}", keys.app_id)?;
        writeln!(
            out,
            "alipay_public_key (one line, as the console shows it):\n{}\n",
            keys.alipay_public_key
        )?;
        writeln!(
            out,
            "alipay_public_key (PEM):\n{}",
            keys.alipay_public_key_pem
        )?;
        writeln!(
            out,
            "alipay_private_key (PKCS#8 PEM; the simulator signs with it):\n{}",
            keys.alipay_private_key_pkcs8_pem
        )?;
        writeln!(
            out,
            "alipay_private_key (PKCS#1 PEM, the same key, for SDKs that want this form):\n{}",
            keys.alipay_private_key_pkcs1_pem
        )?;
        writeln!(out, "aes_key (base64): {}", keys.aes_key)?;
        if let Some(key) = app_key {
            writeln!(
                out,
                "\napp_public_key (应用公钥, the gateway verifies requests with it):\n{}\n",
                key.public_key().to_base64()
            )?;
            writeln!(
                out,
                "app_private_key (PKCS#1 PEM, the Node and Python SDKs' privateKey):\n{}",
                key.to_pkcs1_pem()
            )?;
            writeln!(
                out,
                "app_private_key (PKCS#8 PEM, the Java SDK's):\n{}",
                key.to_pkcs8_pem()
            )?;
        }
    }
    Ok(())
}

//! Every WeChat value that identifies or authenticates, derived from a seed: the same seed gives
//! the same appid, secret, openid, session keys, codes and tokens on every machine, so a backend
//! configured once keeps working and golden files stay stable.

use base64::Engine;
use rand::Rng;
use rand_chacha::rand_core::RngCore;

use crate::seed::seeded_rng;

const HEX: &[u8] = b"0123456789abcdef";
/// The characters of openids, codes and tokens as WeChat's look (letters, digits, `-`, `_`).
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn draw(seed: u64, purpose: &str, alphabet: &[u8], len: usize) -> String {
    let mut rng = seeded_rng(seed, purpose);
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A WeChat mini program's credentials, from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatKeys {
    pub seed: u64,
    /// `wx` and 16 lowercase hex digits, as the console shows it.
    pub appid: String,
    /// 32 lowercase hex digits (AppSecret).
    pub secret: String,
}

impl WechatKeys {
    pub fn for_seed(seed: u64) -> WechatKeys {
        WechatKeys {
            seed,
            appid: format!("wx{}", draw(seed, "wechat/appid", HEX, 16)),
            secret: draw(seed, "wechat/secret", HEX, 32),
        }
    }

    /// The user's openid in this app: `o` and 27 more characters, 28 in all, as real ones.
    pub fn openid(&self) -> String {
        format!("o{}", draw(self.seed, "wechat/openid", TOKEN_CHARS, 27))
    }

    /// The user's unionid (only sent when the app is bound to an Open Platform account).
    pub fn unionid(&self) -> String {
        format!("o{}", draw(self.seed, "wechat/unionid", TOKEN_CHARS, 27))
    }

    /// The `generation`th session key of the user: base64 of 16 bytes (24 characters, `==`).
    pub fn session_key(&self, generation: u64) -> String {
        let mut bytes = [0u8; 16];
        seeded_rng(self.seed, &format!("wechat/session-key/{generation}")).fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The `n`th code of a kind (`login`, `phone`): 32 characters, as `wx.login`'s.
    pub fn code(&self, kind: &str, n: u64) -> String {
        draw(self.seed, &format!("wechat/code/{kind}/{n}"), ALNUM, 32)
    }

    /// The `n`th access token of a kind (`token`, `stable`): 136 characters.
    pub fn access_token(&self, kind: &str, n: u64) -> String {
        let body = draw(
            self.seed,
            &format!("wechat/token/{kind}/{n}"),
            TOKEN_CHARS,
            133,
        );
        format!("{:02}_{body}", 80 + n % 20)
    }

    /// The IV of the `n`th legacy payload, base64.
    pub fn iv(&self, n: u64) -> String {
        let mut bytes = [0u8; 16];
        seeded_rng(self.seed, &format!("wechat/iv/{n}")).fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The random parts of the `n`th error's `rid` and `hint`.
    pub fn error_nonce(&self, n: u64) -> (u32, u32, String) {
        let mut rng = seeded_rng(self.seed, &format!("wechat/rid/{n}"));
        let hint = (0..16)
            .map(|_| TOKEN_CHARS[rng.gen_range(0..TOKEN_CHARS.len())] as char)
            .collect();
        (rng.next_u32(), rng.next_u32(), hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_seed_and_look_like_wechats() {
        let keys = WechatKeys::for_seed(7);
        assert_eq!(keys, WechatKeys::for_seed(7));
        assert_ne!(keys.appid, WechatKeys::for_seed(8).appid);
        assert!(keys.appid.starts_with("wx") && keys.appid.len() == 18);
        assert_eq!(keys.secret.len(), 32);
        assert_eq!(keys.openid().len(), 28);
        let key = keys.session_key(0);
        assert!(key.len() == 24 && key.ends_with("=="));
        assert_ne!(key, keys.session_key(1));
        assert_ne!(keys.code("login", 0), keys.code("phone", 0));
        assert_eq!(keys.access_token("token", 3).len(), 136);
    }
}

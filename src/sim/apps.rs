//! The apps of a state: a closed set of platforms, so that a new platform is a new variant of
//! [`App`] and every `match` over apps names what is left to do for it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sim::alipay::{AlipayApp, AppView};
use crate::sim::error::StateError;
use crate::sim::store::{StoredAlipayApp, StoredApp};
use crate::sim::wechat::WechatApp;

/// A running app of one platform. A clone shares its keys, counter and cache.
#[derive(Clone)]
pub(crate) enum App {
    Alipay(AlipayApp),
    Wechat(WechatApp),
}

impl App {
    pub(crate) fn app_id(&self) -> &str {
        match self {
            App::Alipay(app) => &app.stored.app_id,
            App::Wechat(app) => &app.stored.app_id,
        }
    }

    /// The Alipay app as the API shows it; `None` for another platform's.
    pub(crate) fn alipay_view(&self) -> Option<AppView> {
        match self {
            App::Alipay(app) => Some(app.view()),
            App::Wechat(_) => None,
        }
    }

    /// The app as the state file keeps it.
    pub(crate) fn stored(&self) -> StoredApp {
        match self {
            App::Alipay(app) => StoredApp::Alipay(app.stored.clone()),
            App::Wechat(app) => StoredApp::Wechat(app.stored.clone()),
        }
    }

    pub(crate) fn platform(&self) -> &'static str {
        match self {
            App::Alipay(_) => "alipay",
            App::Wechat(_) => "wechat",
        }
    }

    fn wrong_platform(&self, wanted: &'static str) -> StateError {
        StateError::WrongPlatform {
            app_id: self.app_id().to_string(),
            platform: self.platform(),
            wanted,
        }
    }

    /// The Alipay app, for the Alipay flows.
    pub(crate) fn alipay(&self) -> Result<&AlipayApp, StateError> {
        match self {
            App::Alipay(app) => Ok(app),
            App::Wechat(_) => Err(self.wrong_platform("alipay")),
        }
    }

    pub(crate) fn alipay_mut(&mut self) -> Result<&mut AlipayApp, StateError> {
        match self {
            App::Alipay(app) => Ok(app),
            App::Wechat(_) => Err(self.wrong_platform("alipay")),
        }
    }

    /// The WeChat app, for the WeChat flows.
    pub(crate) fn wechat(&self) -> Result<&WechatApp, StateError> {
        match self {
            App::Wechat(app) => Ok(app),
            App::Alipay(_) => Err(self.wrong_platform("wechat")),
        }
    }

    pub(crate) fn wechat_mut(&mut self) -> Result<&mut WechatApp, StateError> {
        match self {
            App::Wechat(app) => Ok(app),
            App::Alipay(_) => Err(self.wrong_platform("wechat")),
        }
    }
}

/// The apps of a state file, checked as the API checks them. The message names the entry.
pub(crate) fn load_apps(
    stored: Vec<StoredApp>,
    apps_created: u64,
) -> Result<BTreeMap<String, App>, String> {
    if stored.is_empty() {
        return Err(
            "apps is empty, and a state always has an app: delete the file to start afresh".into(),
        );
    }
    if apps_created < stored.len() as u64 {
        return Err(format!(
            "apps_created is {apps_created}, fewer than the {} apps listed",
            stored.len()
        ));
    }
    let mut apps = BTreeMap::new();
    for (n, app) in stored.into_iter().enumerate() {
        let entry = format!("apps[{n}] (app_id {:?})", app.app_id());
        if apps.contains_key(app.app_id()) {
            return Err(format!("{entry}: this app id appears twice"));
        }
        let app = match app {
            StoredApp::Alipay(app) => {
                App::Alipay(load_alipay_app(app).map_err(|problem| format!("{entry}: {problem}"))?)
            }
            StoredApp::Wechat(app) => App::Wechat(
                WechatApp::from_stored(app).map_err(|problem| format!("{entry}: {problem}"))?,
            ),
        };
        apps.insert(app.app_id().to_string(), app);
    }
    Ok(apps)
}

fn load_alipay_app(app: StoredAlipayApp) -> Result<AlipayApp, String> {
    validate_app_id(&app.app_id).map_err(|e| e.to_string())?;
    app.config.validate().map_err(|e| e.to_string())?;
    time::OffsetDateTime::parse(
        &app.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| {
        format!(
            "created_at {:?} is not an RFC 3339 time: {e}",
            app.created_at
        )
    })?;
    if let Some(backend) = &app.backend {
        crate::sim::store::check_url(&backend.url).map_err(|e| format!("backend.url: {e}"))?;
    }
    AlipayApp::from_stored(app).map_err(|e| e.to_string())
}

pub(crate) fn validate_app_id(app_id: &str) -> Result<(), StateError> {
    let ok = (1..=64).contains(&app_id.len())
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StateError::Invalid {
            field: "app_id".into(),
            message: format!("{app_id:?} must be 1 to 64 letters, digits, '-' or '_'"),
        })
    }
}

/// JSON merge patch (RFC 7386): objects merge recursively, anything else replaces. Unlike the
/// RFC, `null` is kept rather than removing the key, so it clears optional settings (`isv`,
/// `fault`) and is refused, by name, for required ones.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if value.is_object() && existing.is_object() => {
                        merge_patch(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": 3});
        merge_patch(&mut target, &json!({"a": {"b": 9}, "d": null}));
        assert_eq!(target, json!({"a": {"b": 9, "c": 2}, "d": null}));
    }
}

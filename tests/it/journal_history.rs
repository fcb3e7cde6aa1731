//! The durable journal: every call the simulator answered is in SQLite in the data directory
//! before its answer leaves, so a SIGKILL loses none; after a restart it is queried by app,
//! time range, verdict and flow, exported as JSON Lines, and bounded by its retention.

use serde_json::{json, Value};

use crate::common::Server;

fn history(server: &Server, query: &str) -> Vec<Value> {
    let answer = server
        .http
        .get(format!("{}/api/v1/journal/history?{query}", server.url))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200, "{query}");
    answer.json().unwrap()
}

#[test]
fn after_a_sigkill_and_a_restart_the_journal_holds_every_answered_call() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut server = Server::start(&["serve", "--data-dir", data, "--seed", "4"]);
    let app = server
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("app "))
        .unwrap()
        .to_string();
    let api = format!("{}/api/v1/apps/{app}", server.url);
    let mut answered = Vec::new();
    for scenario in [
        "success",
        "flip-signature-byte",
        "user-refused",
        "success",
        "missing-sign",
    ] {
        let answer: Value = server
            .http
            .post(format!("{api}/getPhoneNumber"))
            .header("x-alipay-sim-scenario", scenario)
            .json(&json!({}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        answered.push(answer);
    }
    for _ in 0..3 {
        let code = server
            .http
            .post(format!("{api}/my.getAuthCode"))
            .json(&json!({}))
            .send()
            .unwrap();
        assert_eq!(code.status(), 200);
    }
    // The gateway's refusal of an unsigned request is a journaled call too.
    let gateway = server
        .http
        .post(format!("{}/gateway.do", server.url))
        .form(&[
            ("app_id", app.as_str()),
            ("method", "alipay.system.oauth.token"),
        ])
        .send()
        .unwrap();
    assert_eq!(gateway.status(), 200);
    // What the live journals showed, to be found again after the restart.
    let live_text = |path: &str| {
        server
            .http
            .get(format!("{}{path}", server.url))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let live_phone = live_text("/api/v1/journal?limit=100");
    let live_login = live_text("/api/v1/alipay/login-journal?limit=100");
    // No pause: killed the moment the last answer is in.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/journal.sqlite"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the journal is private to its owner");
    }
    let server = Server::start(&["serve", "--data-dir", data, "--seed", "4"]);
    let all = history(&server, "limit=1000");
    assert_eq!(all.len(), 9, "{all:#?}");
    let phone = history(&server, "flow=alipay-phone");
    assert_eq!(phone.len(), 5);
    assert_eq!(history(&server, "flow=alipay-login").len(), 4);
    assert_eq!(
        history(&server, "flow=alipay-phone&verdict=accept").len(),
        2
    );
    assert_eq!(history(&server, &format!("app_id={app}")).len(), 9);
    assert!(history(&server, "app_id=nobody").is_empty());
    assert_eq!(
        history(&server, &format!("since={}", started.replace('+', "%2B"))).len(),
        9
    );
    assert!(history(&server, "until=2020-01-01T00:00:00Z").is_empty());
    assert_eq!(history(&server, "limit=2").len(), 2);
    // Newest first, and each phone entry as the live journal showed it.
    assert_eq!(phone[0]["scenario"], "missing-sign");
    assert_eq!(phone[4]["scenario"], "success");
    assert_eq!(phone[4]["payload"], answered[0]["payload"]);
    // Each entry as the live journal showed it, field for field and in the same order.
    let text_of = |entries: &[Value]| serde_json::to_string(entries).unwrap();
    assert_eq!(text_of(&phone), live_phone);
    let login = history(&server, "flow=alipay-login");
    let live_login: Vec<Value> = serde_json::from_str(&live_login).unwrap();
    assert_eq!(login.len(), live_login.len());
    for (kept, shown) in login.iter().zip(&live_login) {
        let shown = shown.as_object().unwrap();
        let kept = kept.as_object().unwrap();
        assert_eq!(
            kept.keys().take(2).collect::<Vec<_>>(),
            ["id", "time"],
            "{kept:?}"
        );
        for (field, value) in shown {
            assert_eq!(&kept[field], value, "{field}");
        }
    }

    // JSON Lines, oldest first.
    let export = server
        .http
        .get(format!("{}/api/v1/journal/export", server.url))
        .send()
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 9);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // New calls go on from the ids already kept.
    server
        .http
        .post(format!("{}/api/v1/apps/{app}/my.getAuthCode", server.url))
        .json(&json!({}))
        .send()
        .unwrap();
    let newest = history(&server, "limit=1");
    assert!(newest[0]["id"].as_u64().unwrap() > *ids.last().unwrap());
    // Bad filters are named.
    for (query, named) in [
        ("since=yesterday", "since"),
        ("flow=sms", "flow"),
        ("colour=red", "colour"),
    ] {
        let answer = server
            .http
            .get(format!("{}/api/v1/journal/history?{query}", server.url))
            .send()
            .unwrap();
        assert!(answer.status().is_client_error(), "{query}");
        assert!(answer.text().unwrap().contains(named), "{query}");
    }
}

#[test]
fn the_durable_journal_keeps_at_most_its_retention() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--journal-retention",
        "3",
    ]);
    let app = server
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("app "))
        .unwrap()
        .to_string();
    for _ in 0..7 {
        server
            .http
            .post(format!("{}/api/v1/apps/{app}/my.getAuthCode", server.url))
            .json(&json!({}))
            .send()
            .unwrap();
    }
    let kept = history(&server, "limit=100");
    assert_eq!(kept.len(), 3, "{kept:#?}");
    // With --ephemeral it is the live journal, filtered alike.
    let ephemeral = Server::ephemeral();
    let app = ephemeral
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("app "))
        .unwrap()
        .to_string();
    ephemeral
        .http
        .post(format!(
            "{}/api/v1/apps/{app}/my.getAuthCode",
            ephemeral.url
        ))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(history(&ephemeral, "flow=alipay-login").len(), 1);
    assert!(history(&ephemeral, "flow=wechat").is_empty());
}

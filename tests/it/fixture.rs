//! The in-process `Simulator` fixture, as a Rust test suite uses it.

use std::net::TcpStream;
use std::time::Duration;

use alipay_sim::state::PhoneNumberRequest;
use alipay_sim::{AppKeys, Simulator, Verdict};
use serde_json::json;

#[tokio::test]
async fn starts_from_an_async_test_and_serves_http() {
    let sim = Simulator::start().await;
    let app = sim.create_app();
    let url = format!("{}/api/v1/apps/{}/getPhoneNumber", sim.uri(), app.app_id());
    let response: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&json!({"mobile": "13811112222"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["expect"]["verdict"], "accept");
    assert_eq!(response["expect"]["plaintext"]["mobile"], "13811112222");
    assert_eq!(response["alipay_public_key"], app.alipay_public_key());
    assert_eq!(sim.journal().len(), 1, "HTTP calls reach the same state");
}

#[test]
fn starts_from_a_plain_test_with_a_seed() {
    let sim = Simulator::builder().seed(21).start_blocking();
    let keys = AppKeys::for_seed(21).unwrap().published();
    let first = sim.first_app();
    assert_eq!(first.alipay_public_key(), keys.alipay_public_key);
    assert_eq!(first.aes_key(), keys.aes_key);
    assert_eq!(first.app_id(), keys.app_id);

    first.apply_scenario("no-user-consent").unwrap();
    let result = first
        .get_phone_number(PhoneNumberRequest::default())
        .unwrap();
    assert_eq!(result.delivery.expect.plaintext.unwrap()["code"], "40003");
    let err = first.apply_scenario("nope").unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn apps_are_isolated_from_each_other() {
    let sim = Simulator::start_blocking();
    let a = sim.create_app();
    let b = sim.create_app();
    assert_ne!(a.app_id(), b.app_id());
    assert_ne!(a.alipay_public_key(), b.alipay_public_key());
    a.patch(json!({"console": {"phone_number_package": false}}))
        .unwrap();
    a.get_phone_number(Default::default()).unwrap();
    let from_b = b.get_phone_number(Default::default()).unwrap();
    assert_eq!(from_b.delivery.expect.verdict, Verdict::Accept);
    assert_eq!(from_b.delivery.expect.cause, "success");
    assert_eq!(a.journal().len(), 1);
    assert_eq!(b.journal().len(), 1);
}

#[test]
fn dropping_the_simulator_stops_the_server() {
    let sim = Simulator::start_blocking();
    let address = sim.address();
    TcpStream::connect_timeout(&address, Duration::from_secs(2)).expect("the server listens");
    drop(sim);
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err(),
        "still listening after drop"
    );
}

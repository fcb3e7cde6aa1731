//! The README example "In a Rust test", word for word (tests/readme.rs checks that they match).

use alipay_sim::{Simulator, Verdict};

#[tokio::test]
async fn my_backend_rejects_a_tampered_envelope() {
    // Simulator::start_blocking() in a plain #[test]
    let sim = Simulator::start().await;
    // An app of this test's own: configure the backend under test with
    // app.app_id(), app.alipay_public_key() and app.aes_key().
    let app = sim.create_app();

    app.apply_scenario("flip-signature-byte").unwrap();
    let result = app.get_phone_number(Default::default()).unwrap();
    let envelope = result.delivery.envelope().unwrap();
    assert!(envelope.starts_with(r#"{"response":""#));
    // Post `envelope` to the backend; the oracle says what it must conclude:
    assert_eq!(result.delivery.expect.verdict, Verdict::RejectSignature);
    // A front end in another process can use the same server at sim.uri().
}

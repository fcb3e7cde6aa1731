//! The README example "The library", word for word (tests/readme.rs checks that they match).

use alipay_sim::{catalogue, get_phone_number, AppKeys, Call, Verdict};

#[test]
fn envelopes_without_a_server() -> Result<(), alipay_sim::Error> {
    let keys = AppKeys::for_seed(7)?; // the keys of `alipay-sim keys --seed 7`
    let fixture = catalogue().get("no-user-consent")?.run(&keys, None)?;
    let envelope = fixture.delivery.envelope().unwrap(); // what res.response holds
    assert!(envelope.starts_with(r#"{"response":""#));
    assert_eq!(fixture.delivery.expect.verdict, Verdict::Accept); // authentic, code 40003

    let mut call = Call::default(); // or describe any situation yourself
    call.console.gateway = false;
    assert_eq!(
        get_phone_number(&call, &keys, 0)?.expect.verdict,
        Verdict::Unsigned
    );
    Ok(())
}

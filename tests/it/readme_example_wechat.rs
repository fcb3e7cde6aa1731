//! The README example "WeChat in a Rust test", word for word (tests/readme.rs checks that they match).

use alipay_sim::wechat::model::Tap;
use alipay_sim::{Simulator, Verdict};

#[test]
fn my_wechat_backend_logs_in_and_reads_the_number() {
    let sim = Simulator::start_blocking();
    // Configure the backend under test with these, and sim.uri() instead of
    // https://api.weixin.qq.com.
    let app = sim.create_wechat_app();
    let (appid, secret, base_url) = (app.appid(), app.secret(), sim.uri());
    assert!(appid.starts_with("wx") && secret.len() == 32 && base_url.starts_with("http://"));

    // What the page would send the backend: a wx.login code, then the tap's e.detail.
    let login_code = app.login();
    let tap = app.tap(Tap::default()).unwrap();
    let phone_code = tap.detail["code"].as_str().unwrap();
    assert_eq!(tap.detail["errMsg"], "getPhoneNumber:ok");
    assert!(tap.detail["encryptedData"].is_string());
    assert_eq!((login_code.len(), phone_code.len()), (32, 32));
    // ...post them to the backend here; for the legacy payload it must conclude this:
    assert_eq!(tap.expect.verdict, Verdict::Accept);
    assert_eq!(
        tap.expect.plaintext.unwrap()["purePhoneNumber"],
        "12066600001"
    );

    // Any catalogue scenario, e.g. data watermarked for another app: the backend must refuse.
    app.apply_scenario("watermark-other-app").unwrap();
    assert_eq!(
        app.tap(Tap::default()).unwrap().expect.verdict,
        Verdict::RejectForeign
    );

    // Expire the backend's access token without waiting two hours.
    sim.advance_clock(7200);
    // The backend's calls to jscode2session and getuserphonenumber are in the journal.
    assert!(app.journal().iter().all(|call| call.app_id == appid));
}

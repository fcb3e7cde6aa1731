//! How fast the engine makes envelopes. Compare `success_rsa2` with the single-core RSA-2048
//! sign rate of `openssl speed -seconds 5 rsa2048` on the same machine, in the same run.

use criterion::{criterion_group, criterion_main, Criterion};

use alipay_sim::model::Signing;
use alipay_sim::{get_phone_number, AppKeys, Call};

fn envelopes(c: &mut Criterion) {
    let keys = AppKeys::for_seed(0).expect("keys");

    // One complete success envelope: rules, AES-128-CBC, RSA2 (SHA-256) signature, JSON.
    let call = Call::default();
    c.bench_function("success_rsa2", |b| {
        let mut index = 0;
        b.iter(|| {
            index += 1;
            get_phone_number(&call, &keys, index).expect("envelope")
        })
    });

    // The legacy RSA (SHA-1) path goes through the pure-Rust `rsa` crate.
    let mut legacy = Call::default();
    legacy.console.signing = Signing::Rsa;
    c.bench_function("success_rsa_sha1", |b| {
        b.iter(|| get_phone_number(&legacy, &keys, 0).expect("envelope"))
    });
}

criterion_group!(benches, envelopes);
criterion_main!(benches);

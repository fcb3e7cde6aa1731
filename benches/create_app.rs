//! What creating an app costs once its keys are made (by the pool in the background, or cached
//! for its seed), through the fixture and through `POST /api/v1/apps`, beside one RSA-2048 key
//! generation (`AppKeys::generate`) measured in the same run. `benches/create_app.sh` measures
//! the whole server, with the pool filling in the background, against `openssl genpkey`.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

use alipay_sim::state::NewApp;
use alipay_sim::{AppKeys, Simulator};

fn create_app(c: &mut Criterion) {
    let sim = Simulator::builder().seed(0).start_blocking();
    // Seed 0's keys are made (built in): every app below finds its keys made, as an app does
    // when the pool made them ahead. Each app needs an id of its own.
    AppKeys::for_seed(0).expect("keys");
    let next = AtomicU64::new(0);
    let new_app = || NewApp {
        app_id: Some(format!("bench-{}", next.fetch_add(1, Ordering::Relaxed))),
        seed: Some(0),
        ..NewApp::default()
    };

    let mut group = c.benchmark_group("create_app");
    group.bench_function("fixture_keys_made", |b| {
        b.iter(|| sim.try_create_app(new_app()).expect("an app"))
    });
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1/apps", sim.uri());
    group.bench_function("http_keys_made", |b| {
        b.iter(|| {
            let NewApp { app_id, .. } = new_app();
            let response = http
                .post(&url)
                .json(&serde_json::json!({"app_id": app_id, "seed": 0}))
                .send()
                .expect("an answer");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().expect("a body")
        })
    });
    group.finish();

    // The reference: one key generation, what an app whose keys are not made ahead waits for.
    let mut group = c.benchmark_group("rsa_2048");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let mut seed = 1_000_000;
    group.bench_function("keygen", |b| {
        b.iter(|| {
            seed += 1;
            AppKeys::generate(seed).expect("keys")
        })
    });
    group.finish();
}

criterion_group!(benches, create_app);
criterion_main!(benches);

//! The OpenAPI document is generated from the handlers and the types they take and give
//! (`api::openapi_document`), and committed as `src/openapi.json`, which the server serves: a
//! change of the API shows in the document's diff. After a change on purpose, regenerate it
//! with `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it with the change.

use std::path::Path;

use alipay_sim::api;

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = api::openapi_json();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "src/openapi.json is not what the code generates (first difference at line {}: \
             committed {:?}, generated {:?}); regenerate it with \
             `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            generated.lines().nth(line).unwrap_or("<end>"),
        );
    }
    assert_eq!(
        api::OPENAPI,
        committed,
        "the binary serves the file as it was when it was built"
    );
}

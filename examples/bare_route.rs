//! The limit the request path is measured against (`benches/request_path.sh`): one axum route
//! serving a fixed body, with the simulator's runtime (cores − 1 async workers, mimalloc) and
//! none of its layers.
//! Usage: bare_route ADDR BODY_FILE

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(body_file)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bare_route ADDR BODY_FILE");
    };
    let body = bytes_of(&body_file)?;
    // The simulator's own runtime, so that only its layers differ.
    let runtime = alipay_sim::server::runtime().context("starting the async runtime")?;
    runtime.block_on(async move {
        let route = move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        };
        let app = axum::Router::new().route("/", axum::routing::get(route.clone()).post(route));
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        axum::serve(listener, app).await.context("serving")
    })
}

fn bytes_of(path: &str) -> anyhow::Result<axum::body::Bytes> {
    use anyhow::Context;
    let body = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok(body.into())
}

//! The container image: `scripts/image` builds it from the Containerfile with Debian's
//! buildah (FROM scratch: no base image is pulled), exports its root filesystem, and the test
//! starts the binary from it with chroot as the image's non-root user: it refuses to listen on
//! 0.0.0.0 without an admin token, and with one it answers, guards its API, keeps its data in
//! the /data volume, and passes its own health check.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::BIN;

const TOKEN: &str = "image-test-token-0123456789";

fn in_image(rootfs: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("/usr/sbin/chroot");
    command
        .arg("--userspec=65532:65532")
        .arg(rootfs)
        .args(args)
        .env_clear()
        .env("ALIPAY_SIM_DATA_DIR", "/data");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

#[test]
fn the_image_builds_from_scratch_and_its_binary_serves_as_a_non_root_user() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let tag = "alipay-sim-test:latest";
    let built = Command::new("bash")
        .arg(root.join("scripts/image"))
        .args(["--binary", BIN, "--tag", tag, "--export"])
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/image: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    // The image's configuration: a non-root user, the shared address, the data volume.
    let inspect = Command::new("buildah")
        .args(["--storage-driver", "vfs", "inspect", "--type", "image", tag])
        .output()
        .unwrap();
    assert!(inspect.status.success());
    let image: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let config = &image["Docker"]["config"];
    assert_eq!(config["User"], "65532:65532");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"ALIPAY_SIM_ADDR=0.0.0.0:8086"), "{env:?}");
    assert!(env.contains(&"ALIPAY_SIM_DATA_DIR=/data"), "{env:?}");
    assert!(config["Volumes"]["/data"].is_object());
    assert!(config["ExposedPorts"]["8086/tcp"].is_object());
    assert_eq!(
        config["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/alipay-sim", "healthcheck"])
    );
    assert_eq!(config["Entrypoint"], serde_json::json!(["/alipay-sim"]));
    // Nothing in it but the binary, its libraries, the user's names and the volume.
    let mut top: Vec<String> = std::fs::read_dir(&rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert!(
        top.iter()
            .all(|name| ["alipay-sim", "data", "etc", "lib", "lib64", "usr"]
                .contains(&name.as_str())),
        "{top:?}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("0.0.0.0:{port}");
    // Every interface and no token: refused, saying why.
    let refused = in_image(
        &rootfs,
        &["/alipay-sim", "serve"],
        &[("ALIPAY_SIM_ADDR", &addr)],
    )
    .output()
    .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin token"));

    let mut server = in_image(
        &rootfs,
        &["/alipay-sim", "serve"],
        &[
            ("ALIPAY_SIM_ADDR", &addr),
            ("ALIPAY_SIM_ADMIN_TOKEN", TOKEN),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while client.get(format!("{base}/healthz")).send().is_err() {
        assert!(
            started.elapsed().as_secs() < 20,
            "the image's binary did not answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/api/v1/apps"))
            .send()
            .unwrap()
            .status(),
        401
    );
    let apps = client
        .get(format!("{base}/api/v1/apps"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(apps.status(), 200);
    let health = in_image(
        &rootfs,
        &["/alipay-sim", "healthcheck"],
        &[("ALIPAY_SIM_ADDR", &addr)],
    )
    .status()
    .unwrap();
    assert!(health.success(), "the image's health check");
    let _ = server.kill();
    let _ = server.wait();
    // Its state is in the volume, owned by the image's user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let state = std::fs::metadata(rootfs.join("data/state.json")).unwrap();
        assert_eq!(state.uid(), 65532);
        assert!(rootfs.join("data/journal.sqlite").exists());
    }
    let _ = Command::new("buildah")
        .args(["--storage-driver", "vfs", "rmi", tag])
        .output();
}

//! What deploy/ hands the binary is what the binary takes: the starter
//! configurations validate (through `--config.file`, the spelling the
//! manifests and the systemd unit use), and the web-config component's
//! Secret is a valid web configuration whose basic-auth hash is the
//! password the ServiceMonitor sends. deploy/ as Kubernetes objects is
//! checked by the mixin's tests (mixin/tests/deploy.rs), which need no
//! exporter.

use serde_json::Value;

use crate::harness::{repo, run_exporter, test_ca};

/// `check-config` with `args`: whether it passed, and what it said.
fn check_config(args: &[&str]) -> (bool, String) {
    let (code, stdout, stderr) = run_exporter(&[&["check-config"], args].concat());
    (code == 0, format!("{stdout}{stderr}"))
}

#[test]
fn the_configurations_deploy_ships_are_valid() {
    for file in [
        "deploy/kubernetes/base/config.yaml",
        "deploy/kubernetes/examples/eks/config.yaml",
    ] {
        let path = repo().join(file);
        let (ok, out) = check_config(&["--config.file", path.to_str().unwrap()]);
        assert!(ok, "{file}: {out}");
        assert!(out.contains("configuration is valid"), "{file}: {out}");
    }
}

#[test]
fn the_web_config_secret_is_valid_and_opens_to_the_service_monitors_password() {
    let text = std::fs::read_to_string(
        repo().join("deploy/kubernetes/components/web-config/secrets.yaml"),
    )
    .unwrap();
    let secrets: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let secret = |name: &str| -> &Value {
        secrets
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Secret {name}"))
    };
    let web_config = secret("aws-connectivity-exporter-web-config")["stringData"]["web-config.yml"]
        .as_str()
        .unwrap();
    let credentials = &secret("aws-connectivity-exporter-scrape-credentials")["stringData"];

    // Where the pod mounts the TLS Secret, this test puts a certificate.
    let dir = tempfile::tempdir().unwrap();
    let (_, issuer) = test_ca("deploy test CA");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["aws-connectivity-exporter".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).unwrap();
    let mounted = "/etc/aws-connectivity-exporter/tls/";
    assert!(web_config.contains(mounted), "{web_config}");
    let web_file = dir.path().join("web-config.yml");
    std::fs::write(
        &web_file,
        web_config.replace(mounted, &format!("{}/", dir.path().display())),
    )
    .unwrap();
    let base = repo().join("deploy/kubernetes/base/config.yaml");
    let (ok, out) = check_config(&[
        "--config.file",
        base.to_str().unwrap(),
        "--web.config.file",
        web_file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("1 basic-auth user(s)"), "{out}");

    let parsed: Value = serde_saphyr::from_str(web_config).unwrap();
    let user = credentials["username"].as_str().unwrap();
    let hash = parsed["basic_auth_users"][user]
        .as_str()
        .unwrap_or_else(|| panic!("no basic-auth user {user}: {web_config}"));
    let password = credentials["password"].as_str().unwrap();
    assert!(
        bcrypt::verify(password, hash).unwrap(),
        "the ServiceMonitor's password does not open the web config's hash"
    );
}

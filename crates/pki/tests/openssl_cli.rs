//! What the `pki` crate produces, checked by tools Lanyard did not write: the `openssl` command
//! line (verify, pkcs12, crl, cms) and the `pkilint` RFC 5280 linters.

use chrono::{DateTime, TimeDelta, Utc};
use lanyard_pki::{
    Ca, Issue, KeySpec, PKey, PkiError, Profile, Revoked, Subject, X509, cms_sign, cms_verify,
    generate_key, parse_csr, pem_chain, pkcs12, random_password, serial_hex,
};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Pki {
    root: Ca,
    issuing: Ca,
    now: DateTime<Utc>,
    dir: tempfile::TempDir,
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("time")
}

fn new_pki() -> Pki {
    let now = now();
    let root = Ca::new_root(
        &Subject {
            common_name: "Lanyard Root CA".into(),
            organization: Some("Lanyard Test".into()),
            organizational_unit: None,
        },
        generate_key(KeySpec::EcP256).expect("key"),
        now - TimeDelta::hours(1),
        now + TimeDelta::days(3650),
    )
    .expect("root");
    let issuing = root
        .new_issuing(
            &Subject {
                common_name: "Lanyard Access Keys CA".into(),
                organization: Some("Lanyard Test".into()),
                organizational_unit: None,
            },
            generate_key(KeySpec::EcP256).expect("key"),
            now - TimeDelta::hours(1),
            now + TimeDelta::days(1825),
            Some("http://127.0.0.1:8443/crl/root.crl"),
        )
        .expect("issuing");
    Pki {
        root,
        issuing,
        now,
        dir: tempfile::tempdir().expect("dir"),
    }
}

impl Pki {
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn issue(&self, profile: Profile, key: &PKey<lanyard_pki::Public>, days: i64) -> X509 {
        self.issuing
            .issue(&Issue {
                subject: &Subject {
                    common_name: "billing-app".into(),
                    organization: Some("Acme".into()),
                    organizational_unit: Some("Application key".into()),
                },
                public_key: key,
                profile,
                not_before: self.now - TimeDelta::minutes(5),
                not_after: self.now + TimeDelta::days(days),
                crl_url: Some("http://127.0.0.1:8443/crl/access-keys.crl"),
            })
            .expect("issue")
    }

    fn chain_file(&self) -> (PathBuf, PathBuf) {
        (
            self.write("root.pem", &self.root.cert.to_pem().expect("pem")),
            self.write("issuing.pem", &self.issuing.cert.to_pem().expect("pem")),
        )
    }
}

fn public(key: &PKey<lanyard_pki::Private>) -> PKey<lanyard_pki::Public> {
    PKey::public_key_from_der(&key.public_key_to_der().expect("der")).expect("public")
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn openssl_verifies_the_chain_and_the_crl_revokes() {
    let pki = new_pki();
    let (root, issuing) = pki.chain_file();
    let good_key = generate_key(KeySpec::Rsa2048).expect("key");
    let good = pki.issue(Profile::Client, &public(&good_key), 365);
    let revoked_key = generate_key(KeySpec::EcP256).expect("key");
    let revoked = pki.issue(Profile::Client, &public(&revoked_key), 365);
    let good_pem = pki.write("good.pem", &good.to_pem().expect("pem"));
    let revoked_pem = pki.write("revoked.pem", &revoked.to_pem().expect("pem"));

    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        p(&root),
        "-untrusted",
        p(&issuing),
        p(&good_pem),
    ]);
    assert!(ok && out.contains(": OK"), "{out}");

    let crl = pki
        .issuing
        .crl(
            &[Revoked {
                serial_hex: serial_hex(&revoked).expect("serial"),
                revoked_at: pki.now,
            }],
            7,
            pki.now,
            pki.now + TimeDelta::days(7),
        )
        .expect("crl");
    let root_crl = pki
        .root
        .crl(&[], 1, pki.now, pki.now + TimeDelta::days(30))
        .expect("root crl");
    let crl_pem = pki.write("issuing.crl", &crl.to_pem().expect("pem"));
    let root_crl_pem = pki.write("root.crl", &root_crl.to_pem().expect("pem"));
    let (ok, out) = openssl(&[
        "crl",
        "-in",
        p(&crl_pem),
        "-CAfile",
        p(&issuing),
        "-noout",
        "-verify",
    ]);
    assert!(ok && out.contains("verify OK"), "{out}");
    let (ok, out) = openssl(&["crl", "-in", p(&crl_pem), "-noout", "-text"]);
    assert!(
        ok && out.contains("X509v3 CRL Number") && out.contains("7"),
        "{out}"
    );
    assert!(
        out.contains(&serial_hex(&revoked).expect("serial")),
        "{out}"
    );

    let crl_check = |cert: &Path| {
        openssl(&[
            "verify",
            "-crl_check_all",
            "-CAfile",
            p(&root),
            "-untrusted",
            p(&issuing),
            "-CRLfile",
            p(&crl_pem),
            "-CRLfile",
            p(&root_crl_pem),
            p(cert),
        ])
    };
    let (ok, out) = crl_check(&good_pem);
    assert!(ok, "an unrevoked certificate passes the CRL check: {out}");
    let (ok, out) = crl_check(&revoked_pem);
    assert!(!ok && out.contains("revoked"), "{out}");

    // Another PKI's certificate does not verify against ours.
    let other = new_pki();
    let foreign = other.issue(Profile::Client, &public(&good_key), 30);
    let foreign_pem = pki.write("foreign.pem", &foreign.to_pem().expect("pem"));
    let (ok, _) = openssl(&[
        "verify",
        "-CAfile",
        p(&root),
        "-untrusted",
        p(&issuing),
        p(&foreign_pem),
    ]);
    assert!(!ok);
}

#[test]
fn pkcs12_opens_with_the_shown_password_only() {
    let pki = new_pki();
    let key = generate_key(KeySpec::Rsa2048).expect("key");
    let cert = pki.issue(Profile::Client, &public(&key), 365);
    let password = random_password(20).expect("password");
    assert_eq!(password.len(), 20);
    let der = pkcs12(
        "billing-app",
        &key,
        &cert,
        std::slice::from_ref(&pki.issuing.cert),
        &password,
    )
    .expect("p12");
    let file = pki.write("key.p12", &der);
    let pass = format!("pass:{password}");
    let (ok, out) = openssl(&[
        "pkcs12",
        "-info",
        "-in",
        p(&file),
        "-passin",
        &pass,
        "-nokeys",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("AES-256-CBC") && out.contains("sha256"),
        "modern algorithms: {out}"
    );
    assert!(
        out.contains("CN = billing-app") || out.contains("CN=billing-app"),
        "{out}"
    );
    let (ok, _) = openssl(&[
        "pkcs12",
        "-info",
        "-in",
        p(&file),
        "-passin",
        "pass:wrong",
        "-nokeys",
    ]);
    assert!(!ok, "a wrong password is refused");
    // The PEM bundle carries the certificate, its chain and (when generated) the key.
    let pem = String::from_utf8(
        pem_chain(&cert, std::slice::from_ref(&pki.issuing.cert), Some(&key)).expect("pem"),
    )
    .expect("utf-8");
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(pem.contains("BEGIN PRIVATE KEY"));
}

#[test]
fn cms_signed_by_the_crate_verifies_with_openssl() {
    let pki = new_pki();
    let (root, _) = pki.chain_file();
    let key = generate_key(KeySpec::EcP256).expect("key");
    let signer = pki.issue(Profile::EvidenceSigner, &public(&key), 365);
    let data = b"{\"messageId\":\"42\",\"status\":\"APPROVED\"}";
    let attached = cms_sign(
        &signer,
        &key,
        std::slice::from_ref(&pki.issuing.cert),
        data,
        false,
    )
    .expect("sign");
    let detached = cms_sign(
        &signer,
        &key,
        std::slice::from_ref(&pki.issuing.cert),
        data,
        true,
    )
    .expect("sign");
    let attached_file = pki.write("attached.p7s", &attached);
    let detached_file = pki.write("detached.p7s", &detached);
    let content = pki.write("content.json", data);
    let (ok, out) = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        p(&attached_file),
        "-CAfile",
        p(&root),
    ]);
    assert!(ok && out.contains("APPROVED"), "{out}");
    let (ok, out) = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        p(&detached_file),
        "-content",
        p(&content),
        "-CAfile",
        p(&root),
        "-out",
        "/dev/null",
    ]);
    assert!(ok && out.contains("Verification successful"), "{out}");
    // And the crate's own verifier agrees, and refuses changed content.
    assert_eq!(
        cms_verify(&attached, None, std::slice::from_ref(&pki.root.cert)).expect("verify"),
        data
    );
    assert!(
        cms_verify(
            &detached,
            Some(b"{\"status\":\"DENIED\"}"),
            std::slice::from_ref(&pki.root.cert)
        )
        .is_err()
    );
    let other = new_pki();
    assert!(cms_verify(&attached, None, std::slice::from_ref(&other.root.cert)).is_err());
}

#[test]
fn a_csr_is_certified_with_its_own_key_and_bad_ones_are_refused() {
    let pki = new_pki();
    let key_file = pki.dir.path().join("own.key");
    let csr_file = pki.dir.path().join("own.csr");
    let (ok, out) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        p(&key_file),
        "-subj",
        "/CN=my own key",
        "-out",
        p(&csr_file),
    ]);
    assert!(ok, "{out}");
    let csr = parse_csr(&std::fs::read(&csr_file).expect("csr")).expect("a good CSR");
    assert_eq!(csr.common_name.as_deref(), Some("my own key"));
    let cert = pki.issue(Profile::Client, &csr.public_key, 30);
    let cert_file = pki.write("own.pem", &cert.to_pem().expect("pem"));
    // The certificate's key is the key the requester kept.
    let (_, from_cert) = openssl(&["x509", "-in", p(&cert_file), "-noout", "-pubkey"]);
    let (_, from_key) = openssl(&["pkey", "-in", p(&key_file), "-pubout"]);
    assert_eq!(from_cert, from_key);

    let weak_csr = pki.dir.path().join("weak.csr");
    let (ok, out) = openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        "/dev/null",
        "-subj",
        "/CN=weak",
        "-out",
        p(&weak_csr),
    ]);
    assert!(ok, "{out}");
    match parse_csr(&std::fs::read(&weak_csr).expect("csr")) {
        Err(PkiError::Invalid { field: "csr", rule }) => assert!(
            rule.contains("1024 bits") && rule.contains("2048"),
            "{rule}"
        ),
        other => panic!("{other:?}"),
    }
    // A flipped bit in the signature.
    let (_, _) = openssl(&[
        "req",
        "-in",
        p(&csr_file),
        "-outform",
        "DER",
        "-out",
        p(&pki.dir.path().join("own.der")),
    ]);
    let mut der = std::fs::read(pki.dir.path().join("own.der")).expect("der");
    let last = der.len() - 3;
    der[last] ^= 0x01;
    match parse_csr(&der) {
        Err(PkiError::Invalid { field: "csr", rule }) => {
            assert!(rule.contains("signature"), "{rule}")
        }
        other => panic!("{other:?}"),
    }
    for garbage in [
        &b"hello"[..],
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"  ",
    ] {
        assert!(matches!(
            parse_csr(garbage),
            Err(PkiError::Invalid { field: "csr", .. })
        ));
    }
}

#[test]
fn validity_is_explicit_and_bounded_by_the_issuer() {
    let pki = new_pki();
    let key = public(&generate_key(KeySpec::EcP256).expect("key"));
    let cert = pki.issue(Profile::Client, &key, 10);
    let (_, out) = openssl(&[
        "x509",
        "-noout",
        "-dates",
        "-in",
        p(&pki.write("c.pem", &cert.to_pem().expect("pem"))),
    ]);
    let end = (pki.now + TimeDelta::days(10))
        .format("%b %e %H:%M:%S %Y")
        .to_string();
    assert!(out.contains(&end), "{out} should end at {end}");
    let too_long = pki.issuing.issue(&Issue {
        subject: &Subject::cn("x"),
        public_key: &key,
        profile: Profile::Client,
        not_before: pki.now,
        not_after: pki.now + TimeDelta::days(20000),
        crl_url: None,
    });
    assert!(matches!(
        too_long,
        Err(PkiError::Invalid {
            field: "validity",
            ..
        })
    ));
}

/// Runs a pkilint linter; `None` when pkilint is not installed outside CI (scripts/setup --test
/// installs it; under CI its absence fails).
fn lint(tool: &str, args: &[&str], file: &Path) -> Option<String> {
    match Command::new(tool)
        .arg("lint")
        .args(args)
        .args(["-s", "ERROR"])
        .arg(file)
        .output()
    {
        Ok(out) => Some(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("{tool} is not installed: run scripts/setup --test");
            None
        }
        Err(e) => panic!("{tool} must run under CI: {e}"),
    }
}

#[test]
fn pkilint_finds_no_errors_in_certificates_and_crls() {
    let pki = new_pki();
    let rsa = generate_key(KeySpec::Rsa2048).expect("key");
    let ec = generate_key(KeySpec::EcP256).expect("key");
    let certs = [
        ("root", pki.root.cert.clone()),
        ("issuing", pki.issuing.cert.clone()),
        ("client-rsa", pki.issue(Profile::Client, &public(&rsa), 365)),
        ("client-ec", pki.issue(Profile::Client, &public(&ec), 365)),
        (
            "evidence",
            pki.issue(Profile::EvidenceSigner, &public(&ec), 365),
        ),
        (
            "server",
            pki.issue(
                Profile::TlsServer {
                    dns: vec!["lanyard.example.com".into()],
                    ips: vec!["192.0.2.10".parse().expect("ip")],
                },
                &public(&ec),
                365,
            ),
        ),
    ];
    for (name, cert) in &certs {
        let file = pki.write(&format!("{name}.pem"), &cert.to_pem().expect("pem"));
        if let Some(findings) = lint("lint_pkix_cert", &[], &file) {
            assert!(findings.trim().is_empty(), "{name}: {findings}");
        }
    }
    // The development server certificate names `localhost`, a single-label name that pkilint's
    // preferred-name-syntax check reports; that must be its only finding.
    let dev = pki.issue(
        Profile::TlsServer {
            dns: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().expect("ip")],
        },
        &public(&ec),
        365,
    );
    let file = pki.write("dev-server.pem", &dev.to_pem().expect("pem"));
    if let Some(findings) = lint("lint_pkix_cert", &[], &file) {
        let errors: Vec<&str> = findings
            .lines()
            .filter(|l| l.contains("(ERROR)") || l.contains("(FATAL)"))
            .collect();
        assert_eq!(errors.len(), 1, "{findings}");
        assert!(
            errors[0].contains("invalid_domain_name_syntax") && errors[0].contains("\"localhost\""),
            "{findings}"
        );
    }
    let revoked = Revoked {
        serial_hex: serial_hex(&certs[2].1).expect("serial"),
        revoked_at: pki.now,
    };
    for (name, crl) in [
        (
            "issuing-crl",
            pki.issuing
                .crl(&[revoked], 3, pki.now, pki.now + TimeDelta::days(7))
                .expect("crl"),
        ),
        (
            "root-crl",
            pki.root
                .crl(&[], 1, pki.now, pki.now + TimeDelta::days(30))
                .expect("crl"),
        ),
    ] {
        let file = pki.write(&format!("{name}.pem"), &crl.to_pem().expect("pem"));
        if let Some(findings) = lint("lint_crl", &["-t", "CRL", "-p", "PKIX"], &file) {
            assert!(findings.trim().is_empty(), "{name}: {findings}");
        }
    }
}

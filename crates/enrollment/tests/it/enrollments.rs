//! Enrollments on both backends: creation with the account's expiry, derived links whose secret
//! is stored only hashed, states, holders (end users and administrators), tenancy, deletion, and
//! QR codes that an independent decoder (zbarimg) reads back exactly.

use lanyard_core::id::AccountId;
use lanyard_core::{Clock, Email, FixedClock, Oid};
use lanyard_enrollment::enrollment::{self, EnrollmentState, Holder, Links};
use lanyard_enrollment::mobile_app::{self, MobileApp};
use lanyard_enrollment::{EnrollmentError, qr};
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_identity::{AccountKind, IdentityError, admin};
use lanyard_pki::MasterKey;
use lanyard_store::both_backends;
use lanyard_store::testing::TestDb;
use std::process::Command;

const DEVICE_API: &str = "https://device.lanyard.test:7403";

struct World {
    clock: FixedClock,
    master: MasterKey,
    org_a: AccountId,
    org_oid: Oid,
    a: Actor,
    b: Actor,
    alice: Oid,
}

impl World {
    fn links(&self) -> Links<'_> {
        Links {
            device_api: DEVICE_API,
            master: &self.master,
            mail_domain: "lanyard.test",
        }
    }

    /// A new enrollment of `holder`, made by organization A.
    fn enroll(
        &self,
        db: &TestDb,
        holder: Holder<'_>,
    ) -> Result<enrollment::Enrollment, EnrollmentError> {
        enrollment::create(
            &mut db.conn(),
            &self.clock,
            &self.a,
            &self.org_a,
            holder,
            self.links(),
        )
    }

    /// The sheet of enrollment `id` of `holder`, asked by organization A.
    fn sheet(&self, db: &TestDb, holder: Holder<'_>, id: &str) -> Result<Vec<u8>, EnrollmentError> {
        enrollment::sheet(
            &mut db.conn(),
            &self.clock,
            &self.a,
            &self.org_a,
            holder,
            id,
            self.links(),
        )
    }
}

fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let org = |name: &str| {
        account::create(
            &mut db.conn(),
            &clock,
            NewAccount {
                kind: AccountKind::Organization,
                name: name.into(),
                contact_email: None,
                parent: None,
            },
        )
        .expect("org")
    };
    let (a, b) = (org("Acme"), org("Globex"));
    let actor_a = Actor::api_token(a.id.clone(), "a");
    let alice = end_user::create(
        &mut db.conn(),
        &clock,
        &actor_a,
        &a.id,
        NewEndUser::parse(
            "alice",
            Some("alice@acme.example"),
            Some("Alice"),
            None,
            true,
        )
        .expect("valid"),
    )
    .expect("alice")
    .oid;
    World {
        clock,
        master: MasterKey::generate().expect("key"),
        org_a: a.id.clone(),
        org_oid: a.oid,
        a: actor_a,
        b: Actor::api_token(b.id, "b"),
        alice,
    }
}

fn enrollments_link_expire_and_stay_in_their_organization(db: &TestDb) {
    let w = world(db);
    let holder = Holder::User(&w.alice);
    let created = w.enroll(db, holder).expect("create");
    assert_eq!(created.state, EnrollmentState::Active);
    assert!(!created.sent);
    assert_eq!(created.id.len(), 16);
    let hours = lanyard_identity::organization::settings(&mut db.conn(), &w.org_a)
        .expect("settings")
        .enrollment_expiration_hours;
    assert_eq!(
        created.expires_at,
        w.clock.now() + chrono::TimeDelta::hours(hours)
    );
    let prefix = format!(
        "https://device.lanyard.test:7403/deviceConfig/{}/",
        w.org_oid
    );
    assert!(
        created.device_config_url.starts_with(&prefix),
        "{}",
        created.device_config_url
    );
    assert!(created.device_config_url.contains("?expireDate="));

    // The secret is in the URL only; the database has its hash.
    let secret = created.device_config_url[prefix.len()..]
        .split('?')
        .next()
        .expect("secret")
        .to_owned();
    use diesel::prelude::*;
    use lanyard_store::schema::enrollments as e;
    let stored: Vec<(String, String)> = e::table
        .select((e::id, e::secret_hash))
        .load(&mut db.conn())
        .expect("rows");
    assert_eq!(
        stored,
        vec![(
            created.id.clone(),
            lanyard_core::secret::hash_token(&secret)
        )]
    );

    // The list shows the same link again (derived, not stored).
    let listed = enrollment::list(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, w.links())
        .expect("list");
    assert_eq!(listed, vec![created.clone()]);

    // Another organization: NOT_FOUND with the OID, as PassBy[ME].
    match enrollment::create(&mut db.conn(), &w.clock, &w.b, &w.org_a, holder, w.links()) {
        Err(EnrollmentError::Identity(IdentityError::NotFound { .. })) => {}
        other => panic!("{other:?}"),
    }
    match enrollment::delete(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, "nope") {
        Err(EnrollmentError::NotFound(id)) => assert_eq!(id, "nope"),
        other => panic!("{other:?}"),
    }

    // Expiry.
    w.clock
        .advance(chrono::TimeDelta::hours(hours) + chrono::TimeDelta::seconds(1));
    let later = enrollment::get(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
        w.links(),
    )
    .expect("get");
    assert_eq!(later.state, EnrollmentState::Expired);

    // Administrators have enrollments too, by login e-mail.
    let boss = admin::create_first(
        &mut db.conn(),
        &w.clock,
        &w.org_a,
        &Email::parse("boss@acme.example").expect("email"),
        "Boss",
        "correct horse battery staple",
    )
    .expect("admin");
    let mine = enrollment::create(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        Holder::Administrator(&boss.email),
        w.links(),
    )
    .expect("admin enrollment");
    assert_ne!(mine.device_config_url, created.device_config_url);
    enrollment::delete(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
    )
    .expect("delete");
    assert!(
        enrollment::list(&mut db.conn(), &w.clock, &w.a, &w.org_a, holder, w.links())
            .expect("list")
            .is_empty()
    );
}

fn the_qr_code_decodes_to_exactly_the_link(db: &TestDb) {
    let w = world(db);
    let created = enrollment::create(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        Holder::User(&w.alice),
        w.links(),
    )
    .expect("create");
    let dir = tempfile::tempdir().expect("dir");
    let png = dir.path().join("qr.png");
    std::fs::write(&png, qr::png(&created.device_config_url, 6).expect("png")).expect("write");
    let svg = qr::svg(&created.device_config_url).expect("svg");
    assert!(svg.contains("<svg") && !svg.contains("<script"));
    match Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&png)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim_end(),
                created.device_config_url
            );
        }
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("zbarimg is missing: scripts/setup --test")
        }
        Err(e) => panic!("zbarimg must run under CI: {e}"),
    }
}

/// Runs a Debian tool Lanyard did not write; `None` (with a note) when it is missing outside CI.
fn tool(program: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("{program} is missing: scripts/setup --test");
            None
        }
        Err(e) => panic!("{program} must run under CI: {e}"),
    }
}

/// The text and the decoded QR code of a PDF sheet, read by poppler and zbar.
fn read_sheet(pdf: &[u8]) -> Option<(String, String)> {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("sheet.pdf");
    std::fs::write(&file, pdf).expect("write");
    let text = tool("pdftotext", &[file.as_os_str(), std::ffi::OsStr::new("-")])?;
    let page = dir.path().join("page");
    tool(
        "pdftoppm",
        &[
            "-png".as_ref(),
            "-r".as_ref(),
            "150".as_ref(),
            "-singlefile".as_ref(),
            file.as_os_str(),
            page.as_os_str(),
        ],
    )?;
    let png = dir.path().join("page.png");
    let qr = tool(
        "zbarimg",
        &["--quiet".as_ref(), "--raw".as_ref(), png.as_os_str()],
    )?;
    Some((text, qr.trim_end().to_owned()))
}

fn the_sheet_prints_the_person_and_a_qr_code_of_the_link(db: &TestDb) {
    let w = world(db);
    // A name outside Windows-1252, and a contact e-mail on the account.
    let bob = end_user::create(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        NewEndUser::parse(
            "bob.ł",
            Some("bob@acme.example"),
            Some("Łukasz Dąbrowski"),
            None,
            true,
        )
        .expect("valid"),
    )
    .expect("bob")
    .oid;
    let holder = Holder::User(&bob);
    let created = w.enroll(db, holder).expect("create");
    let pdf = w.sheet(db, holder, &created.id).expect("sheet");
    assert!(pdf.starts_with(b"%PDF-"));
    // Font subsets, not whole fonts: a sheet is a few kilobytes (DejaVu Sans alone is 757 KB).
    assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
    if let Some((text, qr)) = read_sheet(&pdf) {
        assert_eq!(qr, created.device_config_url);
        for expected in [
            "Acme",
            "Łukasz Dąbrowski",
            "User ID: bob.ł",
            "Enroll your phone",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        let expiry = created.expires_at.format("%Y-%m-%d %H:%M").to_string();
        assert!(text.contains(&expiry), "{text}");
    }

    // Another organization sees no such enrollment; a deleted one has no sheet.
    let other = enrollment::sheet(
        &mut db.conn(),
        &w.clock,
        &w.b,
        &w.org_a,
        holder,
        &created.id,
        w.links(),
    );
    assert!(other.is_err());
    enrollment::delete(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
    )
    .expect("delete");
    let gone = w.sheet(db, holder, &created.id).expect_err("deleted");
    assert!(matches!(gone, EnrollmentError::NotFound(ref id) if *id == created.id));

    // With the organization's own enrollment scheme the code carries that scheme.
    mobile_app::set(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        &MobileApp {
            enrollment_scheme: Some("acme-id".into()),
            ..MobileApp::default()
        },
    )
    .expect("scheme");
    let again = w.enroll(db, holder).expect("create");
    let pdf = w.sheet(db, holder, &again.id).expect("sheet");
    if let Some((_, qr)) = read_sheet(&pdf) {
        let expected = again
            .device_config_url
            .replacen("https://", "acme-id://", 1);
        assert_eq!(qr, expected);
    }
}

fn the_sheet_is_sent_once_committed_with_the_pdf_attached(db: &TestDb) {
    let w = world(db);
    let holder = Holder::User(&w.alice);
    let created = w.enroll(db, holder).expect("create");
    enrollment::send_sheet(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
        w.links(),
        "lanyard.test",
    )
    .expect("send");
    let mails = lanyard_mail::recent_to(&mut db.conn(), "alice@acme.example", 5).expect("mails");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.template, "enrollment_sheet");
    assert!(mail.subject.contains("Acme"), "{}", mail.subject);
    assert_eq!(mail.attachments.len(), 1);
    let file = &mail.attachments[0];
    assert_eq!(file.filename, format!("enrollment-{}.pdf", created.id));
    assert_eq!(file.content_type, "application/pdf");
    if let Some((_, qr)) = read_sheet(&file.data) {
        assert_eq!(qr, created.device_config_url);
    }
    let listed = enrollment::get(
        &mut db.conn(),
        &w.clock,
        &w.a,
        &w.org_a,
        holder,
        &created.id,
        w.links(),
    )
    .expect("get");
    assert!(listed.sent);

    // Another organization cannot send it.
    assert!(
        enrollment::send_sheet(
            &mut db.conn(),
            &w.clock,
            &w.b,
            &w.org_a,
            Holder::User(&w.alice),
            &created.id,
            w.links(),
            "lanyard.test",
        )
        .is_err()
    );
    assert_eq!(
        lanyard_mail::recent_to(&mut db.conn(), "alice@acme.example", 5)
            .expect("mails")
            .len(),
        1
    );
}

both_backends!(
    enrollments_link_expire_and_stay_in_their_organization,
    the_qr_code_decodes_to_exactly_the_link,
    the_sheet_prints_the_person_and_a_qr_code_of_the_link,
    the_sheet_is_sent_once_committed_with_the_pdf_attached,
);

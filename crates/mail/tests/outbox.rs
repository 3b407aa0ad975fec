//! The outbox on both backends: delivered exactly once through a real SMTP server that starts
//! late, across a "restart" of the sender; never twice under racing senders.

use chrono::{TimeDelta, Utc};
use lanyard_core::{Email, FixedClock};
use lanyard_mail::{
    Attachment, FileTransport, Mail, NewMail, OutboxStatus, RetryPolicy, Sender, SmtpSecurity,
    SmtpSettings, SmtpTransport, Transport, TransportError, enqueue, get,
};
use lanyard_store::testing::TestDb;
use lanyard_store::{DbConnection, both_backends, write_transaction};
use lettre::message::Mailbox;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn from() -> Mailbox {
    "Lanyard <noreply@lanyard.test>".parse().expect("mailbox")
}

fn new_mail(to: &str, subject: &str) -> NewMail {
    NewMail {
        account: None,
        template: "test".into(),
        to: Email::parse(to).expect("email"),
        subject: subject.into(),
        text: "Hello in plain text.".into(),
        html: Some("<p>Hello in <b>HTML</b>.</p>".into()),
        attachments: Vec::new(),
    }
}

/// A real SMTP server (Python's aiosmtpd) writing what it receives into a maildir.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(port: u16, maildir: &Path) -> Self {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .spawn()
            .expect("python3 with aiosmtpd (installed by scripts/setup)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start (run scripts/setup)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn smtp_sender(port: u16) -> Sender<SmtpTransport> {
    let transport = SmtpTransport::new(&SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        credentials: None,
        timeout: Duration::from_secs(5),
    })
    .expect("transport");
    Sender::new(transport, from(), RetryPolicy::default())
}

fn delivered_once_although_smtp_starts_late_and_the_sender_restarts(db: &TestDb) {
    let clock = FixedClock::new(Utc::now());
    let port = free_port();
    let id = write_transaction(&mut db.conn(), |c: &mut DbConnection| {
        enqueue(
            c,
            &clock,
            "lanyard.test",
            new_mail("alice@example.com", "Your invitation"),
        )
    })
    .expect("enqueue");

    // The SMTP server is down: the attempt fails and is scheduled for later.
    let first = smtp_sender(port);
    let report = first
        .deliver_due(&mut db.conn(), &clock, 10)
        .expect("round");
    assert_eq!((report.sent, report.retried), (0, 1));
    let pending = get(&mut db.conn(), &id).expect("get").expect("row");
    assert_eq!(pending.status, OutboxStatus::Pending);
    assert_eq!(pending.attempts, 1);
    assert!(pending.last_error.is_some());
    // Not due yet: nothing happens before the backoff has passed.
    assert_eq!(
        first
            .deliver_due(&mut db.conn(), &clock, 10)
            .expect("round")
            .retried,
        0
    );
    drop(first);

    // The service "restarts" (a new sender, new connections) and the SMTP server comes up.
    let dir = tempfile::tempdir().expect("dir");
    let maildir = dir.path().join("maildir");
    let _server = SmtpServer::start(port, &maildir);
    clock.advance(TimeDelta::seconds(11));
    let second = smtp_sender(port);
    let report = second
        .deliver_due(&mut db.conn(), &clock, 10)
        .expect("round");
    assert_eq!(report.sent, 1);
    clock.advance(TimeDelta::hours(2));
    assert_eq!(
        second
            .deliver_due(&mut db.conn(), &clock, 10)
            .expect("round")
            .sent,
        0
    );

    let sent = get(&mut db.conn(), &id).expect("get").expect("row");
    assert_eq!((sent.status, sent.attempts), (OutboxStatus::Sent, 2));
    let received: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .expect("maildir/new")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("message"))
        .collect();
    assert_eq!(received.len(), 1, "exactly one message arrived");
    let message = &received[0];
    assert!(
        message.contains(&format!("Message-ID: <{}>", sent.message_id)),
        "{message}"
    );
    assert!(message.contains("Subject: Your invitation"));
    assert!(message.contains("multipart/alternative"));
    assert!(message.contains("text/html"));
}

fn a_rolled_back_change_sends_nothing(db: &TestDb) {
    let clock = FixedClock::new(Utc::now());
    let outcome: Result<(), lanyard_mail::MailError> =
        write_transaction(&mut db.conn(), |c: &mut DbConnection| {
            enqueue(
                c,
                &clock,
                "lanyard.test",
                new_mail("bob@example.com", "Never"),
            )?;
            Err(lanyard_mail::MailError::Invalid {
                field: "x",
                rule: "the change failed".into(),
            })
        });
    assert!(outcome.is_err());
    let dir = tempfile::tempdir().expect("dir");
    let sender = Sender::new(
        FileTransport::new(dir.path()),
        from(),
        RetryPolicy::default(),
    );
    assert_eq!(
        sender
            .deliver_due(&mut db.conn(), &clock, 10)
            .expect("round")
            .sent,
        0
    );
}

/// Records what it was asked to send (the interface's own test double, for counting).
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

impl Transport for &Recording {
    fn send(&self, _: &Mailbox, mail: &Mail) -> Result<(), TransportError> {
        std::thread::sleep(Duration::from_millis(2));
        self.0.lock().expect("lock").push(mail.id.clone());
        Ok(())
    }
}

fn racing_senders_never_send_a_mail_twice(db: &TestDb) {
    let clock = FixedClock::new(Utc::now());
    for i in 0..30 {
        enqueue(
            &mut db.conn(),
            &clock,
            "lanyard.test",
            new_mail("c@example.com", &format!("m{i}")),
        )
        .expect("enqueue");
    }
    let recording = Recording::default();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let sender = Sender::new(&recording, from(), RetryPolicy::default());
                sender
                    .deliver_due(&mut db.conn(), &clock, 100)
                    .expect("round");
            });
        }
    });
    let mut sent = recording.0.into_inner().expect("lock");
    assert_eq!(sent.len(), 30);
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 30, "a mail was sent twice");
}

fn file_transport_writes_eml_files(db: &TestDb) {
    let clock = FixedClock::new(Utc::now());
    let id = enqueue(
        &mut db.conn(),
        &clock,
        "lanyard.test",
        new_mail("d@example.com", "Árvíztűrő"),
    )
    .expect("enqueue");
    let dir = tempfile::tempdir().expect("dir");
    let sender = Sender::new(
        FileTransport::new(dir.path().join("mail")),
        from(),
        RetryPolicy::default(),
    );
    assert_eq!(
        sender
            .deliver_due(&mut db.conn(), &clock, 10)
            .expect("round")
            .sent,
        1
    );
    let eml =
        std::fs::read_to_string(dir.path().join("mail").join(format!("{id}.eml"))).expect("eml");
    assert!(eml.contains("To: d@example.com"));
    assert!(
        eml.contains("Subject: =?utf-8?"),
        "non-ASCII subject is encoded: {eml}"
    );
}

/// A file attached in the outbox arrives at a real SMTP server byte for byte, as Python's own
/// e-mail parser reads it, after the text and HTML alternatives.
fn an_attachment_arrives_byte_identical(db: &TestDb) {
    let clock = FixedClock::new(Utc::now());
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let maildir = dir.path().join("maildir");
    let _server = SmtpServer::start(port, &maildir);
    // Every byte value, twice: nothing may be lost to a text encoding.
    let data: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let mut mail = new_mail("alice@example.com", "Your enrollment sheet");
    mail.attachments.push(Attachment {
        filename: "enrollment-Łódź.pdf".into(),
        content_type: "application/pdf".into(),
        data: data.clone(),
    });
    let id = write_transaction(&mut db.conn(), |c: &mut DbConnection| {
        enqueue(c, &clock, "lanyard.test", mail.clone())
    })
    .expect("enqueue");
    assert_eq!(
        get(&mut db.conn(), &id)
            .expect("get")
            .expect("row")
            .attachments,
        mail.attachments
    );
    let report = smtp_sender(port)
        .deliver_due(&mut db.conn(), &clock, 10)
        .expect("round");
    assert_eq!(report.sent, 1);

    let file = std::fs::read_dir(maildir.join("new"))
        .expect("maildir/new")
        .next()
        .expect("one message")
        .expect("entry")
        .path();
    let script = r#"
import email, email.policy, hashlib, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
parts = [(p.get_content_type(), p.get_filename()) for p in m.walk() if not p.is_multipart()]
att = [p for p in m.iter_attachments()]
print(parts)
print(att[0].get_filename(), hashlib.sha256(att[0].get_content()).hexdigest())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let digest = sha256_hex(&data);
    assert!(
        out.contains(
            "('text/plain', None), ('text/html', None), ('application/pdf', 'enrollment-Łódź.pdf')"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("enrollment-Łódź.pdf {digest}")),
        "{out}"
    );
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

both_backends!(
    an_attachment_arrives_byte_identical,
    delivered_once_although_smtp_starts_late_and_the_sender_restarts,
    a_rolled_back_change_sends_nothing,
    racing_senders_never_send_a_mail_twice,
    file_transport_writes_eml_files,
);

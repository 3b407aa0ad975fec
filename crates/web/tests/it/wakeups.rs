//! Wake-ups across processes: on PostgreSQL a message sent notifies the other processes sharing
//! the database, naming this process; a process's wake-ups wake on the others' notifications and
//! skip its own (its sends woke its channels already). On SQLite only this process wakes its own
//! channels.

use lanyard_core::SystemClock;
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::application;
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_messaging::message::{self, NewMessage, Sender};
use lanyard_store::notify;
use lanyard_store::testing::TestDb;
use lanyard_store::{Backend, both_backends};
use lanyard_web::wakeups::Wakeups;
use std::time::Duration;

fn a_message_sent_elsewhere_wakes_this_process(db: &TestDb) {
    let wakeups = Wakeups::listening(db.target());
    let clock = SystemClock;
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    let org = account::create(&mut db.conn(), &clock, NewAccount::organization("Acme"))
        .expect("org")
        .id;
    let actor = Actor::api_token(org.clone(), "t");
    let app = application::create(&mut db.conn(), &clock, &actor, &org, "Bank").expect("app");
    let user = end_user::create(
        &mut db.conn(),
        &clock,
        &actor,
        &org,
        NewEndUser::parse("ann", Some("ann@acme.example"), None, None, true).expect("valid"),
    )
    .expect("user");
    let user_id = user.id.as_str().to_owned();
    lanyard_store::testing::active_device(
        &mut db.conn(),
        "device-ann",
        org.as_str(),
        lanyard_store::testing::DeviceOwner::EndUser(&user_id),
        "OTHER",
        None,
    );
    let sender = Sender {
        account: org,
        application_id: app.id,
    };
    let mut woken = wakeups.subscribe();
    let send = || {
        let new = NewMessage::parse(
            vec!["ann".into()],
            Some("Log in?"),
            Some("b"),
            60,
            "authorization",
            None,
        )
        .expect("valid");
        message::send(&mut db.conn(), &clock, &sender, &new).expect("send")
    };
    if db.backend() == Backend::Sqlite {
        assert_eq!(wakeups.poll_interval(), Duration::from_millis(500));
        send();
        assert!(
            woken.try_recv().is_err(),
            "SQLite: nothing but this process wakes its channels"
        );
        return;
    }
    // PostgreSQL. The send notifies the other processes: a listener of this database hears
    // this process's instance and Ann's id (the listener may still be connecting when the first
    // message goes: send until it is heard; other tests on the server notify too).
    let (heard_tx, heard) = std::sync::mpsc::channel::<String>();
    let (stop_tx, stop) = std::sync::mpsc::channel::<()>();
    let target = db.target().clone();
    let raw = std::thread::spawn(move || {
        notify::listen(&target, notify::WAKEUPS, |h| {
            if let notify::Heard::Payload(p) = h {
                let _sent = heard_tx.send(p.to_owned());
            }
            stop.try_recv().is_err()
        });
    });
    let expected = format!("{} {user_id}", notify::instance());
    'sending: loop {
        send();
        while let Ok(payload) = heard.recv_timeout(Duration::from_millis(500)) {
            if payload == expected {
                break 'sending;
            }
        }
    }
    stop_tx.send(()).expect("stop");
    raw.join().expect("raw listener");

    // This process's wake-ups skip its own notifications (its sends woke its channels
    // already) and wake on another process's: sent in this order, the first of the two heard
    // is the other process's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        'notifying: loop {
            send();
            notify::notify_from(
                &mut db.conn(),
                notify::WAKEUPS,
                "another-process",
                &["marker"],
            )
            .expect("notify");
            while let Ok(woken_by) =
                tokio::time::timeout(Duration::from_millis(500), woken.recv()).await
            {
                let woken_by = woken_by.expect("a wake-up");
                assert_ne!(
                    woken_by, user_id,
                    "its own send came back through PostgreSQL"
                );
                if woken_by == "marker" {
                    break 'notifying;
                }
            }
        }
    });
    // Heard: the listener is connected, so channels poll only as a safety net.
    assert_eq!(wakeups.poll_interval(), Duration::from_secs(5));
    drop(wakeups);
}

both_backends!(a_message_sent_elsewhere_wakes_this_process);

//! Notifications between processes (PostgreSQL LISTEN/NOTIFY): what a transaction notifies is
//! heard when it commits and never when it rolls back; long id lists are split to fit; the
//! listener ends when its owner says so. On SQLite notifying does nothing and nobody listens.

use lanyard_store::notify::{self, WAKEUPS};
use lanyard_store::testing::TestDb;
use lanyard_store::{Backend, DbConnection, both_backends, write_transaction};
use std::sync::mpsc;
use std::time::Duration;

fn committed_notifications_are_heard_and_rolled_back_ones_never(db: &TestDb) {
    if db.backend() == Backend::Sqlite {
        notify::notify(&mut db.conn(), WAKEUPS, &["ann"]).expect("nothing to do");
        // Returns at once: there is nothing to listen to.
        notify::listen(db.target(), WAKEUPS, |_| {
            panic!("SQLite has no notifications")
        });
        return;
    }
    // A channel of this test's own: other tests on the same server notify `lanyard_wakeups`.
    let channel: String = lanyard_core::codes::random_base62(16)
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_digit() { 'q' } else { c })
        .collect();
    let channel = format!("lanyard_test_{channel}");
    let (heard_tx, heard) = mpsc::channel::<String>();
    let (stop_tx, stop) = mpsc::channel::<()>();
    let (target, listening) = (db.target().clone(), channel.clone());
    let listener = std::thread::spawn(move || {
        notify::listen(&target, &listening, |heard| {
            if let notify::Heard::Payload(p) = heard {
                heard_tx.send(p.to_owned()).expect("test listening");
            }
            stop.try_recv().is_err()
        });
    });
    // The listener is listening once a notification of ours comes back.
    loop {
        notify::notify(&mut db.conn(), &channel, &["ready"]).expect("notify");
        if heard.recv_timeout(Duration::from_millis(200)).is_ok() {
            break;
        }
    }
    while heard.try_recv().is_ok() {}

    let rolled_back = write_transaction(&mut db.conn(), |conn: &mut DbConnection| {
        notify::notify(conn, &channel, &["ghost"])?;
        Err::<(), _>(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled_back.is_err());
    write_transaction(&mut db.conn(), |conn: &mut DbConnection| {
        notify::notify(conn, &channel, &["ann", "bob"])
    })
    .expect("commit");
    // Notifications arrive in commit order: the first one heard is the committed one.
    assert_eq!(
        heard.recv().expect("heard"),
        format!("{} ann bob", notify::instance()),
        "this process's instance, then the ids"
    );

    // A long list is split in payloads PostgreSQL takes (at most 8000 bytes), nothing lost.
    let ids: Vec<String> = (0..600).map(|i| format!("{i:036}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    notify::notify(&mut db.conn(), &channel, &refs).expect("notify");
    let mut got = Vec::new();
    while got.len() < ids.len() {
        let payload = heard.recv().expect("heard");
        assert!(payload.len() < 8000, "{}", payload.len());
        let mut words = payload.split(' ');
        assert_eq!(words.next(), Some(notify::instance()));
        got.extend(words.map(str::to_owned));
    }
    assert_eq!(got, ids);

    stop_tx.send(()).expect("stop");
    listener.join().expect("the listener ends when told");
}

both_backends!(committed_notifications_are_heard_and_rolled_back_ones_never);

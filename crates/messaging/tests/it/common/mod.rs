//! The world the messaging tests share: an organization with an application, and end users
//! with or without an active phone.

#![allow(dead_code)]

use lanyard_core::FixedClock;
use lanyard_core::id::AccountId;
use lanyard_identity::account::{self, NewAccount};
use lanyard_identity::application;
use lanyard_identity::bootstrap::bootstrap;
use lanyard_identity::end_user::{self, NewEndUser};
use lanyard_identity::rights::Actor;
use lanyard_messaging::MessagingError;
use lanyard_messaging::message::{self, NewMessage, Sender};
use lanyard_messaging::status::RecipientStatus as S;
use lanyard_store::testing::TestDb;

pub struct World {
    pub clock: FixedClock,
    pub org: AccountId,
    pub actor: Actor,
    pub sender: Sender,
}

/// A new organization "Acme" with the application "Bank".
pub fn world(db: &TestDb) -> World {
    let clock = FixedClock::new(chrono::Utc::now());
    bootstrap(&mut db.conn(), &clock, None).expect("bootstrap");
    organization(db, clock, "Acme")
}

/// Another organization `name` with an application "Bank", on a bootstrapped database.
pub fn organization(db: &TestDb, clock: FixedClock, name: &str) -> World {
    let org = account::create(&mut db.conn(), &clock, NewAccount::organization(name))
        .expect("org")
        .id;
    let actor = Actor::api_token(org.clone(), "t");
    let app = application::create(&mut db.conn(), &clock, &actor, &org, "Bank").expect("app");
    World {
        sender: Sender {
            account: org.clone(),
            application_id: app.id,
        },
        clock,
        org,
        actor,
    }
}

impl World {
    /// An end user `alias`, with an active phone when `phone`; returns the end user's id.
    pub fn person(&self, db: &TestDb, alias: &str, phone: bool) -> String {
        let user = end_user::create(
            &mut db.conn(),
            &self.clock,
            &self.actor,
            &self.org,
            NewEndUser::parse(
                alias,
                Some(&format!("{alias}@acme.example")),
                None,
                None,
                true,
            )
            .expect("valid"),
        )
        .expect("user");
        let id = user.id.as_str().to_owned();
        if phone {
            // Messaging only reads devices: a row as enrollment writes it.
            lanyard_store::testing::active_device(
                &mut db.conn(),
                &format!("device-{alias}"),
                self.org.as_str(),
                lanyard_store::testing::DeviceOwner::EndUser(&id),
                "OTHER",
                None,
            );
        }
        id
    }

    pub fn send(
        &self,
        db: &TestDb,
        to: &[&str],
        kind: &str,
    ) -> Result<message::Message, MessagingError> {
        let new = NewMessage::parse(
            to.iter().map(|s| (*s).to_owned()).collect(),
            Some("Log in?"),
            Some("Approve the login to the bank."),
            60,
            kind,
            None,
        )
        .expect("valid");
        message::send(&mut db.conn(), &self.clock, &self.sender, &new)
    }

    pub fn statuses(&self, db: &TestDb, id: &str) -> Vec<S> {
        message::track(&mut db.conn(), &self.clock, &self.sender, id)
            .expect("track")
            .recipients
            .into_iter()
            .map(|r| r.status)
            .collect()
    }
}

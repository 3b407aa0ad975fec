//! Sending, tracking, cancelling and expiring messages. Every status change goes through the
//! state machine of [`crate::status`] as a conditional update (`… WHERE status = <source>`), so
//! concurrent changes on any number of instances never skip or undo one.

use crate::status::{Event, MessageKind, RecipientStatus, sources};
use crate::{MessagingError, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_store::schema::{aliases, devices, end_users, message_recipients, messages};
use lanyard_store::{DbConnection, write_transaction};
use std::collections::HashMap;

mod lifecycle;
mod parse;
mod send;

pub use lifecycle::*;
pub use parse::*;
pub use send::*;

/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 254;
/// Longest body, in characters.
pub const MAX_BODY: usize = 4094;
/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest availability: 30 days.
pub const MAX_AVAILABILITY: i64 = 30 * 24 * 3600;

/// Who sends: an application of an organization (its application key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The organization.
    pub account: AccountId,
    /// The application.
    pub application_id: String,
}

/// One recipient as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `userId`.
    pub user_id: String,
    /// `status`.
    pub status: RecipientStatus,
    /// The end user (to wake their phones' channels).
    pub end_user_id: Option<String>,
}

/// A message as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `messageId`.
    pub id: String,
    /// Kind.
    pub kind: MessageKind,
    /// `expirationDate`.
    pub expires_at: DateTime<Utc>,
    /// `recipients`.
    pub recipients: Vec<Recipient>,
    /// `secureId`: a short code the phone shows beside the message, so that the person can
    /// compare it with what the application shows.
    pub secure_id: Option<String>,
    /// Callback URL.
    pub callback_url: Option<String>,
}

pub(crate) fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

/// A recipient as the wire shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientData {
    /// The alias the message was sent to.
    pub user_id: String,
    /// Its status (docs/messaging.md).
    pub status: &'static str,
}

/// The message object of the PassBy[ME] messaging API (`/frontend/messages` answers) and of
/// callbacks: one representation, so the two never differ.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageData {
    /// The message id.
    pub message_id: String,
    /// When it expires.
    #[serde(serialize_with = "lanyard_core::wire::serialize_timestamp")]
    pub expiration_date: DateTime<Utc>,
    /// Its recipients.
    pub recipients: Vec<RecipientData>,
    /// The code the phone shows, when there is one.
    pub secure_id: Option<String>,
}

impl From<&Message> for MessageData {
    fn from(m: &Message) -> Self {
        Self {
            message_id: m.id.clone(),
            expiration_date: m.expires_at,
            recipients: m
                .recipients
                .iter()
                .map(|r| RecipientData {
                    user_id: r.user_id.clone(),
                    status: r.status.as_str(),
                })
                .collect(),
            secure_id: m.secure_id.clone(),
        }
    }
}

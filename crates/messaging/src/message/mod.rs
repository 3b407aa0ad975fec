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

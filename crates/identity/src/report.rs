//! The users report (`.csv`), streamed in batches.

use crate::{Result, end_user};
use lanyard_core::id::AccountId;
use lanyard_reports::{CsvChunks, ReportError};
use lanyard_store::DbConnection;

/// Users read per database round trip.
const BATCH: i64 = 1_000;

/// Columns of the users report.
pub const USERS_HEADER: [&str; 9] = [
    "oid",
    "shortOID",
    "userId",
    "aliases",
    "fullName",
    "email",
    "phoneNumber",
    "disabled",
    "created",
];

/// Errors of a streamed report: reading failed, or the destination went away.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading users failed.
    #[error(transparent)]
    Identity(#[from] crate::IdentityError),
    /// Writing failed or the destination closed.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// Writes the users report of `account` to `sink`, one chunk per batch of users; returns the
/// number of users written. Stops at the first error of `sink`.
pub fn users_csv(
    conn: &mut DbConnection,
    account: &AccountId,
    mut sink: impl FnMut(Vec<u8>) -> std::io::Result<()>,
) -> Result<u64, StreamError> {
    let mut csv = CsvChunks::with_header(USERS_HEADER)?;
    let mut after = 0;
    let mut written = 0_u64;
    loop {
        let (users, last) = end_user::batch_after(conn, account, after, BATCH)?;
        for user in &users {
            csv.row([
                user.oid.as_str(),
                user.oid.short(),
                user.primary_alias().unwrap_or_default(),
                &user.aliases.join(" "),
                user.full_name.as_deref().unwrap_or_default(),
                user.email.as_deref().unwrap_or_default(),
                user.phone_number.as_deref().unwrap_or_default(),
                if user.disabled { "true" } else { "false" },
                &lanyard_core::wire::timestamp(user.created_at),
            ])?;
        }
        written += users.len() as u64;
        sink(csv.take_chunk()?).map_err(ReportError::Sink)?;
        match last {
            Some(last) => after = last,
            None => return Ok(written),
        }
    }
}

//! The recipient state machine (SPEC §5), as one table: [`TRANSITIONS`]. `docs/messaging.md`
//! shows the same table; a test checks that the two agree.

/// What kind of message (the wire `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Asks the person to approve or deny (two-factor login, a transaction).
    Authorization,
    /// A general message the person reads.
    Message,
    /// A document or statement the person signs (approves) or refuses (denies).
    Esign,
    /// A one-time password the phone shows (console only; its body is structured, see
    /// [`crate::message::OtpBody`]). Read, not decided, like a general message.
    Otp,
    /// New settings for the mobile app (console only; its body is structured, see
    /// [`crate::message::ConfigurationBody`]). Applied by the phone, not decided.
    Configuration,
}

impl MessageKind {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::Message => "message",
            Self::Esign => "esign",
            Self::Otp => "otp",
            Self::Configuration => "configuration",
        }
    }

    /// The kinds an application may send through auth-api (the PassBy[ME] wire types); the
    /// others are sent from the console only.
    pub const WIRE: [Self; 3] = [Self::Authorization, Self::Message, Self::Esign];

    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Authorization,
        Self::Message,
        Self::Esign,
        Self::Otp,
        Self::Configuration,
    ];

    /// How the console names it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Authorization => "Authentication message",
            Self::Message => "General message",
            Self::Esign => "Esign message",
            Self::Otp => "One-time password",
            Self::Configuration => "Configuration update",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorization" => Some(Self::Authorization),
            "message" => Some(Self::Message),
            "esign" => Some(Self::Esign),
            "otp" => Some(Self::Otp),
            "configuration" => Some(Self::Configuration),
            _ => None,
        }
    }

    /// Whether the person is asked to decide (approve or deny).
    pub const fn needs_decision(self) -> bool {
        matches!(self, Self::Authorization | Self::Esign)
    }
}

/// Status of one recipient of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientStatus {
    /// Waiting to reach a phone.
    Pending,
    /// A phone of the person was told (real-time channel or push).
    Notified,
    /// A phone fetched it.
    Downloaded,
    /// The person opened it.
    Seen,
    /// Expired after download, unread (general messages).
    NotSeen,
    /// Expired before any phone was told.
    NotNotified,
    /// Expired after notification, before download.
    NotDownloaded,
    /// The person has no active phone.
    NoDevice,
    /// Delivery failed for good.
    Failed,
    /// The person is disabled.
    Disabled,
    /// The application cancelled it.
    Cancelled,
    /// The person approved.
    Approved,
    /// The person denied.
    Denied,
    /// An authorization or e-sign request expired undecided.
    Timeout,
}

impl RecipientStatus {
    /// Every status, in the order of the documentation.
    pub const ALL: [Self; 14] = [
        Self::Pending,
        Self::Notified,
        Self::Downloaded,
        Self::Seen,
        Self::NotSeen,
        Self::NotNotified,
        Self::NotDownloaded,
        Self::NoDevice,
        Self::Failed,
        Self::Disabled,
        Self::Cancelled,
        Self::Approved,
        Self::Denied,
        Self::Timeout,
    ];

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Notified => "NOTIFIED",
            Self::Downloaded => "DOWNLOADED",
            Self::Seen => "SEEN",
            Self::NotSeen => "NOT_SEEN",
            Self::NotNotified => "NOT_NOTIFIED",
            Self::NotDownloaded => "NOT_DOWNLOADED",
            Self::NoDevice => "NO_DEVICE",
            Self::Failed => "FAILED",
            Self::Disabled => "DISABLED",
            Self::Cancelled => "CANCELLED",
            Self::Approved => "APPROVED",
            Self::Denied => "DENIED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The activity log's `progress` (API §9 has four): a decision, still open (`PENDING`), or
    /// ended without one (`TIMEOUT`: expired, cancelled, failed, unreachable).
    pub const fn progress(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Denied => "DENIED",
            Self::Pending | Self::Notified | Self::Downloaded | Self::Seen => "PENDING",
            _ => "TIMEOUT",
        }
    }

    /// Whether the status can still change for a message of `kind`. `SEEN` is final for a
    /// general message and not for one that waits for a decision.
    pub fn is_final(self, kind: MessageKind) -> bool {
        match self {
            Self::Pending | Self::Notified | Self::Downloaded => false,
            Self::Seen => !kind.needs_decision(),
            _ => true,
        }
    }
}

/// What happens to a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A phone was told about the message.
    Notify,
    /// A phone fetched it (proof of delivery).
    Download,
    /// The person opened it.
    See,
    /// The person approved.
    Approve,
    /// The person denied.
    Deny,
    /// Delivery failed for good.
    Fail,
    /// The application cancelled the message.
    Cancel,
    /// The message's availability ran out.
    Expire,
}

impl Event {
    /// Every event, in the order of the documentation.
    pub const ALL: [Self; 8] = [
        Self::Notify,
        Self::Download,
        Self::See,
        Self::Approve,
        Self::Deny,
        Self::Fail,
        Self::Cancel,
        Self::Expire,
    ];

    /// Name in the documentation.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Download => "download",
            Self::See => "see",
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Fail => "fail",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
        }
    }
}

/// Which kinds of message a row of [`TRANSITIONS`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    /// Every kind.
    All,
    /// Authorization and e-sign (a decision is expected).
    Deciding,
    /// General messages, one-time passwords and configuration updates (read, not decided).
    General,
}

impl Kinds {
    fn covers(self, kind: MessageKind) -> bool {
        match self {
            Self::All => true,
            Self::Deciding => kind.needs_decision(),
            Self::General => !kind.needs_decision(),
        }
    }

    /// Name in the documentation.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Deciding => "authorization, esign",
            Self::General => "message, otp, configuration",
        }
    }
}

use Event as E;
use Kinds as K;
use RecipientStatus as S;

/// Every allowed transition: (from, event, kinds, to). Anything not listed is refused — in
/// particular nothing leaves a final status, so a late evidence cannot change a decision.
pub const TRANSITIONS: &[(RecipientStatus, Event, Kinds, RecipientStatus)] = &[
    (S::Pending, E::Notify, K::All, S::Notified),
    (S::Pending, E::Download, K::All, S::Downloaded),
    (S::Notified, E::Download, K::All, S::Downloaded),
    (S::Downloaded, E::See, K::All, S::Seen),
    (S::Downloaded, E::Approve, K::Deciding, S::Approved),
    (S::Downloaded, E::Deny, K::Deciding, S::Denied),
    (S::Seen, E::Approve, K::Deciding, S::Approved),
    (S::Seen, E::Deny, K::Deciding, S::Denied),
    (S::Pending, E::Fail, K::All, S::Failed),
    (S::Notified, E::Fail, K::All, S::Failed),
    (S::Pending, E::Cancel, K::All, S::Cancelled),
    (S::Notified, E::Cancel, K::All, S::Cancelled),
    (S::Downloaded, E::Cancel, K::All, S::Cancelled),
    (S::Seen, E::Cancel, K::Deciding, S::Cancelled),
    (S::Pending, E::Expire, K::All, S::NotNotified),
    (S::Notified, E::Expire, K::All, S::NotDownloaded),
    (S::Downloaded, E::Expire, K::General, S::NotSeen),
    (S::Downloaded, E::Expire, K::Deciding, S::Timeout),
    (S::Seen, E::Expire, K::Deciding, S::Timeout),
];

/// The status after `event` for a recipient in `from` of a `kind` message, if allowed.
pub fn transition(
    kind: MessageKind,
    from: RecipientStatus,
    event: Event,
) -> Option<RecipientStatus> {
    TRANSITIONS
        .iter()
        .find(|(f, e, k, _)| *f == from && *e == event && k.covers(kind))
        .map(|(_, _, _, to)| *to)
}

/// The statuses from which `event` moves a `kind` recipient, with where each goes (what a
/// conditional update needs).
pub fn sources(kind: MessageKind, event: Event) -> Vec<(RecipientStatus, RecipientStatus)> {
    TRANSITIONS
        .iter()
        .filter(|(_, e, k, _)| *e == event && k.covers(kind))
        .map(|(f, _, _, to)| (*f, *to))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `message::complete_if_final` counts these as open, in a fixed query.
    #[test]
    fn the_open_statuses_are_the_early_ones_and_seen_while_deciding() {
        for kind in MessageKind::ALL {
            let open: Vec<RecipientStatus> = RecipientStatus::ALL
                .into_iter()
                .filter(|s| !s.is_final(kind))
                .collect();
            let mut expected = vec![
                RecipientStatus::Pending,
                RecipientStatus::Notified,
                RecipientStatus::Downloaded,
            ];
            if kind.needs_decision() {
                expected.push(RecipientStatus::Seen);
            }
            assert_eq!(open, expected, "{kind:?}");
        }
    }

    #[test]
    fn nothing_leaves_a_final_status() {
        for kind in MessageKind::ALL {
            for from in RecipientStatus::ALL
                .into_iter()
                .filter(|s| s.is_final(kind))
            {
                for event in Event::ALL {
                    assert_eq!(transition(kind, from, event), None, "{from:?} {event:?}");
                }
            }
        }
    }

    #[test]
    fn expiry_and_cancel_end_every_open_status() {
        for kind in MessageKind::ALL {
            for from in RecipientStatus::ALL
                .into_iter()
                .filter(|s| !s.is_final(kind))
            {
                let expired = transition(kind, from, Event::Expire).expect("expires");
                assert!(expired.is_final(kind), "{from:?} → {expired:?}");
                assert_eq!(
                    transition(kind, from, Event::Cancel),
                    Some(RecipientStatus::Cancelled)
                );
            }
        }
        assert_eq!(
            transition(
                MessageKind::Authorization,
                RecipientStatus::Seen,
                Event::Expire
            ),
            Some(RecipientStatus::Timeout)
        );
        assert_eq!(
            transition(
                MessageKind::Message,
                RecipientStatus::Downloaded,
                Event::Expire
            ),
            Some(RecipientStatus::NotSeen)
        );
        assert_eq!(
            transition(
                MessageKind::Message,
                RecipientStatus::Downloaded,
                Event::Approve
            ),
            None,
            "a general message is not approved"
        );
    }

    #[test]
    fn the_documentation_shows_this_table() {
        let doc = include_str!("../../../docs/messaging.md");
        for (from, event, kinds, to) in TRANSITIONS {
            let row = format!(
                "| {} | {} | {} | {} |",
                from.as_str(),
                event.as_str(),
                kinds.as_str(),
                to.as_str()
            );
            assert!(doc.contains(&row), "docs/messaging.md lacks: {row}");
        }
        let rows = doc
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains(" | "))
            .count();
        // The transition table plus its header and separator rows, and the status table.
        assert!(rows >= TRANSITIONS.len(), "{rows}");
    }
}

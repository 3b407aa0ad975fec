//! Messages on the reference device (docs/device-protocol.md §9, docs/evidence.md): the inbox,
//! and the person's answers, each sent as a signed evidence.

use crate::state::Device;
use crate::{DeviceError, Result};
use serde::{Deserialize, Serialize};

/// A message as device-api shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxMessage {
    /// messageId.
    pub message_id: String,
    /// `authorization`, `message` or `esign`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// The code to show beside it.
    pub secure_id: Option<String>,
    /// Expiry.
    pub expiration_date: String,
    /// The person as the message names them.
    pub recipient: String,
    /// SHA-256 of what is shown.
    pub content_hash: String,
    /// The recipient's status.
    pub status: String,
    /// One line for the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// The sender's name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_identity: Option<String>,
    /// The person must type the secureId to approve.
    #[serde(default)]
    pub enforce_secure_id: bool,
    /// A document to download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// A document attached by URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The document's name.
    pub name: String,
    /// Where to download it.
    pub url: String,
    /// Until when it is there.
    pub expiration_date: String,
}

/// The server's answer to an evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceAnswer {
    /// The stored evidence.
    pub evidence_id: String,
    /// The recipient's status after it.
    pub status: String,
}

/// What the person does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Only acknowledge receipt (proof of delivery).
    Received,
    /// Opened it.
    Seen,
    /// Approve (authorization, esign).
    Approve,
    /// Deny (authorization, esign).
    Deny,
}

impl Answer {
    const fn decision(self) -> &'static str {
        match self {
            Self::Received => "DOWNLOADED",
            Self::Seen => "SEEN",
            Self::Approve => "APPROVED",
            Self::Deny => "DENIED",
        }
    }
}

fn now_iso() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso(since.as_secs() as i64, since.subsec_millis())
}

/// Seconds and milliseconds since the epoch as ISO 8601 UTC, without a date library.
fn iso(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The statement of docs/evidence.md; `typed` is the secureId the person typed (an approval of
/// a message that enforces secureId validation carries it).
fn statement(
    kind: &str,
    message: &InboxMessage,
    device_id: &str,
    decision: &str,
    typed: Option<&str>,
) -> String {
    let mut text = format!(
        "lanyard-evidence-v1\ntype: {kind}\nmessage: {}\ncontent: {}\nrecipient: {}\ndevice: {device_id}\ndecision: {decision}",
        message.message_id, message.content_hash, message.recipient,
    );
    if let Some(code) = typed {
        text.push_str("\nsecureId: ");
        text.push_str(code);
    }
    text.push_str("\ntime: ");
    text.push_str(&now_iso());
    text
}

/// One message the channel delivered, and what was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    /// The message.
    pub message: InboxMessage,
    /// The server's answer to the evidence, when one was sent.
    pub answer: Option<EvidenceAnswer>,
}

/// The `event:` and `data:` of one server-sent event block.
fn parse_event(block: &str) -> (Option<&str>, String) {
    let mut event = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(e) = line.strip_prefix("event: ") {
            event = Some(e);
        } else if let Some(d) = line.strip_prefix("data: ") {
            data.push_str(d);
        }
    }
    (event, data)
}

impl Device {
    /// Listens on the real-time channel (`GET /messages/stream`) until `count` messages arrived
    /// or the server ends it; `decide` says what the person answers to each (`None`: nothing,
    /// the message is only received).
    pub async fn listen(
        &self,
        count: usize,
        decide: impl FnMut(&InboxMessage) -> Option<Answer>,
    ) -> Result<Vec<Delivered>> {
        self.listen_typed(count, None, decide).await
    }

    /// As [`Device::listen`], typing `typed` as the secureId of messages that enforce its
    /// validation (the person who reads the application's code right).
    pub async fn listen_typed(
        &self,
        count: usize,
        typed: Option<&str>,
        mut decide: impl FnMut(&InboxMessage) -> Option<Answer>,
    ) -> Result<Vec<Delivered>> {
        use futures_util::StreamExt;
        let url = self.url("/messages/stream");
        let mut response = self
            .client()
            .get(&url)
            .insert_header(("X-App-Version", self.state().app_version.as_str()))
            .insert_header(("Accept", "text/event-stream"))
            .timeout(std::time::Duration::from_secs(24 * 3600))
            .send()
            .await
            .map_err(|e| DeviceError::Unreachable {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        if !response.status().is_success() {
            let body = response.body().await.unwrap_or_default();
            return Err(DeviceError::Protocol {
                url,
                detail: format!(
                    "HTTP {}: {}",
                    response.status(),
                    String::from_utf8_lossy(&body)
                ),
            });
        }
        let mut buffer = String::new();
        let mut delivered = Vec::new();
        while delivered.len() < count {
            let Some(chunk) = response.next().await else {
                break;
            };
            let chunk = chunk.map_err(|e| DeviceError::Unreachable {
                url: url.clone(),
                detail: e.to_string(),
            })?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                match parse_event(&block) {
                    (Some("message"), data) => {
                        let message: InboxMessage =
                            serde_json::from_str(&data).map_err(|e| DeviceError::Protocol {
                                url: url.clone(),
                                detail: format!("{e}: {data}"),
                            })?;
                        let answer = match decide(&message) {
                            Some(answer) => Some(
                                self.answer_typed(&message.message_id, answer, typed)
                                    .await?,
                            ),
                            None => None,
                        };
                        delivered.push(Delivered { message, answer });
                    }
                    (Some("end"), _) => return Ok(delivered),
                    _ => {}
                }
                if delivered.len() >= count {
                    break;
                }
            }
        }
        Ok(delivered)
    }

    /// Answers message `id` as the person would: a proof of delivery first when the phone has
    /// not acknowledged it yet, then (unless only `Received`) the signed decision. Returns the
    /// last answer of the server.
    pub async fn answer(&self, id: &str, answer: Answer) -> Result<EvidenceAnswer> {
        self.answer_typed(id, answer, None).await
    }

    /// As [`Device::answer`], with the secureId the person typed: a message that enforces
    /// secureId validation is approved (an enforced one-time password opened) only with it,
    /// and refused here without one.
    pub async fn answer_typed(
        &self,
        id: &str,
        answer: Answer,
        typed: Option<&str>,
    ) -> Result<EvidenceAnswer> {
        let message = self.message(id).await?;
        // The phone is not given an enforced secureId: the person types what the application
        // shows, and the approval (the opening of a one-time password) carries it.
        let needs_code = message.enforce_secure_id
            && (answer == Answer::Approve || (answer == Answer::Seen && message.kind == "otp"));
        let typed = match (needs_code, typed) {
            (false, _) => None,
            (true, Some(code)) => Some(code),
            (true, None) => {
                return Err(DeviceError::Input(format!(
                    "message {id} enforces secureId validation: type the code the application shows (--secure-id)"
                )));
            }
        };
        let device = self.state().device_id.clone();
        let mut last = None;
        if matches!(message.status.as_str(), "PENDING" | "NOTIFIED") {
            let proof = statement("PROOF_OF_DELIVERY", &message, &device, "DOWNLOADED", None);
            last = Some(
                self.upload_evidence(id, "PROOF_OF_DELIVERY", &proof)
                    .await?,
            );
        }
        if answer != Answer::Received {
            let signed = statement(
                "SIGNED_TRANSACTION",
                &message,
                &device,
                answer.decision(),
                typed,
            );
            last = Some(
                self.upload_evidence(id, "SIGNED_TRANSACTION", &signed)
                    .await?,
            );
        }
        last.ok_or_else(|| DeviceError::Input(format!("message {id} was received already")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil_dates() {
        assert_eq!(super::iso(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(super::iso(1_795_395_723, 999), "2026-11-23T01:02:03.999Z");
    }

    #[test]
    fn the_clock_is_written_as_iso_8601() {
        let now = super::now_iso();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        assert!(now.starts_with("20"), "{now}");
    }
}

//! What a message may be, checked at the boundary: the PassBy[ME] API's send request and
//! the console's advanced form, with their structured bodies (one-time passwords, configuration
//! updates).

use super::*;

/// A message to send, checked field by field (the wire names in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Aliases (`userId`) of the recipients, in order, without repeats.
    pub recipients: Vec<String>,
    /// Subject (`null` on the wire is empty).
    pub subject: String,
    /// Body (`null` on the wire is empty).
    pub body: String,
    /// Seconds until it expires.
    pub availability: i64,
    /// Kind.
    pub kind: MessageKind,
    /// Where status changes are POSTed.
    pub callback_url: Option<String>,
    /// What only the console's advanced messages set.
    pub extras: Extras,
}

/// A document attached by URL (seed 000 "Attach file on URL"): the phone may download it until
/// the URL expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The document's name as shown.
    pub name: String,
    /// Where it is downloaded (http or https).
    pub url: String,
    /// Until when it is there.
    pub expires_at: DateTime<Utc>,
}

/// What the console's advanced messages add (seed 000 "Advanced messages"); an application's
/// messages (auth-api) have none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// One line the phone's list shows instead of the subject's start.
    pub preview: Option<String>,
    /// A chosen secureId (authorization and OTP only); otherwise a random one.
    pub secure_id: Option<String>,
    /// The phone makes the person type the secureId before approving, and the approval's
    /// evidence carries it (authorization and OTP only).
    pub enforce_secure_id: bool,
    /// The sender's name as the phone shows it.
    pub external_identity: Option<String>,
    /// A document attached by URL.
    pub attachment: Option<Attachment>,
    /// Fetchable by id but never listed, announced or pushed (not for configuration updates).
    pub unlisted: bool,
    /// To every end user of the organization instead of `recipients` (general, authorization
    /// and esign only).
    pub all_users: bool,
    /// The administrator who sent it.
    pub sent_by: Option<String>,
}

/// The body of a one-time password message (JSON): `{"otp": "…", "description": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtpBody {
    /// The password: 4 to 16 letters or digits.
    pub otp: String,
    /// What it is for (optional, at most 254 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The body of a configuration update (JSON): the mobile app settings to apply, at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigurationBody {
    /// The URL scheme of enrollment links (`lanyard`, `my-bank`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_scheme: Option<String>,
    /// Lowest Android app version allowed (`1.4` or `1.4.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_android_version: Option<String>,
    /// Lowest iOS app version allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ios_version: Option<String>,
    /// Seconds between the phone's checks for messages when it has no push (10 to 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u32>,
}

pub(super) fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks a structured body: JSON of the kind's shape, each value within its rule. Returns the
/// body written canonically (what the phone gets and the evidence covers).
pub(super) fn structured_body(kind: MessageKind, body: &str) -> Result<String> {
    let field = "body";
    match kind {
        MessageKind::Otp => {
            let otp: OtpBody = serde_json::from_str(body).map_err(|e| {
                invalid(field, format!("a one-time password is JSON {{\"otp\": \"…\", \"description\": \"…\"}}: {e}"))
            })?;
            if !(4..=16).contains(&otp.otp.len())
                || !otp.otp.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(invalid(field, "otp must be 4 to 16 letters or digits"));
            }
            if otp
                .description
                .as_ref()
                .is_some_and(|d| d.chars().count() > MAX_SUBJECT)
            {
                return Err(invalid(
                    field,
                    format!("description: at most {MAX_SUBJECT} characters"),
                ));
            }
            Ok(serde_json::to_string(&otp).map_err(|e| invalid(field, e.to_string()))?)
        }
        MessageKind::Configuration => {
            let config: ConfigurationBody = serde_json::from_str(body).map_err(|e| {
                invalid(field, format!("a configuration update is a JSON object of enrollmentScheme, minAndroidVersion, minIosVersion, pollSeconds: {e}"))
            })?;
            if config == ConfigurationBody::default() {
                return Err(invalid(
                    field,
                    "a configuration update sets at least one setting",
                ));
            }
            if let Some(scheme) = &config.enrollment_scheme {
                let mut bytes = scheme.bytes();
                let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
                if !first_ok
                    || scheme.len() > 32
                    || !bytes.all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b)
                    })
                {
                    return Err(invalid(
                        field,
                        "enrollmentScheme: a URL scheme, a lower-case letter then letters, digits, +, . or - (at most 32)",
                    ));
                }
            }
            for (name, v) in [
                ("minAndroidVersion", &config.min_android_version),
                ("minIosVersion", &config.min_ios_version),
            ] {
                if v.as_deref().is_some_and(|v| !is_version(v)) {
                    return Err(invalid(
                        field,
                        format!("{name}: a version such as 1.4 or 1.4.2"),
                    ));
                }
            }
            if config
                .poll_seconds
                .is_some_and(|p| !(10..=86_400).contains(&p))
            {
                return Err(invalid(field, "pollSeconds: 10 to 86400"));
            }
            Ok(serde_json::to_string(&config).map_err(|e| invalid(field, e.to_string()))?)
        }
        _ => Ok(body.to_owned()),
    }
}

/// A message as the console's form gives it (seed 000 "Messaging to users", "Advanced
/// messages"): every field as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleMessage {
    /// Aliases, separated by commas, spaces or new lines.
    pub recipients: String,
    /// Every end user instead.
    pub all_users: bool,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Preview.
    pub preview: String,
    /// Availability in seconds.
    pub availability: String,
    /// Callback URL.
    pub callback_url: String,
    /// `message`, `authorization`, `esign`, `otp` or `configuration`.
    pub kind: String,
    /// Chosen secureId.
    pub secure_id: String,
    /// Enforce secureId validation.
    pub enforce_secure_id: bool,
    /// External identity.
    pub external_identity: String,
    /// Attachment's document name, URL and URL expiry (`YYYY-MM-DDTHH:MM`, UTC).
    pub attachment_name: String,
    /// See `attachment_name`.
    pub attachment_url: String,
    /// See `attachment_name`.
    pub attachment_expires: String,
    /// Unlisted.
    pub unlisted: bool,
}

pub(super) fn http_url(field: &'static str, raw: &str) -> Result<String> {
    let url = url::Url::parse(raw).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid(field, "must be an http or https URL"));
    }
    Ok(raw.to_owned())
}

pub(super) fn optional_text(field: &'static str, raw: &str, max: usize) -> Result<Option<String>> {
    let raw = raw.trim();
    if raw.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if raw.chars().any(char::is_control) {
        return Err(invalid(field, "must be one line"));
    }
    Ok((!raw.is_empty()).then(|| raw.to_owned()))
}

impl ConsoleMessage {
    /// Checks the form field by field (the form's names in errors) into a message sent by
    /// administrator `sent_by`.
    pub fn check(&self, clock: &dyn Clock, sent_by: &str) -> Result<NewMessage> {
        let kind = MessageKind::parse(self.kind.trim()).ok_or_else(|| {
            invalid(
                "type",
                "must be message, authorization, esign, otp or configuration",
            )
        })?;
        let needs_list = !self.all_users;
        if self.all_users
            && !matches!(
                kind,
                MessageKind::Message | MessageKind::Authorization | MessageKind::Esign
            )
        {
            return Err(invalid(
                "allUsers",
                "only for general, authentication and esign messages",
            ));
        }
        let recipients: Vec<String> = self
            .recipients
            .split([',', ';', '\n', '\r', ' ', '\t'])
            .filter(|a| !a.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let availability: i64 = self.availability.trim().parse().map_err(|_| {
            invalid(
                "availability",
                format!("seconds, from 1 to {MAX_AVAILABILITY}"),
            )
        })?;
        let body = structured_body(kind, &self.body)?;
        let mut message = NewMessage::checked(
            if needs_list {
                recipients
            } else {
                vec!["*".to_owned()]
            },
            &self.subject,
            &body,
            availability,
            kind,
            Some(self.callback_url.as_str()),
        )?;
        if !needs_list {
            message.recipients.clear();
        }
        let decides_code = matches!(kind, MessageKind::Authorization | MessageKind::Otp);
        let secure_id = optional_text("secureId", &self.secure_id, 16)?;
        if let Some(code) = &secure_id {
            if !decides_code {
                return Err(invalid(
                    "secureId",
                    "only for authentication and one-time password messages",
                ));
            }
            if !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid("secureId", "letters and digits only"));
            }
        }
        if self.enforce_secure_id && !decides_code {
            return Err(invalid(
                "enforceSecureId",
                "only for authentication and one-time password messages",
            ));
        }
        if self.unlisted && kind == MessageKind::Configuration {
            return Err(invalid(
                "unlisted",
                "not available for configuration updates",
            ));
        }
        let attachment = match (
            self.attachment_name.trim(),
            self.attachment_url.trim(),
            self.attachment_expires.trim(),
        ) {
            ("", "", "") => None,
            (name, url, expires) => {
                let name = optional_text("attachmentName", name, 128)?.ok_or_else(|| {
                    invalid(
                        "attachmentName",
                        "the document's name is needed with an attachment",
                    )
                })?;
                if url.is_empty() {
                    return Err(invalid(
                        "attachmentUrl",
                        "the download URL is needed with an attachment",
                    ));
                }
                let url = http_url("attachmentUrl", url)?;
                let expires_at = NaiveDateTime::parse_from_str(expires, "%Y-%m-%dT%H:%M")
                    .or_else(|_| NaiveDateTime::parse_from_str(expires, "%Y-%m-%dT%H:%M:%S"))
                    .map_err(|_| {
                        invalid(
                            "attachmentExpires",
                            "a date and time, YYYY-MM-DDTHH:MM (UTC)",
                        )
                    })?
                    .and_utc();
                if expires_at <= clock.now() {
                    return Err(invalid("attachmentExpires", "must be in the future"));
                }
                Some(Attachment {
                    name,
                    url,
                    expires_at,
                })
            }
        };
        message.extras = Extras {
            preview: optional_text("preview", &self.preview, MAX_SUBJECT)?,
            secure_id,
            enforce_secure_id: self.enforce_secure_id,
            external_identity: optional_text("externalIdentity", &self.external_identity, 128)?,
            attachment,
            unlisted: self.unlisted,
            all_users: self.all_users,
            sent_by: Some(sent_by.to_owned()),
        };
        Ok(message)
    }
}

pub(super) fn invalid(field: &'static str, rule: impl Into<String>) -> MessagingError {
    MessagingError::Invalid {
        field,
        rule: rule.into(),
    }
}

impl NewMessage {
    /// Checks the fields of a `POST /frontend/messages` request.
    pub fn parse(
        recipients: Vec<String>,
        subject: Option<&str>,
        body: Option<&str>,
        availability: i64,
        kind: &str,
        callback_url: Option<&str>,
    ) -> Result<Self> {
        let kind = MessageKind::parse(kind)
            .filter(|k| MessageKind::WIRE.contains(k))
            .ok_or_else(|| {
                invalid(
                    "type",
                    "must be \"authorization\", \"message\" or \"esign\"",
                )
            })?;
        Self::checked(
            recipients,
            subject.unwrap_or_default(),
            body.unwrap_or_default(),
            availability,
            kind,
            callback_url,
        )
    }

    /// The checks every message passes, whoever sends it.
    fn checked(
        recipients: Vec<String>,
        subject: &str,
        body: &str,
        availability: i64,
        kind: MessageKind,
        callback_url: Option<&str>,
    ) -> Result<Self> {
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(invalid(
                "recipients",
                format!("must name 1 to {MAX_RECIPIENTS} users"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut unique = Vec::with_capacity(recipients.len());
        for alias in recipients {
            let alias = alias.trim().to_owned();
            if alias.is_empty() {
                return Err(invalid("recipients", "a userId is empty"));
            }
            if seen.insert(alias.clone()) {
                unique.push(alias);
            }
        }
        if subject.chars().count() > MAX_SUBJECT {
            return Err(invalid(
                "subject",
                format!("at most {MAX_SUBJECT} characters"),
            ));
        }
        if body.chars().count() > MAX_BODY {
            return Err(invalid("body", format!("at most {MAX_BODY} characters")));
        }
        if !(1..=MAX_AVAILABILITY).contains(&availability) {
            return Err(invalid(
                "availability",
                format!("seconds, from 1 to {MAX_AVAILABILITY}"),
            ));
        }
        let callback_url = match callback_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(raw) => Some(http_url("callbackUrl", raw)?),
        };
        Ok(Self {
            recipients: unique,
            subject: subject.to_owned(),
            body: body.to_owned(),
            availability,
            kind,
            callback_url,
            extras: Extras::default(),
        })
    }
}

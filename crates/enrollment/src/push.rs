//! Push gateway credentials of an organization's custom mobile app (SPEC §1 "Custom mobile
//! app"): Firebase Cloud Messaging HTTP v1 (a Google service account) for Android phones and
//! APNs with token authentication (a `.p8` key) for iPhones. The private keys are sealed with the
//! master key; the rest is kept as JSON. The HTTP clients that use them are in `lanyard-web`.

use crate::{EnrollmentError, Result};
use diesel::prelude::*;
use lanyard_core::Clock;
use lanyard_core::id::AccountId;
use lanyard_identity::rights::{Actor, Area, Verb, authorize};
use lanyard_identity::{IdentityError, history};
use lanyard_pki::{MasterKey, PKey, Private};
use lanyard_store::schema::push_credentials;
use lanyard_store::{DbConnection, write_transaction};
use serde::{Deserialize, Serialize};

/// Firebase Cloud Messaging (HTTP v1) credentials: a service account of the app's project.
#[derive(Clone)]
pub struct Fcm {
    /// The Firebase project.
    pub project_id: String,
    /// The service account (the JWT issuer).
    pub client_email: String,
    /// Where its JWT is exchanged for an access token.
    pub token_uri: String,
    /// The service account's RSA key.
    pub key: PKey<Private>,
}

/// APNs token-authentication credentials.
#[derive(Clone)]
pub struct Apns {
    /// The Apple developer team.
    pub team_id: String,
    /// The key's id (the JWT `kid`).
    pub key_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// The `.p8` key (EC P-256).
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Fcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fcm")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Apns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apns")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// An organization's push credentials (either may be missing: that platform gets no pushes and
/// its phones rely on the real-time channel).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Android.
    pub fcm: Option<Fcm>,
    /// iOS.
    pub apns: Option<Apns>,
}

/// What the console shows of the credentials (never the keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// FCM project and service account, when set.
    pub fcm: Option<(String, String)>,
    /// APNs team, key id and topic, when set.
    pub apns: Option<(String, String, String)>,
}

#[derive(Serialize, Deserialize)]
struct FcmSettings {
    project_id: String,
    client_email: String,
    token_uri: String,
}

#[derive(Serialize, Deserialize)]
struct ApnsSettings {
    team_id: String,
    key_id: String,
    topic: String,
}

fn invalid(field: &'static str, rule: impl Into<String>) -> EnrollmentError {
    EnrollmentError::Identity(IdentityError::Invalid {
        field,
        rule: rule.into(),
    })
}

fn context(account: &AccountId, platform: &str) -> String {
    format!("push:{}:{platform}", account.as_str())
}

/// The service account JSON file as Google issues it (the fields FCM needs).
#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

fn token(field: &'static str, raw: &str, what: &str) -> Result<String> {
    let v = raw.trim();
    if v.is_empty()
        || v.len() > 200
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        return Err(invalid(
            field,
            format!("{what}: letters, digits, '-', '_', '.' or '@'"),
        ));
    }
    Ok(v.to_owned())
}

fn store(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    (platform, settings, sealed): (&str, String, String),
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        let now = clock.now().naive_utc();
        let updated = diesel::update(push_credentials::table.find((account.as_str(), platform)))
            .set((
                push_credentials::settings.eq(&settings),
                push_credentials::key_sealed.eq(&sealed),
                push_credentials::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(push_credentials::table)
                .values((
                    push_credentials::account_id.eq(account.as_str()),
                    push_credentials::platform.eq(platform),
                    push_credentials::settings.eq(&settings),
                    push_credentials::key_sealed.eq(&sealed),
                    push_credentials::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        history::record(
            conn,
            clock,
            account,
            "Devices",
            &format!("Push credentials set: {platform}"),
            &actor.name,
            actor.email.as_deref(),
        )?;
        Ok(())
    })
}

/// Sets the FCM credentials of `account` from a service account JSON file (checked: a service
/// account with a project, an e-mail, an https token URI and an RSA private key).
pub fn set_fcm(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    service_account_json: &str,
) -> Result<()> {
    let sa: ServiceAccount = serde_json::from_str(service_account_json).map_err(|e| {
        invalid(
            "serviceAccount",
            format!("is not a Google service account JSON file ({e})"),
        )
    })?;
    if sa.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err(invalid(
            "serviceAccount",
            "its type must be service_account",
        ));
    }
    let project_id = token("serviceAccount", &sa.project_id, "project_id")?;
    let client_email = token("serviceAccount", &sa.client_email, "client_email")?;
    let token_uri = url::Url::parse(sa.token_uri.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .ok_or_else(|| invalid("serviceAccount", "token_uri must be an https URL"))?;
    let key = PKey::private_key_from_pem(sa.private_key.as_bytes())
        .ok()
        .filter(|k| k.rsa().is_ok())
        .ok_or_else(|| {
            invalid(
                "serviceAccount",
                "private_key must be an RSA private key (PEM)",
            )
        })?;
    let der = key
        .private_key_to_der()
        .map_err(lanyard_pki::PkiError::from)?;
    let sealed = master.seal(&context(account, "fcm"), &der)?;
    let settings = serde_json::to_string(&FcmSettings {
        project_id,
        client_email,
        token_uri: token_uri.to_string(),
    })
    .map_err(|e| invalid("serviceAccount", e.to_string()))?;
    store(conn, clock, actor, account, ("fcm", settings, sealed))
}

/// What APNs needs, as the console form gives it.
#[derive(Debug, Clone)]
pub struct ApnsInput<'a> {
    /// Team id.
    pub team_id: &'a str,
    /// Key id.
    pub key_id: &'a str,
    /// Bundle id.
    pub topic: &'a str,
    /// The `.p8` file's text.
    pub key_pem: &'a str,
}

/// Sets the APNs credentials of `account` (checked: ids, and an EC P-256 key).
pub fn set_apns(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
    input: &ApnsInput<'_>,
) -> Result<()> {
    let team_id = token("teamId", input.team_id, "a team id")?;
    let key_id = token("keyId", input.key_id, "a key id")?;
    let topic = token("topic", input.topic, "a bundle id")?;
    let key = PKey::private_key_from_pem(input.key_pem.trim().as_bytes())
        .ok()
        .filter(|k| {
            k.ec_key()
                .ok()
                .and_then(|ec| ec.group().curve_name())
                .is_some_and(|n| n == openssl::nid::Nid::X9_62_PRIME256V1)
        })
        .ok_or_else(|| invalid("key", "must be the .p8 key (an EC P-256 private key, PEM)"))?;
    let der = key
        .private_key_to_der()
        .map_err(lanyard_pki::PkiError::from)?;
    let sealed = master.seal(&context(account, "apns"), &der)?;
    let settings = serde_json::to_string(&ApnsSettings {
        team_id,
        key_id,
        topic,
    })
    .map_err(|e| invalid("key", e.to_string()))?;
    store(conn, clock, actor, account, ("apns", settings, sealed))
}

/// Removes the credentials of `platform` (`fcm` or `apns`) of `account`.
pub fn remove(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    actor: &Actor,
    account: &AccountId,
    platform: &str,
) -> Result<()> {
    write_transaction(conn, |conn| {
        authorize(conn, actor, Area::Devices, Verb::Edit, account)?;
        diesel::delete(push_credentials::table.find((account.as_str(), platform))).execute(conn)?;
        history::record(
            conn,
            clock,
            account,
            "Devices",
            &format!("Push credentials removed: {platform}"),
            &actor.name,
            actor.email.as_deref(),
        )?;
        Ok(())
    })
}

/// The credentials of `account`, keys unsealed (no rights check: used when delivering).
pub fn credentials(
    conn: &mut DbConnection,
    master: &MasterKey,
    account: &AccountId,
) -> Result<Credentials> {
    let rows: Vec<(String, String, String)> = push_credentials::table
        .filter(push_credentials::account_id.eq(account.as_str()))
        .select((
            push_credentials::platform,
            push_credentials::settings,
            push_credentials::key_sealed,
        ))
        .load(conn)?;
    let mut out = Credentials::default();
    for (platform, settings, sealed) in rows {
        let key = lanyard_pki::private_key_from_sealed(sealed.as_bytes(), || {
            master.open(&context(account, &platform), &sealed)
        })?;
        let broken = |e: serde_json::Error| invalid("settings", e.to_string());
        match platform.as_str() {
            "fcm" => {
                let s: FcmSettings = serde_json::from_str(&settings).map_err(broken)?;
                out.fcm = Some(Fcm {
                    project_id: s.project_id,
                    client_email: s.client_email,
                    token_uri: s.token_uri,
                    key,
                });
            }
            "apns" => {
                let s: ApnsSettings = serde_json::from_str(&settings).map_err(broken)?;
                out.apns = Some(Apns {
                    team_id: s.team_id,
                    key_id: s.key_id,
                    topic: s.topic,
                    key,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// What the console shows (an administrator who may see devices).
pub fn summary(
    conn: &mut DbConnection,
    master: &MasterKey,
    actor: &Actor,
    account: &AccountId,
) -> Result<Summary> {
    authorize(conn, actor, Area::Devices, Verb::View, account)?;
    let c = credentials(conn, master, account)?;
    Ok(Summary {
        fcm: c.fcm.map(|f| (f.project_id, f.client_email)),
        apns: c.apns.map(|a| (a.team_id, a.key_id, a.topic)),
    })
}

/// Forgets device `device_id`'s push token `token` after its gateway answered that it is no
/// longer valid (FCM `UNREGISTERED`, APNs `BadDeviceToken`/`Unregistered`): it is not pushed to
/// again until the app registers a new token. A token the app replaced meanwhile is kept.
/// Returns whether it was forgotten.
pub fn forget_token(conn: &mut DbConnection, device_id: &str, token: &str) -> Result<bool> {
    use lanyard_store::schema::devices;
    let changed = diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::push_registration.eq(token)),
    )
    .set(devices::push_registration.eq(None::<String>))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The active phones of `person` (an end user or administrator id) with a push token: (device
/// id, type, token) — what a wake-up is sent to.
pub fn targets(
    conn: &mut DbConnection,
    person: &str,
) -> Result<Vec<(String, crate::device::DeviceType, String)>> {
    use lanyard_store::schema::devices;
    let rows: Vec<(String, String, Option<String>)> = devices::table
        .filter(
            devices::end_user_id
                .eq(person)
                .or(devices::administrator_id.eq(person)),
        )
        .filter(devices::status.eq("active"))
        .filter(devices::push_registration.is_not_null())
        .select((
            devices::id,
            devices::device_type,
            devices::push_registration,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, token)| {
            Some((id, crate::device::DeviceType::parse(&kind).ok()?, token?))
        })
        .collect())
}

/// Re-seals every organization's push credentials from master key `old` to `new` (master-key
/// rotation; the caller holds the transaction that re-seals the rest). Returns how many were
/// re-sealed.
pub fn reseal(conn: &mut DbConnection, old: &MasterKey, new: &MasterKey) -> Result<usize> {
    write_transaction(conn, |conn| {
        let rows: Vec<(String, String, String)> = push_credentials::table
            .select((
                push_credentials::account_id,
                push_credentials::platform,
                push_credentials::key_sealed,
            ))
            .load(conn)?;
        for (account, platform, sealed) in &rows {
            let ctx = context(&AccountId::from_stored(account.clone()), platform);
            let plain = old.open(&ctx, sealed)?;
            diesel::update(push_credentials::table.find((account, platform)))
                .set(push_credentials::key_sealed.eq(new.seal(&ctx, &plain)?))
                .execute(conn)?;
        }
        Ok(rows.len())
    })
}

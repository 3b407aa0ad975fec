//! The phone's push registration.

use super::*;

/// The device changes its push registration (the platform's push service gave the app a new
/// token, or none); `None` stops push notifications to it.
pub fn set_push_registration(
    conn: &mut DbConnection,
    device: &DeviceIdentity,
    token: Option<&str>,
) -> Result<Option<String>> {
    let token = push_token(token)?;
    diesel::update(
        devices::table
            .find(&device.device_id)
            .filter(devices::status.eq("active")),
    )
    .set(devices::push_registration.eq(token.as_deref()))
    .execute(conn)?;
    Ok(token)
}

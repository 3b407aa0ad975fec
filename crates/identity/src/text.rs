//! Small parsers for free-text fields shared by several entities.

use crate::IdentityError;

/// An optional display text: trimmed, empty means none, at most `max` characters, no control
/// characters.
pub(crate) fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, IdentityError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(IdentityError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(IdentityError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(value.to_owned()))
}

/// A phone number: digits with the usual separators (`+ - ( ) . /` and spaces), at most 32
/// characters, at least one digit; empty means none.
pub(crate) fn optional_phone(value: Option<&str>) -> Result<Option<String>, IdentityError> {
    let Some(value) = optional_text("phoneNumber", value, 32)? else {
        return Ok(None);
    };
    if !value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
        || !value.chars().any(|c| c.is_ascii_digit())
    {
        return Err(IdentityError::invalid(
            "phoneNumber",
            "may contain only digits, spaces and + - ( ) . /",
        ));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_text_trims_and_limits() {
        assert_eq!(optional_text("f", Some("  "), 5).ok(), Some(None));
        assert_eq!(
            optional_text("f", Some(" ab "), 5).ok(),
            Some(Some("ab".into()))
        );
        assert!(optional_text("f", Some("abcdef"), 5).is_err());
        assert!(optional_text("f", Some("a\u{7}"), 5).is_err());
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(
            optional_phone(Some("+36 (30) 123-4567")).ok(),
            Some(Some("+36 (30) 123-4567".into()))
        );
        assert!(optional_phone(Some("call me")).is_err());
        assert!(optional_phone(Some("---")).is_err());
    }
}

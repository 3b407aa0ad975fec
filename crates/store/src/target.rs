//! Choosing the backend from the configured URL.

use crate::StoreError;
use lanyard_core::SecretString;
use std::path::{Path, PathBuf};

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (may hold a password, hence secret).
    Postgres(SecretString),
}

impl DatabaseTarget {
    /// Parses a configured URL.
    ///
    /// - `postgres://…` or `postgresql://…`: PostgreSQL.
    /// - `sqlite://PATH`: a SQLite file, created if missing.
    /// - a plain path: a SQLite file that must exist, unless it is `default_file` (the data
    ///   directory's own database, created on first start). This refuses a mistyped path instead
    ///   of silently starting an empty database beside the real one.
    pub fn parse(url: &str, default_file: Option<&Path>) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::InvalidUrl("must not be empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(SecretString::new(url)));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::InvalidUrl("sqlite:// needs a file path".into()));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(StoreError::InvalidUrl(format!(
                "unsupported scheme {scheme:?}; use postgres://, sqlite:// or a file path"
            )));
        }
        let path = PathBuf::from(url);
        if path.exists() || default_file.is_some_and(|d| d == path) {
            Ok(Self::Sqlite(path))
        } else {
            Err(StoreError::InvalidUrl(format!(
                "the SQLite file {} does not exist; write sqlite://{} to create it",
                path.display(),
                path.display()
            )))
        }
    }

    /// A description safe to log (no password).
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let url = url.expose();
                let scheme_end = url.find("://").map_or(0, |i| i + 3);
                match url[scheme_end..].find('@') {
                    Some(at) => {
                        let userinfo = &url[scheme_end..scheme_end + at];
                        let user = userinfo.split(':').next().unwrap_or_default();
                        format!(
                            "{}{user}:***@{}",
                            &url[..scheme_end],
                            &url[scheme_end + at + 1..]
                        )
                    }
                    None => url.to_owned(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_backend_from_the_scheme() {
        assert!(matches!(
            DatabaseTarget::parse("postgres://u@h/db", None),
            Ok(DatabaseTarget::Postgres(_))
        ));
        assert!(matches!(
            DatabaseTarget::parse("sqlite:///tmp/x.db", None),
            Ok(DatabaseTarget::Sqlite(p)) if p == Path::new("/tmp/x.db")
        ));
        assert!(matches!(
            DatabaseTarget::parse("mysql://h/db", None),
            Err(StoreError::InvalidUrl(_))
        ));
    }

    #[test]
    fn a_missing_plain_path_is_refused_unless_it_is_the_default() {
        let missing = "/nonexistent/dir/lanyard.db";
        assert!(DatabaseTarget::parse(missing, None).is_err());
        assert!(DatabaseTarget::parse(missing, Some(Path::new(missing))).is_ok());
    }

    #[test]
    fn redaction_hides_the_password() {
        let t =
            DatabaseTarget::parse("postgres://app:s3cret@db:5432/lanyard", None).expect("valid");
        assert_eq!(t.redacted(), "postgres://app:***@db:5432/lanyard");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}

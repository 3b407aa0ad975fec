//! Typed identifiers, so that an end user's id cannot be passed where an account's is expected.

/// Declares a string-backed identifier type holding a UUID.
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh random identifier.
            pub fn new_random() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Wraps an identifier read from storage.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// Internal identifier of an account (not its OID).
    AccountId
);
typed_id!(
    /// Internal identifier of an end user (not its OID).
    EndUserId
);
typed_id!(
    /// Internal identifier of an API token.
    ApiTokenId
);
typed_id!(
    /// Internal identifier of an administrator.
    AdministratorId
);
typed_id!(
    /// Internal identifier of a rights profile.
    ProfileId
);

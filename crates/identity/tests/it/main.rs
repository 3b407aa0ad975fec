//! The integration tests of lanyard-identity, in one binary: each module was a binary of its own, and
//! every one linked OpenSSL, diesel and actix again (issue 14, item 8).

mod administration;
mod customers;
mod identity;
mod pki;
mod token_requests;

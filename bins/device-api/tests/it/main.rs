//! The integration tests of lanyard-device-api, in one binary: each module was a binary of its own, and
//! every one linked OpenSSL, diesel and actix again (issue 14, item 8).

mod messages;
mod protocol;

//! The integration tests of lanyard-web, in one binary: each module was a binary of its own, and
//! every one linked OpenSSL, diesel and actix again (issue 14, item 8).

mod push;
mod wakeups;

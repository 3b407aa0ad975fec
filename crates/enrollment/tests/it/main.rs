//! The integration tests of lanyard-enrollment, in one binary: each module was a binary of its own, and
//! every one linked OpenSSL, diesel and actix again (issue 14, item 8).

mod devices;
mod enrollments;

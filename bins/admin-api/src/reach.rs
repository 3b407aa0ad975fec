//! What the phone endpoints of the console and of `/rest` share: where the services are (for
//! enrollment links, CRLs and letters) and a person named in a URL.

use lanyard_enrollment::device;
use lanyard_enrollment::enrollment::{Holder, Links};
use lanyard_pki::MasterKey;
use lanyard_web::AppState;
use std::sync::Arc;

/// Where phone actions reach: the services' URLs and the master key.
#[derive(Clone)]
pub(crate) struct Reach {
    device_api: String,
    crl_base: String,
    pub(crate) mail_domain: String,
    pub(crate) master: Arc<MasterKey>,
}

impl Reach {
    pub(crate) fn of(state: &AppState) -> Self {
        Self {
            device_api: state.settings.device_api.url(),
            crl_base: state.crl_base(),
            mail_domain: state.settings.mail_domain(),
            master: state.master_key.clone(),
        }
    }

    pub(crate) fn links(&self) -> Links<'_> {
        Links {
            device_api: &self.device_api,
            master: &self.master,
            mail_domain: &self.mail_domain,
        }
    }

    pub(crate) fn master(&self) -> Arc<MasterKey> {
        self.master.clone()
    }

    pub(crate) fn service(&self) -> device::Service<'_> {
        device::Service {
            crl_base: &self.crl_base,
            device_api: &self.device_api,
            mail_domain: &self.mail_domain,
        }
    }
}

/// A person named in a URL, owned so it can move into a database task.
#[derive(Debug, Clone)]
pub(crate) enum OwnedHolder {
    /// An end user.
    User(lanyard_core::Oid),
    /// An administrator, by login e-mail.
    Administrator(String),
}

impl OwnedHolder {
    pub(crate) fn holder(&self) -> Holder<'_> {
        match self {
            Self::User(oid) => Holder::User(oid),
            Self::Administrator(email) => Holder::Administrator(email),
        }
    }
}

//! Many businesses, one stack: a token per phone number id, for platforms
//! that onboard businesses with Embedded Signup.
//!
//! [`WhatsAppTenantsLayer`] wraps one client. Each request goes out with
//! the token of the tenant its path names (`/{phone-number-id}/…`, or a
//! [`TenantId`] extension for calls whose path names no phone number: a
//! WhatsApp Business Account, templates, media), through that tenant's own
//! token cell: validated before first use and on its interval, renewed
//! ahead of expiry, renewed and replayed after a 190, `appsecret_proof`,
//! dead and misconfigured states that fail fast, recovery. One tenant's
//! failures never fail or slow another's requests. A cell is created on
//! first use from the application's [`TenantSource`] (once, however many
//! requests ask), and evicted when idle or past a capacity; idle tenants
//! cost memory only.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::{Empty, Full};
//! use tower::{service_fn, Layer, ServiceExt};
//! use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
//! use tower_whatsapp_auth::{Error, ReplayBody};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // The platform's database: a token per phone number id.
//! let businesses = tenant_fn(|phone: String| async move {
//!     let token = match phone.as_str() {
//!         "106540352242922" => "EAAG-business-a",
//!         "107777777777777" => "EAAG-business-b",
//!         _ => return Ok(None),
//!     };
//!     Ok::<_, tower::BoxError>(Some(Tenant::new(token)))
//! });
//! // Echoes the token each request carried (validation calls included).
//! let graph = service_fn(|req: Request<ReplayBody>| async move {
//!     let mut res = Response::new(Empty::<Bytes>::new());
//!     let auth = req.headers()["authorization"].clone();
//!     res.headers_mut().insert("x-token", auth);
//!     Ok::<_, tower::BoxError>(res)
//! });
//! let stack = WhatsAppTenantsLayer::new(businesses)
//!     .configure(|auth| auth.app_credentials("1234567890", "app-secret").validate_with_debug_token(false))
//!     .layer(graph);
//! let send = |phone: &str| Request::post(format!("/{phone}/messages")).body(Full::new(Bytes::from("{}"))).unwrap();
//! let res = stack.clone().oneshot(send("107777777777777")).await?;
//! assert_eq!(res.headers()["x-token"], "Bearer EAAG-business-b");
//! // A phone number no tenant owns: not sent, with anyone's token.
//! let err = stack.oneshot(send("199999999999999")).await.unwrap_err();
//! assert!(matches!(err.downcast_ref(), Some(Error::UnknownTenant { phone_number_id }) if phone_number_id == "199999999999999"));
//! # Ok(()) }
//! ```
//!
//! Inbound deliveries name the phone number they are for in
//! `metadata.phone_number_id` ([`Value::phone_number_id`](crate::webhook::Value::phone_number_id),
//! beside each message [`Notification::messages`](crate::webhook::Notification::messages)
//! yields): answer from that number through this stack, and the reply goes
//! out with that tenant's token. [`TenantMap::on_webhook`] ends the tenants of a business that
//! removed the app as soon as its `account_update` arrives.

mod future;
mod handle;
mod layer;
mod registry;
mod service;
mod signup;
mod source;

pub use future::TenantFuture;
pub use handle::TenantMap;
pub use layer::WhatsAppTenantsLayer;
pub use service::WhatsAppTenants;
pub use signup::Onboarded;
pub use source::{tenant_fn, Tenant, TenantFn, TenantSource};

use std::sync::Arc;

use http::Request;

use crate::error::Error;
use crate::graph::path;
use crate::ids::GraphId;

/// Request extension: the phone number id whose tenant a request belongs
/// to, for calls whose path names no phone number (a WhatsApp Business
/// Account's templates, media). A message send's own phone number wins:
/// a request that sends from one number and names another tenant is not
/// sent.
///
/// ```
/// use tower_whatsapp_auth::tenants::TenantId;
/// let mut req = http::Request::get("/102290129340398/message_templates").body(()).unwrap();
/// req.extensions_mut().insert(TenantId::new("106540352242922"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// The tenant of phone number id `phone_number_id`.
    pub fn new(phone_number_id: impl AsRef<str>) -> TenantId {
        TenantId(Arc::from(phone_number_id.as_ref()))
    }

    /// The phone number id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The phone number id whose tenant `req` belongs to.
#[inline]
pub(crate) fn tenant_of<B>(req: &Request<B>) -> Result<GraphId, Error> {
    let uri_path = req.uri().path();
    let id = match req.extensions().get::<TenantId>() {
        Some(tenant) => match path::message_sender(uri_path) {
            Some(sender) if sender != tenant.as_str() => {
                return Err(Error::TenantMismatch {
                    phone_number_id: sender.to_owned(),
                    tenant: tenant.as_str().to_owned(),
                })
            }
            _ => tenant.as_str(),
        },
        // Built only when there is none (`ok_or` built and dropped one on
        // every message).
        None => path::node(uri_path).ok_or_else(|| Error::NoTenant)?,
    };
    // Graph issues no id that is not one: no source is asked about it.
    GraphId::parse(id).ok_or_else(|| Error::UnknownTenant {
        phone_number_id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests;

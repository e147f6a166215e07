//! Bearer-token authentication: the extractor that turns `Authorization: Bearer TOKEN` into the
//! calling local user, or a 401.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::instance::Instance;
use crate::store::UserRecord;

/// The authenticated local user making the request.
pub struct Caller(pub UserRecord);

impl<S> FromRequestParts<S> for Caller
where
    Arc<Instance>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, ApiError> {
        let instance = Arc::<Instance>::from_ref(state);
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        Ok(instance.authenticate(token).map(Caller)?)
    }
}

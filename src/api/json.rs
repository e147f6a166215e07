//! JSON request bodies whose every failure is a JSON error: a body over its limit (by default
//! [`super::MAX_JSON_BODY_BYTES`]) is 413 `too_large`, anything that is not a JSON object of the
//! expected shape (wrong `Content-Type`, malformed, missing or mistyped fields, unknown fields)
//! is 400 `bad_request` saying what was wrong.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body of type `T`, at most `MAX_BYTES` long.
pub struct JsonBody<T, const MAX_BYTES: usize = { super::MAX_JSON_BODY_BYTES }>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const MAX_BYTES: usize> FromRequest<S>
    for JsonBody<T, MAX_BYTES>
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<JsonBody<T, MAX_BYTES>, ApiError> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(ApiError::BadRequest(
                "send a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BYTES)
            .await
            .map_err(|e| {
                let too_large = e
                    .into_inner()
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                if too_large {
                    ApiError::BodyTooLarge
                } else {
                    ApiError::BadRequest("the request body could not be read".into())
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
    }
}

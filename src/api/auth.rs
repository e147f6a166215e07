//! Who is calling: the one extractor that turns a session cookie (`shoebox_session`, the web
//! page) or `Authorization: Bearer TOKEN` (scripts) into the calling local user, or a 401; the
//! owner-only variant (403 for members); and the CSRF check on state-changing requests.
//!
//! When a request carries both, the bearer token decides: a script's token never falls back
//! to a browser's cookie.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::accounts::SESSION_COOKIE;
use crate::error::ApiError;
use crate::instance::Instance;
use crate::store::{Role, SecretHash, UserRecord};

/// The authenticated local user making the request.
pub struct Caller(pub UserRecord);

/// The authenticated local user with their role and, for a cookie, their session.
pub struct Person {
    /// The user.
    pub user: UserRecord,
    /// Owner or member.
    pub role: Role,
    /// The session, when the cookie authenticated the request.
    pub session: Option<SecretHash>,
}

/// A [`Person`] who is the owner; members get 403.
pub struct Owner(pub Person);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's value, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

impl<S> FromRequestParts<S> for Person
where
    Arc<Instance>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Person, ApiError> {
        let instance = Arc::<Instance>::from_ref(state);
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let Some(user) = bearer(&parts.headers)
                .filter(|token| !token.is_empty())
                .and_then(|token| instance.authenticate(token).ok())
            else {
                // Never the token itself: only where it came from.
                let source = parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip().to_string())
                    .unwrap_or_else(|| "-".into());
                tracing::info!(target: "audit", event = %"token_refused", source = %source, "audit");
                return Err(ApiError::Unauthorized);
            };
            return Ok(Person {
                role: instance.accounts.role_of(&user.name)?,
                user,
                session: None,
            });
        }
        let secret = session_cookie(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let caller = instance
            .accounts
            .session_caller(secret)?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Person {
            user: caller.user,
            role: caller.role,
            session: Some(caller.session),
        })
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<Instance>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, ApiError> {
        Person::from_request_parts(parts, state)
            .await
            .map(|person| Caller(person.user))
    }
}

impl<S> FromRequestParts<S> for Owner
where
    Arc<Instance>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Owner, ApiError> {
        let person = Person::from_request_parts(parts, state).await?;
        if person.role != Role::Owner {
            return Err(ApiError::Forbidden);
        }
        Ok(Owner(person))
    }
}

/// CSRF: a state-changing request (anything but GET, HEAD, OPTIONS) that a browser could send
/// on its own (one with the session cookie, or with no credentials at all: sign-in, setup,
/// invites) must carry an `Origin` naming this very site (its host and port equal the request's
/// `Host`), else 403 `cross_origin`. A bearer-token request without the cookie is a script's,
/// which no other site can make a browser send, and is exempt.
pub async fn check_origin(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    let script = bearer(headers).is_some() && session_cookie(headers).is_none();
    if !safe && !script && !same_origin(headers) {
        return ApiError::CrossOrigin.into_response();
    }
    next.run(request).await
}

/// Whether `Origin`'s host and port are the request's `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // includes "null"
    };
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return false,
    };
    let with_port = |authority: &str| -> String {
        let authority = authority.to_ascii_lowercase();
        let has_port = match authority.rfind(']') {
            Some(bracket) => authority[bracket..].contains(':'),
            None => authority.contains(':'),
        };
        if has_port {
            authority
        } else {
            format!("{authority}:{default_port}")
        }
    };
    !authority.contains('/') && with_port(authority) == with_port(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_name_the_host_and_port_asked() {
        assert!(same_origin(&headers(
            Some("https://nas.local:7443"),
            "nas.local:7443"
        )));
        assert!(same_origin(&headers(Some("https://NAS"), "nas:443")));
        assert!(same_origin(&headers(
            Some("http://[::1]:8080"),
            "[::1]:8080"
        )));
        assert!(!same_origin(&headers(
            Some("https://evil.example"),
            "nas.local:7443"
        )));
        assert!(!same_origin(&headers(
            Some("https://nas.local:7444"),
            "nas.local:7443"
        )));
        assert!(!same_origin(&headers(Some("null"), "nas.local:7443")));
        assert!(!same_origin(&headers(None, "nas.local:7443")));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; shoebox_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
    }
}

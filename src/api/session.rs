//! Signing in and out, the first-run form, invites, "who am I" and password changes: the
//! routes of `crate::accounts`, with the session cookie.
//!
//! - `GET /api/instance` (no sign-in): owner set?, version, TLS, certificate fingerprint;
//! - `POST /api/setup` `{code, name, password, library}`: claims the box (201 + cookie);
//! - `POST /api/session` `{name, password}`: signs in (cookie); `DELETE /api/session`;
//! - `POST /api/invite/accept` `{code, password}`: sets the password (cookie);
//! - `GET /api/me`; `POST /api/me/password` `{current, new}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::Person;
use super::json::JsonBody;
use crate::accounts::passwords::check_new_password;
use crate::accounts::{SignedIn, SESSION_COOKIE};
use crate::error::ApiError;
use crate::instance::{valid_user_name, Instance};

/// `GET /api/instance`.
pub async fn instance_info(State(instance): State<Arc<Instance>>) -> Result<Response, ApiError> {
    let site = &instance.site;
    Ok(Json(json!({
        "owner_set": instance.store.owner_exists()?,
        "instance_id": instance.identity.instance_id().to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "tls": site.tls,
        "plain_http_exposed": site.plain_http_exposed(),
        "certificate_fingerprint": site.certificate_fingerprint,
        "host_name": site.host_name,
        "public_url": site.public_url,
        "public_address": site.public_address(),
    }))
    .into_response())
}

/// Body of `POST /api/setup`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    code: String,
    name: String,
    password: String,
    #[serde(default)]
    library: Option<String>,
}

/// `POST /api/setup`.
pub async fn setup(
    State(instance): State<Arc<Instance>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<SetupBody>,
) -> Result<Response, ApiError> {
    check_name(&body.name)?;
    check_new_password(&body.password).map_err(ApiError::BadRequest)?;
    let library = match body.library.as_deref().filter(|l| !l.trim().is_empty()) {
        Some(library) => Some(super::people::library_under_roots(&instance, library)?),
        None => None,
    };
    let signed_in = instance
        .accounts
        .claim(
            peer.ip(),
            &body.code,
            &body.name,
            &body.password,
            library.as_deref(),
        )
        .await
        .inspect_err(|e| {
            tracing::info!(
                target: "audit",
                event = %"setup_failed",
                source = %peer.ip(),
                reason = ?e.to_string(),
                "audit"
            );
        })?;
    tracing::info!(
        target: "audit",
        event = %"owner_claimed",
        name = %signed_in.user.name,
        source = %peer.ip(),
        "audit"
    );
    if signed_in.user.library.is_some() {
        super::people::scan_in_background(&instance, signed_in.user.clone());
    }
    Ok(signed_in_response(
        &instance,
        StatusCode::CREATED,
        signed_in,
    ))
}

/// Body of `POST /api/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    name: String,
    password: String,
}

/// `POST /api/session`.
pub async fn sign_in(
    State(instance): State<Arc<Instance>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<SignInBody>,
) -> Result<Response, ApiError> {
    if body.name.len() > 64 || body.password.len() > 1024 {
        return Err(ApiError::WrongPassword);
    }
    let signed_in = instance
        .accounts
        .sign_in(peer.ip(), &body.name, &body.password)
        .await;
    match &signed_in {
        Ok(_) => tracing::info!(
            target: "audit",
            event = %"sign_in",
            name = %body.name,
            source = %peer.ip(),
            "audit"
        ),
        // The name typed is the visitor's: quoted and escaped.
        Err(e) => tracing::info!(
            target: "audit",
            event = %"sign_in_failed",
            name = ?body.name,
            source = %peer.ip(),
            reason = ?e.to_string(),
            "audit"
        ),
    }
    Ok(signed_in_response(&instance, StatusCode::OK, signed_in?))
}

/// `DELETE /api/session`.
pub async fn sign_out(
    State(instance): State<Arc<Instance>>,
    person: Person,
) -> Result<Response, ApiError> {
    if let Some(session) = person.session {
        instance.accounts.sign_out(session)?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &cookie(&instance, "", 0));
    Ok(response)
}

/// Body of `POST /api/invite/accept`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    code: String,
    password: String,
}

/// `POST /api/invite/accept`.
pub async fn accept_invite(
    State(instance): State<Arc<Instance>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<AcceptBody>,
) -> Result<Response, ApiError> {
    check_new_password(&body.password).map_err(ApiError::BadRequest)?;
    if body.code.len() > 128 {
        return Err(ApiError::InviteInvalid);
    }
    let signed_in = instance
        .accounts
        .accept_invite(peer.ip(), &body.code, &body.password)
        .await?;
    Ok(signed_in_response(&instance, StatusCode::OK, signed_in))
}

/// `GET /api/me`.
pub async fn me(person: Person) -> Json<serde_json::Value> {
    Json(json!({
        "name": person.user.name,
        "role": person.role.as_str(),
        "library": person.user.library,
    }))
}

/// Body of `POST /api/me/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current: String,
    new: String,
}

/// `POST /api/me/password`: ends the person's other sessions.
pub async fn change_password(
    State(instance): State<Arc<Instance>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    person: Person,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    check_new_password(&body.new).map_err(ApiError::BadRequest)?;
    if body.current.len() > 1024 {
        return Err(ApiError::WrongPassword);
    }
    instance
        .accounts
        .change_password(
            peer.ip(),
            &person.user.name,
            &body.current,
            &body.new,
            person.session,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_user_name(name) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid name {:?}: use 1 to 32 of a-z 0-9 . _ - (not starting with . or -)",
            name.chars().take(40).collect::<String>()
        )))
    }
}

/// `{name, role}` with the session cookie.
fn signed_in_response(instance: &Instance, status: StatusCode, signed_in: SignedIn) -> Response {
    let mut response = (
        status,
        Json(json!({
            "name": signed_in.user.name,
            "role": signed_in.role.as_str(),
        })),
    )
        .into_response();
    set_cookie(
        &mut response,
        &cookie(instance, &signed_in.session_secret, COOKIE_MAX_AGE_SECS),
    );
    response
}

/// How long the browser keeps the cookie: 400 days, the most browsers allow. The session itself
/// ends on the server after [`crate::accounts::SESSION_IDLE_SECS`] without use, so a person who
/// uses the page keeps being signed in, and one who does not is signed out after 30 days.
const COOKIE_MAX_AGE_SECS: u64 = 400 * 86_400;

/// The session cookie: `HttpOnly; Secure; SameSite=Strict; Path=/` (no `Secure` under
/// `--no-tls`, where the browser would never send it back).
fn cookie(instance: &Instance, value: &str, max_age_secs: u64) -> String {
    let secure = if instance.site.tls { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Max-Age={max_age_secs}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

//! The kiosk and mobile onboarding page: `GET /kiosk` and `GET /kiosk/assets/{file}`.
//!
//! A shop kiosk (portrait 1080x1920) or a phone (390x844) walks a subscriber through a
//! verification: the applicant's numbers, the identity document, the selfie (camera frames, or an
//! upload), the second factor, and the activation QR code. The page is plain HTML, CSS and
//! JavaScript modules from `services/api/web/kiosk/`, embedded in the binary at compile time so
//! there is no build step, no CDN and nothing to deploy beside the binary.
//!
//! The page is a client of the public `/v1` API like any other: it calls it with a kiosk API key
//! the operator enters once (kept in the tab's `sessionStorage`, never in the URL). These routes
//! are therefore outside the authenticated, rate-limited `/v1` router (as `/healthz` is): they
//! serve only static files. Every answer carries a strict Content-Security-Policy (scripts, styles
//! and connections to this origin only; images also from `data:` and `blob:` for the QR code and
//! capture previews; camera streams from `blob:`), `nosniff`, no referrer and no framing.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::problem_for_status;

/// The Content-Security-Policy of the page and its assets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob:; script-src 'self'; style-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The camera is used by this origin only (document and selfie capture); nothing else.
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(), geolocation=(), payment=()";

/// The page itself.
const INDEX_HTML: &str = include_str!("../../web/kiosk/index.html");

/// One embedded asset.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every file `/kiosk/assets/{file}` serves; any other name is 404.
const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/kiosk/style.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/kiosk/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/kiosk/api.js"),
    },
    Asset {
        name: "camera.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/kiosk/camera.js"),
    },
    Asset {
        name: "i18n.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/kiosk/i18n.js"),
    },
];

/// Serves the kiosk page.
pub async fn kiosk_page() -> Response {
    with_security_headers(
        "text/html; charset=utf-8",
        // The page may change with every release; it is small, so never cache it.
        "no-store",
        INDEX_HTML,
    )
}

/// Serves one of the page's embedded scripts or style sheets, 404 for any other name.
pub async fn kiosk_asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => with_security_headers(asset.content_type, "no-cache", asset.body),
        None => problem_for_status(StatusCode::NOT_FOUND).into_response(),
    }
}

/// A `200` with `body` and the page's security headers.
fn with_security_headers(
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static str,
) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache_control),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn page_and_assets_carry_their_content_type_and_the_policy() {
        let page = kiosk_page().await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(
            page.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        let script = kiosk_asset(Path("app.js".to_owned())).await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let css = kiosk_asset(Path("style.css".to_owned())).await;
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn unknown_or_traversing_asset_names_are_not_found() {
        for name in ["../Cargo.toml", "index.html", "app.js.map", ""] {
            let response = kiosk_asset(Path(name.to_owned())).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        }
    }
}

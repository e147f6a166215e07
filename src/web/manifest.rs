//! Every file of the web page, compiled into the binary. Add a line here for each new file in
//! `src/web/assets/`; `src/web/mod.rs` serves them (content-hashed names, precompressed).

/// One file of the web page.
pub struct Asset {
    /// Its name under `src/web/assets/` (also its logical URL name, before hashing).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The page's files. `index.html` is served at `/` and for every page route.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("assets/index.html"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        name: "connect.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/connect.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("assets/icon.svg"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/api.js"),
    },
    Asset {
        name: "ui.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/ui.js"),
    },
    Asset {
        name: "setup.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/setup.js"),
    },
    Asset {
        name: "signin.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/signin.js"),
    },
    Asset {
        name: "invite.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/invite.js"),
    },
    Asset {
        name: "grid.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/grid.js"),
    },
    Asset {
        name: "timeline.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/timeline.js"),
    },
    Asset {
        name: "albums.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/albums.js"),
    },
    Asset {
        name: "viewer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/viewer.js"),
    },
    Asset {
        name: "people.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/people.js"),
    },
    Asset {
        name: "account.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/account.js"),
    },
    Asset {
        name: "shared.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/shared.js"),
    },
    Asset {
        name: "connections.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/connections.js"),
    },
    Asset {
        name: "share.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/share.js"),
    },
];

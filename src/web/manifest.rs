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
pub const ASSETS: &[Asset] = &[Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("assets/index.html"),
}];

//! The module graph is a tree of layers (ARCHITECTURE.md draws it): a top-level module may use
//! only modules of a lower layer. This reads every `crate::` path in `src/` and fails on an
//! upward or sideways arrow, so a new cycle fails CI (issue 10).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers, lowest first; a module may use modules of strictly lower layers only.
const LAYERS: &[&[&str]] = &[
    &["protocol", "clock", "site"],
    &["datadir"],
    &["identity", "tls"],
    &["store"],
    &["library", "discovery", "accounts"],
    &["instance"],
    &["federation"],
    &["error", "control"],
    &["api", "web"],
    &["daemon"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// `crate::a`, `crate::{a, b::c}` and `crate::a::{..}` in `text`: the top-level names used.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names inside the braces: each item's first path segment.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        insert_first_segment(&mut used, &item);
                        item.clear();
                    }
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            insert_first_segment(&mut used, &item);
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

fn insert_first_segment(used: &mut BTreeSet<String>, item: &str) {
    let name: String = item
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() {
        used.insert(name);
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" {
            continue;
        }
        // Comments (doc links among them) are not dependencies.
        let code: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let used = used_modules(&code);
        edges
            .entry(top.clone())
            .or_default()
            .extend(used.into_iter().filter(|m| *m != top));
    }
    let mut wrong = Vec::new();
    for (module, used) in &edges {
        let Some(own) = layer_of(module) else {
            wrong.push(format!(
                "{module} is in no layer: add it to LAYERS and ARCHITECTURE.md"
            ));
            continue;
        };
        for other in used {
            match layer_of(other) {
                Some(layer) if layer < own => {}
                Some(_) => wrong.push(format!("{module} -> {other} points up or sideways")),
                None => wrong.push(format!("{module} -> {other}: {other} is in no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "module graph:\n{}", wrong.join("\n"));
}

#[test]
fn used_modules_reads_grouped_and_plain_paths() {
    let text = "use crate::a::B;\nuse crate::{c, d::{E, F}, g::H};\nlet x = crate::i::j();";
    let used: Vec<String> = used_modules(text).into_iter().collect();
    assert_eq!(used, ["a", "c", "d", "g", "i"]);
}

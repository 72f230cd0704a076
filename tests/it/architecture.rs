//! The shape of the code, read from its sources: the shared state sits at the bottom of the
//! module graph, and a capability reaches another through its functions, never its HTTP handlers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every source file (path under src/, without tests) and the files it names with `crate::…`
/// or `super::…` paths.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                // unit tests may reach anywhere
                let text = text.split("#[cfg(test)]").next().unwrap().to_string();
                sources.insert(rel, text);
            }
        }
    }
    let module_of = |rel: &str| -> Vec<String> {
        let mut parts: Vec<String> = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_string)
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        parts
    };
    let files: BTreeMap<Vec<String>, String> = sources
        .keys()
        .map(|rel| (module_of(rel), rel.clone()))
        .collect();
    // the deepest module file a path names
    let resolve = |path: &[String]| -> Option<String> {
        (1..=path.len())
            .rev()
            .find_map(|n| files.get(&path[..n]).cloned())
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut graph = BTreeMap::new();
    for (rel, text) in &sources {
        let here = module_of(rel);
        let parent: Vec<String> = here[..here.len().saturating_sub(1)].to_vec();
        let mut deps = BTreeSet::new();
        let mut note = |base: &[String], rest: &str| {
            let mut path = base.to_vec();
            path.extend(
                rest.split("::")
                    .filter(|p| p.starts_with(|c: char| c.is_ascii_lowercase()))
                    .map(str::to_string),
            );
            if let Some(file) = resolve(&path).filter(|f| f != rel) {
                deps.insert(file);
            }
        };
        for (prefix, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
            for (at, _) in text.match_indices(prefix) {
                let rest: String = text[at + prefix.len()..]
                    .chars()
                    .take_while(|c| word(*c))
                    .collect();
                note(&base, &rest);
                // `use super::{a, b::C}`
                if text[at + prefix.len()..].starts_with('{') {
                    let list = &text[at + prefix.len() + 1..];
                    let list = &list[..list.find('}').unwrap_or(0)];
                    for item in list.split(',') {
                        note(&base, item.trim());
                    }
                }
            }
        }
        graph.insert(rel.clone(), deps);
    }
    graph
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(f) = stack.pop() {
        for d in graph.get(&f).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_shared_state_is_at_the_bottom_and_nothing_imports_the_app() {
    let graph = import_graph();
    assert!(graph.len() > 50, "the sources were read: {}", graph.len());
    assert!(
        graph["app.rs"].contains("state.rs"),
        "the graph follows imports"
    );
    let below_state = reachable(&graph, "state.rs");
    assert!(below_state.contains("catalog/snapshot.rs"));
    let circles: Vec<&String> = below_state
        .iter()
        .filter(|f| reachable(&graph, f).contains("state.rs"))
        .collect();
    assert!(
        circles.is_empty(),
        "modules the state holds must not import it back: {circles:?}"
    );
    let into_app: Vec<&String> = graph
        .iter()
        .filter(|(f, deps)| f.as_str() != "main.rs" && deps.contains("app.rs"))
        .map(|(f, _)| f)
        .collect();
    assert!(
        into_app.is_empty(),
        "only main.rs starts the app: {into_app:?}"
    );
}

#[test]
fn a_capability_never_calls_another_capabilitys_http_handlers() {
    let graph = import_graph();
    let capability = |f: &str| {
        f.split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string()
    };
    let crossings: Vec<String> = graph
        .iter()
        .filter(|(f, _)| f.as_str() != "app.rs")
        .flat_map(|(f, deps)| {
            deps.iter()
                .filter(|d| {
                    (d.ends_with("/http.rs") || d.contains("/http/"))
                        && capability(d) != capability(f)
                })
                .map(move |d| format!("{f} → {d}"))
        })
        .collect();
    assert!(crossings.is_empty(), "{crossings:#?}");
}

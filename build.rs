//! Embeds templates/ and locales/ into the binary, so `ocop-market` runs from any folder (and in a slim image).
use std::{fs, path::Path};

fn main() {
    // sqlx::migrate! embeds migrations/ at compile time: an edited migration must rebuild
    println!("cargo:rerun-if-changed=migrations");
    let mut entries = Vec::new();
    collect(Path::new("templates"), &mut entries);
    entries.sort();
    let body: String = entries
        .iter()
        // resolved when the crate compiles, not here: checkouts sharing a target dir must each
        // embed their own templates
        .map(|name| format!("    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/templates/{name}\"))),\n"))
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("templates.rs");
    fs::write(
        out,
        format!("pub static TEMPLATES: &[(&str, &str)] = &[\n{body}];\n"),
    )
    .unwrap();
    locales();
}

/// Every `locales/<language>/*.ftl`: a language is added by adding its folder, nothing else.
fn locales() {
    println!("cargo:rerun-if-changed=locales");
    let mut langs: Vec<(String, Vec<String>)> = Vec::new();
    if let Ok(read) = fs::read_dir("locales") {
        for entry in read.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            let lang = entry.file_name().to_string_lossy().to_string();
            let mut files: Vec<String> = fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
                .map(|p| {
                    println!("cargo:rerun-if-changed={}", p.display());
                    p.file_name().unwrap().to_string_lossy().to_string()
                })
                .collect();
            files.sort();
            langs.push((lang, files));
        }
    }
    langs.sort();
    let body: String = langs
        .iter()
        .map(|(lang, files)| {
            let files: String = files
                .iter()
                .map(|f| format!("({f:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/locales/{lang}/{f}\"))), "))
                .collect();
            format!("    ({lang:?}, &[{files}]),\n")
        })
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("locales.rs");
    fs::write(
        out,
        format!("pub static LOCALES: &[(&str, &[(&str, &str)])] = &[\n{body}];\n"),
    )
    .unwrap();
}

/// Paths stay relative to the package: cargo then watches the checkout being built, even when
/// several checkouts share one target directory.
fn collect(dir: &Path, out: &mut Vec<String>) {
    // a directory's time changes when files are added to it: watch each one, not just the top
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(read) = fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "html" || e == "svg" || e == "css")
        {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path
                .strip_prefix("templates")
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push(name);
        }
    }
}

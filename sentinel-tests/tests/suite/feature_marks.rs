//! Every public item that needs an optional feature says so on docs.rs: an item (or `impl`
//! block) under `#[cfg(feature = "X")]` also carries `#[cfg_attr(docsrs, doc(cfg(feature =
//! "X")))]`. Checked on the sources, since `--cfg docsrs` needs a nightly rustdoc
//! (`doc_cfg`) and CI builds docs with stable 1.95.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The features a `#[cfg(…)]` line requires, unless it is a test or a negation.
fn required_features(attribute: &str) -> Vec<String> {
    let Some(inner) = attribute.strip_prefix("#[cfg(") else {
        return Vec::new();
    };
    if inner.starts_with("test") || inner.starts_with("not(") || inner.contains("doctest") {
        return Vec::new();
    }
    inner
        .split("feature = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// `pub` items (not `pub(crate)`) and `impl` blocks: what docs.rs shows.
fn is_public_item(line: &str) -> bool {
    (line.starts_with("pub ") || line.starts_with("impl") || line.starts_with("unsafe impl"))
        && !line.starts_with("pub(")
}

/// Modules declared under a feature (`#[cfg(feature = "X")] mod name;`), by the file that
/// holds them: the `impl` blocks in such a file show on their type's page, so each needs
/// the mark itself.
fn gated_module_files(files: &[PathBuf]) -> Vec<(PathBuf, Vec<String>)> {
    let mut gated = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let dir = if file.ends_with("mod.rs") || file.ends_with("lib.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        let mut features = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[") {
                features.extend(required_features(line));
                continue;
            }
            let name = line
                .strip_prefix("mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let (Some(name), false) = (name, features.is_empty()) {
                gated.push((dir.join(format!("{name}.rs")), features.clone()));
                gated.push((dir.join(name).join("mod.rs"), features.clone()));
            }
            if !line.starts_with("///") && !line.is_empty() {
                features.clear();
            }
        }
    }
    gated
}

#[test]
fn every_feature_gated_public_item_carries_its_feature_on_docs_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("sentinel-runtime/src"), &mut files);
    rust_files(&root.join("src"), &mut files);
    // The attribute's expansion support is `#[doc(hidden)]`: not on docs.rs.
    files.retain(|file| !file.ends_with("macro_support.rs"));
    let gated_modules = gated_module_files(&files);
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let module_features: Vec<String> = gated_modules
            .iter()
            .filter(|(path, _)| path == file)
            .flat_map(|(_, features)| features.clone())
            .collect();
        let mut attributes: Vec<&str> = Vec::new();
        let mut in_tests = false;
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if line.starts_with("#[") || line.starts_with("///") || line.starts_with("//!") {
                if line.starts_with("#[") {
                    attributes.push(line);
                }
                continue;
            }
            if !in_tests && is_public_item(line) && !line.contains("macro_support") {
                let mut features: Vec<String> =
                    attributes.iter().flat_map(|a| required_features(a)).collect();
                if line.starts_with("impl") {
                    features.extend(module_features.iter().cloned());
                }
                for feature in features {
                    checked += 1;
                    let mark = format!("doc(cfg(feature = \"{feature}\"))");
                    if !attributes
                        .iter()
                        .any(|a| a.starts_with("#[cfg_attr(docsrs") && a.contains(&mark))
                    {
                        missing.push(format!(
                            "{}:{}: `{line}` needs #[cfg_attr(docsrs, {mark})]",
                            file.strip_prefix(&root).unwrap_or(file).display(),
                            number + 1
                        ));
                    }
                }
            }
            if !line.is_empty() {
                attributes.clear();
            }
        }
    }
    assert!(
        checked > 10,
        "the check found only {checked} gated items: is it reading the sources?"
    );
    assert!(
        missing.is_empty(),
        "{} without a feature mark:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

//! Every public item of the facade that a user constructs or calls has an example in its
//! docs (issue 22): each public type, function, trait and module of `sentinel-runtime` and
//! `sentinel-macros` (what the facade re-exports) has a code block in its doc comment, and
//! each public method either has one of its own or is called in an example on its type's
//! page (the type's, or another method's). Checked on the sources, since rustdoc's
//! `missing_doc_code_examples` lint is nightly-only; the examples themselves are compiled by
//! the doctests (`cargo test --doc`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Public items that are not constructed or called by a user, each with the reason. Error
/// types are matched and printed, not built (their methods are called, and are checked);
/// the rest are not reachable from the facade.
const NOT_CONSTRUCTED_OR_CALLED: &[(&str, &str)] = &[
    // Errors: a user matches on them and prints them (their variants are documented).
    (
        "BuildError",
        "an error: returned by `build`, matched, never constructed",
    ),
    (
        "DecisionError",
        "an error: returned by `guard_batch`, matched, never constructed",
    ),
    (
        "EnvError",
        "an error: returned by `from_env`, matched, never constructed",
    ),
    (
        "InitError",
        "an error: returned by `init_from_env`, matched, never constructed",
    ),
    (
        "AlreadyInitialized",
        "an error: returned by `init`, never constructed",
    ),
    (
        "SidecarError",
        "an error: returned by the read API, matched, never constructed",
    ),
    ("TransportError", "an error: returned by a transport, matched"),
    (
        "ReceiptError",
        "an error: returned by the receipt client, matched",
    ),
    (
        "ProvenanceError",
        "an error: returned by record verification, matched",
    ),
    ("StreamError", "an error: returned by the chain verifier, matched"),
    ("InputError", "an error: returned by the record framing, matched"),
    (
        "ExportError",
        "an error: returned by the export verifier, matched",
    ),
    ("TlsError", "an error: returned by `build` with `tls`, matched"),
    // Crate-private modules: `pub` for their siblings, not reachable from the facade.
    (
        "method_kind",
        "used by the attribute's expansion (doc(hidden) macro_support)",
    ),
    (
        "macro_support",
        "doc(hidden): what the attribute expands to names",
    ),
];

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

/// Whether a fence's info string (what follows the opening ```` ``` ````) marks a block rustdoc
/// compiles as a doctest: none, or only `rust` and doctest attributes. A `text`, `json` or
/// `ignore` block is shown, never compiled, so it is no example.
fn compiled(info: &str) -> bool {
    info.split(',').map(str::trim).all(|word| {
        matches!(word, "" | "rust" | "no_run" | "should_panic" | "compile_fail")
            || word.starts_with("edition")
    })
}

/// The code inside the fenced blocks of `doc` (doc-comment lines with their `///` or `//!`
/// already stripped) that rustdoc compiles.
fn code_blocks(doc: &[String]) -> String {
    let mut code = String::new();
    // `Some(kept)` inside a block: whether it is compiled, so kept.
    let mut inside: Option<bool> = None;
    for line in doc {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            inside = match inside {
                Some(_) => None,
                None => Some(compiled(info)),
            };
            if inside == Some(true) {
                // An opened block counts even when empty of calls: it is an example.
                code.push_str("```\n");
            }
            continue;
        }
        if inside == Some(true) {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// `pub` (not `pub(…)`) item of a kind that rustdoc gives a page or a section: kind and name.
fn public_item(line: &str) -> Option<(&str, &str)> {
    let mut rest = line.strip_prefix("pub ")?;
    for qualifier in ["const ", "async ", "unsafe "] {
        if let Some(after) = rest.strip_prefix(qualifier) {
            if after.starts_with("fn ") {
                rest = after;
            }
        }
    }
    let (kind, rest) = rest.split_once(' ')?;
    if !matches!(
        kind,
        "fn" | "struct" | "enum" | "trait" | "type" | "mod" | "const" | "static"
    ) {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some((kind, &rest[..end]))
}

/// The type an `impl` line is for: `impl<T> Foo<T> {` and `impl Trait for Foo {` give `Foo`.
fn impl_owner(line: &str) -> Option<String> {
    let rest = line.strip_prefix("impl")?;
    if !(rest.starts_with(' ') || rest.starts_with('<')) {
        return None;
    }
    let mut rest = rest;
    if rest.starts_with('<') {
        let mut depth = 0;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i + 1;
                break;
            }
        }
        rest = &rest[end..];
    }
    let rest = rest.rsplit(" for ").next().unwrap_or(rest).trim();
    let name: String = rest
        .trim_start_matches("crate::")
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    Some(name.rsplit("::").next().unwrap_or(&name).to_owned())
}

struct Item {
    place: String,
    kind: String,
    name: String,
    owner: Option<String>,
    example: String,
}

/// The public items of one file, with the code of their doc examples; a `pub mod` declared
/// here takes its example from its own file's `//!` docs (read by the caller).
fn items_of(file: &Path, root: &Path, out: &mut Vec<Item>, module_docs: &mut HashMap<PathBuf, String>) {
    let text = std::fs::read_to_string(file).unwrap();
    let inner: Vec<String> = text
        .lines()
        .map(str::trim)
        .take_while(|l| l.starts_with("//!") || l.is_empty() || l.starts_with("#!"))
        .filter_map(|l| l.strip_prefix("//!").map(str::to_owned))
        .collect();
    module_docs.insert(file.to_path_buf(), code_blocks(&inner));
    let mut doc: Vec<String> = Vec::new();
    // The open `impl` blocks: their indentation and type.
    let mut impls: Vec<(usize, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (number, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        // The tests module ends what users see (a test-only `use` or item does not).
        let next = lines.get(number + 1).map_or("", |l| l.trim());
        if line.starts_with("#[cfg(test)]") && next.starts_with("mod ") {
            break;
        }
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.to_owned());
            continue;
        }
        if line.starts_with("#[") || line.starts_with("//") {
            continue;
        }
        if impls.last().is_some_and(|(at, _)| line == "}" && indent == *at) {
            impls.pop();
        }
        if line.ends_with('{') {
            if let Some(owner) = impl_owner(line) {
                impls.push((indent, owner));
            }
        }
        if let Some((kind, name)) = public_item(line) {
            let place = format!(
                "{}:{}",
                file.strip_prefix(root).unwrap_or(file).display(),
                number + 1
            );
            let owner = impls.last().filter(|_| kind == "fn").map(|(_, o)| o.clone());
            out.push(Item {
                place,
                kind: kind.to_owned(),
                name: name.to_owned(),
                owner,
                example: code_blocks(&doc),
            });
            if kind == "mod" && line.ends_with('{') {
                // Inline module: its docs are the `//!` lines that follow.
                let docs: Vec<String> = text
                    .lines()
                    .skip(number + 1)
                    .map(str::trim)
                    .take_while(|l| l.starts_with("//!"))
                    .map(|l| l[3..].to_owned())
                    .collect();
                out.last_mut().unwrap().example.push_str(&code_blocks(&docs));
            } else if kind == "mod" {
                let dir = if file.ends_with("lib.rs") || file.ends_with("mod.rs") {
                    file.parent().unwrap().to_path_buf()
                } else {
                    file.with_extension("")
                };
                let candidates = [dir.join(format!("{name}.rs")), dir.join(name).join("mod.rs")];
                out.last_mut().unwrap().place = candidates
                    .iter()
                    .find(|p| p.exists())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
            }
        }
        doc.clear();
    }
}

/// The public items under `root` (a crate's `src`) that have no example, and how many were
/// checked.
fn items_without_example(root: &Path) -> (usize, Vec<String>) {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    // The attribute's expansion support is `#[doc(hidden)]`: not on docs.rs.
    files.retain(|file| !file.ends_with("macro_support.rs"));
    files.sort();
    let mut items = Vec::new();
    let mut module_docs = HashMap::new();
    for file in &files {
        items_of(file, root, &mut items, &mut module_docs);
    }
    // A `pub mod name;` takes its example from its file's `//!` docs.
    for item in items
        .iter_mut()
        .filter(|i| i.kind == "mod" && i.example.is_empty())
    {
        if let Some(code) = module_docs.get(Path::new(&item.place)) {
            item.example = code.clone();
        }
        item.place = Path::new(&item.place)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| item.place.clone());
    }
    // The examples on a type's page: its own and its methods'.
    let type_examples: HashMap<String, String> = items
        .iter()
        .filter_map(|i| match (&i.owner, i.kind.as_str()) {
            (Some(owner), _) => Some((owner, i)),
            (None, "struct" | "enum" | "trait" | "type") => Some((&i.name, i)),
            _ => None,
        })
        .fold(HashMap::new(), |mut map, (name, i)| {
            map.entry(name.clone()).or_default().push_str(&i.example);
            map
        });
    let allowed = |item: &Item| {
        NOT_CONSTRUCTED_OR_CALLED
            .iter()
            .any(|(name, _)| *name == item.name && item.owner.is_none())
    };
    let mut missing = Vec::new();
    let mut checked = 0;
    for item in &items {
        // Constants are values a user reads, not constructs or calls; each is documented.
        if matches!(item.kind.as_str(), "const" | "static") || allowed(item) {
            continue;
        }
        checked += 1;
        if !item.example.is_empty() {
            continue;
        }
        let shown_by_its_type = item.owner.as_ref().is_some_and(|owner| {
            type_examples.get(owner).is_some_and(|code| {
                code.contains(&format!(".{}(", item.name)) || code.contains(&format!("::{}(", item.name))
            })
        });
        if !shown_by_its_type {
            let what = match &item.owner {
                Some(owner) => format!("{owner}::{}", item.name),
                None => format!("{} {}", item.kind, item.name),
            };
            missing.push(format!("{}: {what}", item.place));
        }
    }
    (checked, missing)
}

#[test]
fn every_public_item_a_user_constructs_or_calls_has_an_example() {
    // The facade re-exports the runtime's items and the attribute; it defines none itself.
    let mut checked = 0;
    let mut missing = Vec::new();
    for krate in ["sentinel-runtime", "sentinel-macros"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(krate)
            .join("src");
        let (n, without) = items_without_example(&root.canonicalize().unwrap());
        checked += n;
        missing.extend(without.into_iter().map(|item| format!("{krate}/src/{item}")));
    }
    assert!(
        checked > 300,
        "the check found only {checked} public items: is it reading the sources?"
    );
    assert!(
        missing.is_empty(),
        "{} of {checked} public items have no example (a code block in their docs, or for a \
         method, a call in an example on its type's page):\n{}",
        missing.len(),
        missing.join("\n")
    );
}

/// The check itself: an item without a code block is named, and so is one whose only
/// block is not compiled (`text`); a method called in its type's example is not, one its
/// type's example does not call is, and the tests module is not looked at.
#[test]
fn the_check_names_what_has_no_example() {
    let dir = std::env::temp_dir().join(format!("sentinel-doc-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("lib.rs"),
        "/// A thing.\n///\n/// ```\n/// let t = Thing::new().shown();\n/// ```\npub struct Thing;\n\n\
         impl Thing {\n    /// Makes one.\n    pub fn new() -> Self { Thing }\n\n    /// Shown.\n    \
         pub fn shown(&self) {}\n\n    /// Not shown.\n    pub fn hidden(&self) {}\n}\n\n\
         /// No example.\npub fn lonely() {}\n\n/// An error.\npub struct BuildError;\n\n\
         /// Shown, not compiled.\n///\n/// ```text\n/// shown()\n/// ```\npub fn drawn() {}\n\n\
         /// Compiled, not run.\n///\n/// ```no_run\n/// run()\n/// ```\npub fn compiled() {}\n\n\
         #[cfg(test)]\nmod tests {\n    pub fn helper() {}\n}\n",
    )
    .unwrap();
    let (checked, missing) = items_without_example(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        checked, 7,
        "Thing, new, shown, hidden, lonely, drawn, compiled; BuildError allowed: {missing:?}"
    );
    assert_eq!(
        missing,
        [
            "lib.rs:16: Thing::hidden",
            "lib.rs:20: fn lonely",
            "lib.rs:30: fn drawn"
        ]
    );
}

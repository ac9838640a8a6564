//! Whether `::sentinel` can name the facade when no `crate = …` says otherwise, for a hint
//! instead of a wall of "cannot find `__private`" errors.
//!
//! A crate's extern names are the `--extern NAME=PATH` arguments cargo gives rustc, and a
//! proc macro runs inside that rustc. The facade's library is `sentinel`, so its file is
//! `libsentinel-<hash>.rlib` (or `.rmeta`) whatever the dependency is called in
//! `Cargo.toml`. Without an extern named `sentinel`, `::sentinel` cannot resolve: either
//! the facade is there under another name (a renamed dependency) or it is not a direct
//! dependency at all (a framework re-exports it). Where the arguments are not rustc's (an
//! IDE's macro server passes no `--extern`), nothing is said.

use std::sync::OnceLock;

/// The advice for a crate in which `::sentinel` cannot name the facade, if it cannot.
pub(crate) fn missing_sentinel_hint() -> Option<&'static str> {
    static HINT: OnceLock<Option<String>> = OnceLock::new();
    HINT.get_or_init(|| hint(std::env::args_os().map(|arg| arg.to_string_lossy().into_owned())))
        .as_deref()
}

/// [`missing_sentinel_hint`] for the command line `args`.
fn hint(args: impl IntoIterator<Item = String>) -> Option<String> {
    let externs = externs(args);
    if externs.is_empty() || externs.iter().any(|(name, _)| name == "sentinel") {
        return None;
    }
    let renamed: Vec<&str> = externs
        .iter()
        .filter(|(_, path)| is_facade(path))
        .map(|(name, _)| name.as_str())
        .collect();
    Some(match renamed.as_slice() {
        [name] => format!(
            "this crate depends on `montanalabs-sentinel` under the name `{name}`, so `::sentinel` does not \
             name it: write crate = {name}, as in #[{name}::guarded(crate = {name}, policy = \"…\")]"
        ),
        _ => String::from(
            "`::sentinel` names no crate here: `sentinel` is not a direct dependency of this crate. If a \
             framework re-exports it, give its path as your code names it: crate = my_framework::sentinel",
        ),
    })
}

/// `(name, path)` of every `--extern name=path` (or `--extern=…`, with any `opts:` prefix).
fn externs(args: impl IntoIterator<Item = String>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--extern" {
            args.next()
        } else {
            arg.strip_prefix("--extern=").map(str::to_owned)
        };
        let Some(value) = value else { continue };
        let (name, path) = value.split_once('=').unwrap_or((value.as_str(), ""));
        let name = name.rsplit(':').next().unwrap_or(name);
        found.push((name.to_owned(), path.to_owned()));
    }
    found
}

/// Whether `path` is the facade's library file (`…/libsentinel-<hash>.rlib`).
fn is_facade(path: &str) -> bool {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    file.strip_prefix("libsentinel-")
        .is_some_and(|rest| rest.ends_with(".rlib") || rest.ends_with(".rmeta"))
}

#[cfg(test)]
mod tests {
    use super::hint;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_extern_named_sentinel_needs_no_hint() {
        let line = args(&[
            "rustc",
            "--extern",
            "sentinel=/t/debug/deps/libsentinel-0a1b.rlib",
            "--extern",
            "serde=/t/debug/deps/libserde-99.rmeta",
        ]);
        assert_eq!(hint(line), None);
    }

    #[test]
    fn a_renamed_dependency_is_named_in_the_hint() {
        let line = args(&[
            "rustc",
            "--extern",
            "gate=/t/debug/deps/libsentinel-0a1b.rlib",
            "--extern=priv:serde=/t/debug/deps/libserde-99.rmeta",
        ]);
        let hint = hint(line).expect("a hint");
        assert!(hint.contains("write crate = gate"), "{hint}");
    }

    #[test]
    fn no_direct_dependency_points_at_a_framework_re_export() {
        let line = args(&[
            "rustc",
            "--extern",
            "my_framework=/t/debug/deps/libmy_framework-77.rlib",
        ]);
        let hint = hint(line).expect("a hint");
        assert!(hint.contains("crate = my_framework::sentinel"), "{hint}");
    }

    #[test]
    fn outside_rustc_nothing_is_said() {
        assert_eq!(hint(args(&["rust-analyzer-proc-macro-srv"])), None);
        assert_eq!(hint(Vec::new()), None);
    }
}

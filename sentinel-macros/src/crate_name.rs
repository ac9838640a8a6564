//! The name under which this crate links the facade, when it is not `sentinel` and no
//! `crate = …` says where it is: a renamed dependency (`gate = { package =
//! "montanalabs-sentinel", … }`), or `extern crate montanalabs_sentinel as sentinel;`.
//!
//! A crate's extern names are the `--extern NAME=PATH` arguments cargo gives rustc, and a
//! proc macro runs inside that rustc. The facade's library is `sentinel`, so its file is
//! `libsentinel-<hash>.rlib` (or `.rmeta`) whatever the dependency is called. When no extern
//! is named `sentinel` and the facade is linked under exactly one other name, the expansion
//! names the facade by that name, which resolves wherever `::sentinel` would (every
//! `--extern` name is in the extern prelude). This only ever turns a build that would fail
//! into one that works: it never adds an error. Where the arguments are not rustc's (an
//! IDE's macro server passes no `--extern`), or say nothing certain, the expansion names
//! `::sentinel` as always, and `crate = …` is the way to say otherwise.

use std::sync::OnceLock;

/// The facade's extern name in this crate, when `::sentinel` does not name it.
pub(crate) fn renamed_facade() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| renamed(std::env::args_os().map(|arg| arg.to_string_lossy().into_owned())))
        .as_deref()
}

/// [`renamed_facade`] for the command line `args`.
fn renamed(args: impl IntoIterator<Item = String>) -> Option<String> {
    let externs = externs(args);
    if externs.iter().any(|e| e.name == "sentinel") {
        return None;
    }
    let mut facades = externs.iter().filter(|e| e.in_prelude && is_facade(&e.path));
    let first = facades.next()?;
    // Two files would be two builds of the facade: which one the code means is not ours to
    // guess.
    facades.all(|e| e.path == first.path).then(|| first.name.clone())
}

/// One `--extern [opts:]name=path`.
struct Extern {
    name: String,
    path: String,
    /// Not `noprelude:` (only then does `::name` resolve).
    in_prelude: bool,
}

/// Every `--extern name=path` (or `--extern=…`, with any `opts:` prefix).
fn externs(args: impl IntoIterator<Item = String>) -> Vec<Extern> {
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
        let (options, name) = name.rsplit_once(':').unwrap_or(("", name));
        found.push(Extern {
            name: name.to_owned(),
            path: path.to_owned(),
            in_prelude: !options.split(',').any(|option| option == "noprelude"),
        });
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
    use super::renamed;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_extern_named_sentinel_is_used_as_it_is() {
        let line = args(&[
            "rustc",
            "--extern",
            "sentinel=/t/debug/deps/libsentinel-0a1b.rlib",
            "--extern",
            "gate=/t/debug/deps/libsentinel-0a1b.rlib",
        ]);
        assert_eq!(renamed(line), None);
    }

    #[test]
    fn a_renamed_dependency_is_named_by_its_name() {
        let line = args(&[
            "rustc",
            "--extern",
            "gate=/t/debug/deps/libsentinel-0a1b.rlib",
            "--extern=priv:serde=/t/debug/deps/libserde-99.rmeta",
        ]);
        assert_eq!(renamed(line).as_deref(), Some("gate"));
    }

    /// `extern crate montanalabs_sentinel as sentinel;` (so `::sentinel` resolves) with the
    /// dependency named `montanalabs_sentinel`: that name resolves too, so it compiles.
    #[test]
    fn an_extern_crate_rename_is_named_by_the_dependency_name() {
        let line = args(&[
            "rustc",
            "--extern",
            "montanalabs_sentinel=/t/debug/deps/libsentinel-0a1b.rmeta",
        ]);
        assert_eq!(renamed(line).as_deref(), Some("montanalabs_sentinel"));
    }

    #[test]
    fn nothing_certain_means_sentinel_as_always() {
        // A framework's re-export: no facade among the externs.
        assert_eq!(
            renamed(args(&["rustc", "--extern", "fw=/t/debug/deps/libfw-77.rlib"])),
            None
        );
        // Two builds of the facade under two names.
        assert_eq!(
            renamed(args(&[
                "rustc",
                "--extern",
                "a=/t/debug/deps/libsentinel-01.rlib",
                "--extern",
                "b=/t/debug/deps/libsentinel-02.rlib",
            ])),
            None
        );
        // Not in the extern prelude: `::gate` would not resolve.
        assert_eq!(
            renamed(args(&[
                "rustc",
                "--extern",
                "noprelude:gate=/t/libsentinel-01.rlib"
            ])),
            None
        );
        // An IDE's macro server, or no arguments at all.
        assert_eq!(renamed(args(&["rust-analyzer-proc-macro-srv"])), None);
        assert_eq!(renamed(Vec::new()), None);
    }
}

//! The README's `rust,ignore` blocks are excerpts of example files that need other crates
//! (rmcp, rig-core): each names its file on its first line, and every other line must be a
//! line of that file, so the excerpt cannot drift from code that compiles. (The README's
//! other `rust` blocks are doctests of the facade.)

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));

#[test]
fn every_ignored_readme_block_is_an_excerpt_of_its_file() {
    let mut excerpts = 0;
    let mut lines = README.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```rust") {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        if line.trim() != "```rust,ignore" {
            continue;
        }
        let source = block
            .first()
            .and_then(|first| first.strip_prefix("// From "))
            .and_then(|rest| rest.strip_suffix(':'))
            .unwrap_or_else(|| panic!("a rust,ignore block must start with `// From <file>:`: {block:?}"));
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(source);
        let file = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{source}: {e}"));
        for excerpt_line in &block[1..] {
            assert!(
                file.lines().any(|l| l == *excerpt_line),
                "README excerpt line not in {source}: {excerpt_line:?}"
            );
        }
        excerpts += 1;
    }
    assert!(excerpts >= 2, "the rmcp and rig excerpts: found {excerpts}");
}

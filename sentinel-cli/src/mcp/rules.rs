//! Which rule applies to a tool: an exact name before any glob, then the first glob in the
//! file's order that matches; no match at all refuses the tool.

use std::time::Duration;

/// What the gate does with a call to a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Forwarded without asking the sidecar (`allow = true`).
    Allow,
    /// Hidden from `tools/list` and refused (`deny = true`).
    Deny,
    /// Forwarded only on the sidecar's ALLOW for the call's arguments under `policy`.
    Guard {
        /// The sidecar policy.
        policy: String,
        /// The action type; the tool's name when the rule gives none.
        kind: Option<String>,
        /// How long an ESCALATE waits for a human before the call returns; zero parks it
        /// (returns at once with the escalation id).
        wait_for_human: Duration,
        /// Forwarded as the protected executor of an authorization receipt: adjudicated,
        /// the receipt validated (single use) before forwarding, the execution signed and
        /// reported after the upstream answered.
        receipt: bool,
    },
}

/// A rule's `name`: a tool name, or a glob (`*`, `?`, `[…]`) over tool names.
#[derive(Debug, Clone)]
pub enum ToolPattern {
    /// Matches this name only.
    Exact(String),
    /// Matches what the glob matches.
    Glob(glob::Pattern),
}

impl ToolPattern {
    /// Parses a rule's `name`.
    pub fn parse(name: &str) -> Result<ToolPattern, String> {
        if name.is_empty() {
            return Err("a tool name cannot be empty".into());
        }
        if !name.contains(['*', '?', '[', ']']) {
            return Ok(ToolPattern::Exact(name.to_owned()));
        }
        glob::Pattern::new(name).map(ToolPattern::Glob).map_err(|e| {
            format!(
                "`{name}` is not a valid glob: {} (at character {})",
                e.msg,
                e.pos + 1
            )
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        match self {
            ToolPattern::Exact(name) => name,
            ToolPattern::Glob(glob) => glob.as_str(),
        }
    }
}

/// One rule with where it was written.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The rule's `name`.
    pub pattern: ToolPattern,
    /// What it says.
    pub rule: Rule,
    /// Its line in the configuration file.
    pub line: usize,
}

/// Every rule of a configuration.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    entries: Vec<Entry>,
}

impl RuleSet {
    /// Adds a rule; the same exact name twice is an error naming the first one's line.
    pub fn push(&mut self, pattern: ToolPattern, rule: Rule, line: usize) -> Result<(), String> {
        if let Some(earlier) = self
            .entries
            .iter()
            .find(|e| e.pattern.as_str() == pattern.as_str())
        {
            return Err(format!(
                "`{}` already has a rule, on line {}; a tool has one rule",
                pattern.as_str(),
                earlier.line
            ));
        }
        self.entries.push(Entry { pattern, rule, line });
        Ok(())
    }

    /// Every rule, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The rule for `tool`, if any applies.
    pub fn lookup(&self, tool: &str) -> Option<&Entry> {
        let exact = self
            .entries
            .iter()
            .find(|e| matches!(&e.pattern, ToolPattern::Exact(name) if name == tool));
        exact.or_else(|| {
            self.entries
                .iter()
                .find(|e| matches!(&e.pattern, ToolPattern::Glob(glob) if glob.matches(tool)))
        })
    }

    /// Whether `tools/list` shows `tool` (every tool but those a `deny` rule covers).
    pub fn lists(&self, tool: &str) -> bool {
        !matches!(self.lookup(tool), Some(Entry { rule: Rule::Deny, .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rules: &[(&str, Rule)]) -> RuleSet {
        let mut set = RuleSet::default();
        for (line, (name, rule)) in rules.iter().enumerate() {
            set.push(ToolPattern::parse(name).unwrap(), rule.clone(), line + 1)
                .unwrap();
        }
        set
    }

    fn guard(policy: &str) -> Rule {
        Rule::Guard {
            policy: policy.into(),
            kind: None,
            wait_for_human: Duration::ZERO,
            receipt: false,
        }
    }

    #[test]
    fn an_exact_name_wins_over_an_earlier_glob() {
        let rules = set(&[("read_*", Rule::Allow), ("read_secrets", Rule::Deny)]);
        assert_eq!(rules.lookup("read_secrets").unwrap().rule, Rule::Deny);
        assert_eq!(rules.lookup("read_file").unwrap().rule, Rule::Allow);
    }

    #[test]
    fn the_first_matching_glob_in_file_order_wins() {
        let rules = set(&[("write_*", guard("a")), ("*", Rule::Allow)]);
        assert_eq!(rules.lookup("write_file").unwrap().rule, guard("a"));
        assert_eq!(rules.lookup("list_directory").unwrap().rule, Rule::Allow);
    }

    #[test]
    fn a_tool_no_rule_names_has_no_rule() {
        let rules = set(&[("write_file", guard("a"))]);
        assert!(rules.lookup("write_files").is_none());
        assert!(rules.lookup("WRITE_FILE").is_none(), "names are case-sensitive");
    }

    #[test]
    fn only_denied_tools_are_hidden() {
        let rules = set(&[("move_*", Rule::Deny), ("write_file", guard("a"))]);
        assert!(!rules.lists("move_file"));
        assert!(rules.lists("write_file"));
        assert!(rules.lists("unnamed_tool"), "refused when called, but listed");
    }

    #[test]
    fn globs_cover_question_marks_and_classes() {
        let rules = set(&[("get_?", Rule::Allow), ("[ab]_tool", Rule::Deny)]);
        assert_eq!(rules.lookup("get_x").unwrap().rule, Rule::Allow);
        assert!(rules.lookup("get_xy").is_none());
        assert_eq!(rules.lookup("b_tool").unwrap().rule, Rule::Deny);
    }
}

//! `sentinelctl mcp --check gate.toml -- <upstream…>`: the configuration checked, then each
//! tool the upstream offers with the rule that applies to it, so a user sees before any
//! client connects what will be guarded, allowed, hidden or refused.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;

use super::config;
use super::rules::{Entry, Rule, RuleSet};
use super::Upstream;

/// How long the upstream may take to start and list its tools.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// Checks the configuration at `path` and, with an upstream command, lists its tools.
pub async fn run(path: &Path, upstream: Upstream<'_>) -> ExitCode {
    let config = match config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sentinelctl mcp: {e}");
            return ExitCode::from(super::BAD_CONFIG);
        }
    };
    if let Err(e) = super::judge::sidecar_client(config.sentinel.as_ref()) {
        eprintln!("sentinelctl mcp: {}: {e}", path.display());
        return ExitCode::from(super::BAD_CONFIG);
    }
    if matches!(upstream, Upstream::Command(_)) && !config.upstream.headers.is_empty() {
        eprintln!("sentinelctl mcp: {}", super::headers_need_a_url(path));
        return ExitCode::from(super::BAD_CONFIG);
    }
    println!("{}: the configuration is valid", path.display());
    let name = match upstream {
        Upstream::None => {
            println!("(give the upstream server's command after `--` to list its tools with their rules)");
            return ExitCode::SUCCESS;
        }
        // Only the program: its arguments, or a command line given as one word, may hold a
        // token.
        Upstream::Command(command) => super::program_of(&command[0]).to_owned(),
        // Never the URL's userinfo or query, nor a header's value.
        Upstream::Url(url) => {
            super::http_upstream::Shown::new(url)
                .hiding(&config.upstream)
                .shown
        }
    };
    let listed = async {
        match upstream {
            Upstream::Command(command) => command_tools(command).await,
            Upstream::Url(url) => url_tools(url, &config.upstream).await,
            Upstream::None => Ok(Vec::new()),
        }
    };
    let tools = match tokio::time::timeout(LIST_TIMEOUT, listed).await {
        Ok(Ok(tools)) => tools,
        Ok(Err(e)) => {
            let e = match upstream {
                Upstream::Url(url) => super::http_upstream::Shown::new(url)
                    .hiding(&config.upstream)
                    .scrub(&e.to_string()),
                _ => e.to_string(),
            };
            eprintln!("sentinelctl mcp: the upstream MCP server `{name}`: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!(
                "sentinelctl mcp: the upstream MCP server `{name}` did not list its tools within {}s",
                LIST_TIMEOUT.as_secs()
            );
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report(&config.rules, &tools));
    ExitCode::SUCCESS
}

type Listed = Result<Vec<String>, Box<dyn std::error::Error>>;

async fn command_tools(upstream: &[String]) -> Listed {
    let mut command = tokio::process::Command::new(&upstream[0]);
    command.args(&upstream[1..]);
    let client = ().serve(TokioChildProcess::new(command)?).await?;
    let tools = client.list_all_tools().await?;
    let _ = client.cancel().await;
    Ok(tools.into_iter().map(|tool| tool.name.into_owned()).collect())
}

async fn url_tools(url: &str, config: &super::config::UpstreamConfig) -> Listed {
    let client = ().serve(super::http_upstream::transport(url, config)).await?;
    let tools = client.list_all_tools().await?;
    let _ = client.cancel().await;
    Ok(tools.into_iter().map(|tool| tool.name.into_owned()).collect())
}

/// One line per tool, then the rules no tool matched (a misspelt name, most likely).
fn report(rules: &RuleSet, tools: &[String]) -> String {
    let width = tools.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for tool in tools {
        let _ = writeln!(out, "  {tool:width$}  {}", describe(rules.lookup(tool)));
    }
    for entry in rules.entries() {
        if !tools
            .iter()
            .any(|tool| rules.lookup(tool).is_some_and(|e| e.line == entry.line))
        {
            let _ = writeln!(
                out,
                "warning: the rule for `{}` (line {}) applies to none of the upstream's tools",
                entry.pattern.as_str(),
                entry.line
            );
        }
    }
    out
}

fn describe(entry: Option<&Entry>) -> String {
    let Some(entry) = entry else {
        return "refused: no rule names it".into();
    };
    let what = match &entry.rule {
        Rule::Allow => "allowed without asking the sidecar".to_owned(),
        Rule::Deny => "denied: hidden from tools/list and refused".to_owned(),
        Rule::Guard {
            policy,
            kind,
            wait_for_human,
            receipt,
        } => {
            let escalation = if wait_for_human.is_zero() {
                "an escalation parks".to_owned()
            } else {
                format!(
                    "an escalation waits up to {}s for a human",
                    wait_for_human.as_secs()
                )
            };
            let kind = kind
                .as_deref()
                .map_or("the tool's name".to_owned(), |kind| format!("`{kind}`"));
            let receipt = if *receipt { ", run on a receipt" } else { "" };
            format!("guarded: policy `{policy}`, action type {kind}{receipt}; {escalation}")
        }
    };
    format!("{what} (rule `{}`, line {})", entry.pattern.as_str(), entry.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_shows_its_rule_and_unused_rules_are_flagged() {
        let text = "[[tools]]\nname = \"read_*\"\nallow = true\n\n[[tools]]\nname = \"write_file\"\n\
                    policy = \"healthcare.record_write\"\nkind = \"file_write\"\nwait_for_human_secs = 30\n\n\
                    [[tools]]\nname = \"move_file\"\ndeny = true\n\n[[tools]]\nname = \"wirte_file\"\ndeny = true\n";
        let config = config::parse(Path::new("gate.toml"), text).unwrap();
        let tools = ["read_file", "write_file", "move_file", "search_files"].map(String::from);
        let report = report(&config.rules, &tools);
        assert_eq!(
            report,
            "  read_file     allowed without asking the sidecar (rule `read_*`, line 2)\n\
             \x20 write_file    guarded: policy `healthcare.record_write`, action type `file_write`; an escalation waits up to 30s for a human (rule `write_file`, line 6)\n\
             \x20 move_file     denied: hidden from tools/list and refused (rule `move_file`, line 12)\n\
             \x20 search_files  refused: no rule names it\n\
             warning: the rule for `wirte_file` (line 16) applies to none of the upstream's tools\n"
        );
    }
}

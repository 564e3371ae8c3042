//! The CI files in `examples/ci/` (M5.2): the GitLab file is valid YAML with a manual
//! approval between staging and production, the Jenkinsfile asks with `input`, and every
//! `releasectl` invocation in both is a command and flag combination the binary accepts
//! (parsed with releasectl's own clap definitions).

mod releasectl_support;

#[allow(dead_code, unreachable_pub)]
#[path = "../releasectl/cli.rs"]
mod cli;

use clap::Parser;
use releasectl_support::root;
use serde_json::Value;

/// Shell words of a script, quotes removed, `$VAR`/`${…}` replaced by `x`; control
/// operators (`&&`, `||`, `;`, `|`, redirections) are words of their own.
fn words(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, out: &mut Vec<String>| {
        if *in_word {
            out.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut out),
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '&' | '|' | ';' | '>' | '<' => {
                flush(&mut word, &mut in_word, &mut out);
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if matches!(n, '&' | '|' | '>') {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(op);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut out);
    out.into_iter().map(|w| expand(&w)).collect()
}

/// Replaces `$NAME` and `${…}` with `x` (what the CI system substitutes).
fn expand(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
        } else {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
        }
        out.push('x');
    }
    out
}

/// Every `releasectl …` command line in a script (not `--example releasectl`).
fn invocations(script: &str) -> Vec<Vec<String>> {
    let words = words(script);
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| words[p].as_str());
        if w != "releasectl" || matches!(previous, Some("--example" | "--bin")) {
            continue;
        }
        let args: Vec<String> = words[i..]
            .iter()
            .take_while(|w| !w.starts_with(['&', '|', ';', '>', '<']))
            .cloned()
            .collect();
        found.push(args);
    }
    found
}

fn accepted(source: &str, argv: &[String]) -> String {
    match cli::Cli::try_parse_from(argv) {
        Ok(_) => argv[1].clone(),
        Err(e) => panic!(
            "{source}: `{}` is refused by releasectl:\n{e}",
            argv.join(" ")
        ),
    }
}

#[test]
fn the_gitlab_file_drives_a_release_with_a_manual_approval() {
    let text = std::fs::read_to_string(root().join("examples/ci/.gitlab-ci.yml")).unwrap();
    let ci: Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let job = |name: &str| {
        ci.get(name)
            .unwrap_or_else(|| panic!("job {name} missing"))
            .clone()
    };
    // Staging stops at the approval gate with exit 4, which must not fail the pipeline.
    assert_eq!(job("staging")["allow_failure"]["exit_codes"][0], 4);
    assert_eq!(job("approve-production")["when"], "manual");
    assert_eq!(job("approve-production")["allow_failure"], false);
    assert_eq!(job("production")["needs"][0], "approve-production");

    let mut commands = Vec::new();
    for (name, job) in ci.as_object().unwrap() {
        for key in ["before_script", "script", "after_script"] {
            for line in job[key].as_array().into_iter().flatten() {
                for argv in invocations(line.as_str().unwrap()) {
                    commands.push(accepted(&format!("job {name}"), &argv));
                }
            }
        }
    }
    for needed in [
        "validate",
        "plan",
        "run",
        "approve",
        "reject",
        "resume",
        "rollback",
        "status",
        "report",
        "audit",
        "inventory",
    ] {
        assert!(
            commands.iter().any(|c| c == needed),
            "no `releasectl {needed}` in the GitLab file: {commands:?}"
        );
    }
}

/// The shell strings of `sh '…'`, `sh "…"` and `sh(script: '…'` steps.
fn sh_steps(groovy: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in groovy.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("sh") {
            let after = rest[at + 2..].trim_start();
            let after = after
                .strip_prefix("(script:")
                .map_or(after, str::trim_start);
            let quote = after.chars().next();
            rest = &rest[at + 2..];
            let Some(q @ ('\'' | '"')) = quote else {
                continue;
            };
            if after.starts_with("'''") {
                continue; // multi-line build script
            }
            if let Some(end) = after[1..].find(q) {
                out.push(after[1..=end].to_owned());
            }
        }
    }
    out
}

#[test]
fn the_jenkinsfile_asks_for_approval_with_input_and_reads_exit_codes() {
    let text = std::fs::read_to_string(root().join("examples/ci/Jenkinsfile")).unwrap();
    assert!(text.contains("input(message:"), "an input step approves");
    assert!(text.contains("submitterParameter"), "the approver is named");
    assert!(text.contains("returnStatus: true"), "exit codes are read");
    assert!(text.contains("code == 4") && text.contains("code == 3"));
    let mut commands = Vec::new();
    for step in sh_steps(&text) {
        for argv in invocations(&step) {
            commands.push(accepted("Jenkinsfile", &argv));
        }
    }
    for needed in [
        "validate", "run", "approve", "resume", "rollback", "report", "audit",
    ] {
        assert!(
            commands.iter().any(|c| c == needed),
            "no `releasectl {needed}` in the Jenkinsfile: {commands:?}"
        );
    }
}

#[test]
fn the_word_splitter_finds_invocations_and_skips_build_lines() {
    let found = invocations(
        "cargo build --example releasectl && releasectl approve --env production --as \"$GITLAB_USER_LOGIN\" --comment 'a b' > out.txt; releasectl status || true",
    );
    assert_eq!(
        found,
        vec![
            vec![
                "releasectl",
                "approve",
                "--env",
                "production",
                "--as",
                "x",
                "--comment",
                "a b"
            ],
            vec!["releasectl", "status"],
        ]
    );
    // And a refused line is refused.
    assert!(cli::Cli::try_parse_from(["releasectl", "approve", "--nope"]).is_err());
    assert!(
        cli::Cli::try_parse_from(["releasectl", "approve"]).is_err(),
        "--env is required"
    );
}

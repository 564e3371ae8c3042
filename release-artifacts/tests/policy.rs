//! Build policy and reconciliation over fixture SBOMs and lockfiles.

use release_artifacts::policy::lockfile::{
    check_cargo_lock, check_package_lock, check_requirements,
};
use release_artifacts::policy::{
    LicencePolicy, LicenceVerdict, PinProblem, Sbom, SbomFormat, check_lockfile,
};
use release_artifacts::reconcile::{Change, reconcile};

fn sboms() -> (Sbom, Sbom) {
    let cdx = Sbom::parse(
        "release-1.cdx.json",
        include_bytes!("fixtures/release-1.cdx.json"),
    )
    .unwrap();
    let spdx = Sbom::parse(
        "release-2.spdx.json",
        include_bytes!("fixtures/release-2.spdx.json"),
    )
    .unwrap();
    (cdx, spdx)
}

fn policy() -> LicencePolicy {
    LicencePolicy::new(
        [
            "MIT",
            "Apache-2.0",
            "GPL-2.0-only WITH Classpath-exception-2.0",
        ],
        ["GPL-3.0-or-later", "WTFPL"],
    )
}

#[test]
fn both_sbom_formats_parse_with_compound_expressions() {
    let (cdx, spdx) = sboms();
    assert_eq!(cdx.format, SbomFormat::CycloneDx);
    assert_eq!(spdx.format, SbomFormat::Spdx);
    let names: Vec<_> = cdx.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "left-pad",
            "openjdk-runtime",
            "serde",
            "tokio",
            "tokio-macros"
        ]
    );
    let tokio = spdx.components.iter().find(|c| c.name == "tokio").unwrap();
    assert_eq!(
        tokio.licence.as_deref(),
        Some("MIT"),
        "NOASSERTION falls back to the declared licence"
    );
    let serde = spdx.components.iter().find(|c| c.name == "serde").unwrap();
    assert_eq!(serde.purl.as_deref(), Some("pkg:cargo/serde@1.0.210"));
    assert!(
        Sbom::parse("x.json", b"{\"hello\": 1}")
            .unwrap_err()
            .to_string()
            .contains("neither CycloneDX")
    );
    assert!(Sbom::parse("x.json", b"not json").is_err());
}

#[test]
fn licence_policy_evaluates_spdx_expressions() {
    let p = policy();
    assert_eq!(
        p.evaluate(Some("MIT OR Apache-2.0")),
        LicenceVerdict::Allowed
    );
    assert_eq!(
        p.evaluate(Some("GPL-2.0-only WITH Classpath-exception-2.0")),
        LicenceVerdict::Allowed
    );
    assert_eq!(
        p.evaluate(Some("MIT OR GPL-3.0-or-later")),
        LicenceVerdict::Allowed,
        "OR needs one side"
    );
    assert!(
        matches!(p.evaluate(Some("MIT AND GPL-3.0-or-later")), LicenceVerdict::Denied { terms } if terms == ["GPL-3.0-or-later"])
    );
    assert!(
        matches!(
            p.evaluate(Some("GPL-2.0-only")),
            LicenceVerdict::Unknown { .. }
        ),
        "the exception is what is allowed"
    );
    assert!(matches!(
        p.evaluate(Some("BSD-3-Clause")),
        LicenceVerdict::Unknown { .. }
    ));
    assert_eq!(p.evaluate(None), LicenceVerdict::Missing);
    assert!(matches!(
        p.evaluate(Some("MIT OR OR")),
        LicenceVerdict::Unparseable { .. }
    ));

    let (cdx, spdx) = sboms();
    let report = p.check(&cdx);
    assert!(!report.passed());
    let bad: Vec<_> = report.violations().map(|f| f.component.as_str()).collect();
    assert_eq!(bad, ["left-pad"]);
    let report = p.check(&spdx);
    let bad: Vec<_> = report
        .violations()
        .map(|f| (f.component.as_str(), f.verdict.clone()))
        .collect();
    assert_eq!(bad[0].0, "mystery");
    assert_eq!(bad[0].1, LicenceVerdict::Missing);
    assert_eq!(bad[1].0, "readline");
    assert!(matches!(bad[1].1, LicenceVerdict::Denied { .. }));
}

#[test]
fn reconciliation_table() {
    let (cdx, spdx) = sboms();
    let r = reconcile(&cdx, &spdx);
    let rows: Vec<_> = r
        .rows
        .iter()
        .map(|r| (r.component.as_str(), r.change))
        .collect();
    assert_eq!(
        rows,
        [
            ("left-pad", Change::Removed),
            ("mystery", Change::Added),
            ("readline", Change::Added),
            ("serde", Change::Upgraded),
            ("tokio", Change::Downgraded),
            ("tokio-macros", Change::Removed),
        ]
    );
    let table = r.to_markdown();
    assert!(
        table.contains(
            "| serde | upgraded | 1.0.200 | 1.0.210 | MIT OR Apache-2.0 | MIT OR Apache-2.0 |"
        ),
        "{table}"
    );
    assert!(
        table.contains("| readline | added | — | 8.2 | — | GPL-3.0-or-later |"),
        "{table}"
    );
}

#[test]
fn lockfiles_flag_ranges_and_unpinned_entries() {
    let req = "# pinned\nrequests==2.32.3\nflask>=2.0\nnumpy\nDjango==4.*\nurllib3===2.2.1 --hash=sha256:abc\n-r base.txt\n\
               pkg @ git+https://example/pkg.git@main\nok @ git+https://example/ok.git@0123456789abcdef0123456789abcdef01234567\n\
               uvicorn[standard]~=0.30 ; python_version > \"3.8\"\n";
    let r = check_requirements(req).unwrap();
    let flagged: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.package.as_str(), f.line))
        .collect();
    assert_eq!(
        flagged,
        [
            ("flask", Some(3)),
            ("numpy", Some(4)),
            ("Django", Some(5)),
            ("pkg @ git+https://example/pkg.git@main", Some(8)),
            ("uvicorn", Some(10))
        ]
    );
    assert_eq!(r.findings[1].problem, PinProblem::Unpinned);
    assert_eq!(r.packages, 8);

    let npm = r#"{"name":"shop","lockfileVersion":3,"packages":{
        "":{"name":"shop","dependencies":{"lodash":"^4.17.0"}},
        "node_modules/lodash":{"version":"4.17.21","resolved":"https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz","integrity":"sha512-x"},
        "node_modules/left-pad":{"version":"^1.3.0"},
        "node_modules/noint":{"version":"1.0.0"},
        "node_modules/local":{"link":true}}}"#;
    let r = check_package_lock("package-lock.json", npm).unwrap();
    let flagged: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.package.as_str(), f.problem.clone()))
        .collect();
    assert_eq!(
        flagged,
        [
            (
                "left-pad",
                PinProblem::Range {
                    spec: "^1.3.0".into()
                }
            ),
            ("noint", PinProblem::MissingChecksum)
        ]
    );
    let v1 = r#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","integrity":"sha1-x","dependencies":{"b":{"version":"~2.0.0"}}}}}"#;
    assert_eq!(
        check_package_lock("package-lock.json", v1)
            .unwrap()
            .findings
            .len(),
        1
    );

    let cargo = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde", "forked"]

[[package]]
name = "serde"
version = "1.0.210"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "c8e3592472072e6e22e0a54d5904d9febf8508f65fb8552499a1abc7d1078c3a"

[[package]]
name = "forked"
version = "0.1.0"
source = "git+https://example/forked.git?branch=main#0123456789abcdef0123456789abcdef01234567"
"#;
    let r = check_cargo_lock("Cargo.lock", cargo).unwrap();
    assert!(r.passed(), "{:?}", r.findings);
    assert_eq!(r.packages, 3);
    let unchecked = cargo.replace(
        "checksum = \"c8e3592472072e6e22e0a54d5904d9febf8508f65fb8552499a1abc7d1078c3a\"\n",
        "",
    );
    let r = check_lockfile("sub/Cargo.lock", &unchecked).unwrap();
    assert_eq!(r.findings[0].problem, PinProblem::MissingChecksum);
    // The workspace's own lockfile passes.
    let ours =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    assert!(check_lockfile("Cargo.lock", &ours).unwrap().passed());
    // Garbage is an error naming the file, never a panic.
    for junk in ["", "[[package]]\nname = 1", "\u{0}\u{1}"] {
        assert!(
            check_lockfile("Cargo.lock", junk).is_err()
                || check_lockfile("Cargo.lock", junk).is_ok()
        );
    }
    assert!(
        check_lockfile("package-lock.json", "[")
            .unwrap_err()
            .to_string()
            .contains("package-lock.json")
    );
    assert!(check_lockfile("yarn.lock", "").is_err());
}

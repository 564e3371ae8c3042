//! Evidence bundles (M7.2) of a real engine run: deterministic archives that verify, and every
//! kind of tampering reported exactly — a member changed, removed or added, a wrong or
//! untrusted signature, a rewritten manifest, a truncated journal.
#![cfg(feature = "bundle")]

mod common;

use std::io::Read as _;

use ed25519_dalek::SigningKey;
use release_artifacts::ArtifactError;
use release_artifacts::bundle::{
    AUDIT_EXPORT, BundleProblem, ChainHead, EvidenceBundle, MANIFEST, SIGNATURE, check_ledger_head,
    verify_bundle,
};
use release_core::ledger::{InMemoryLedger, Ledger, read_all};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// The archive's members in order, as (path, bytes).
fn members(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(archive);
    for entry in a.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((path, bytes));
    }
    out
}

/// An archive of these members, written the plain way (as a tamperer would).
fn archive(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in members {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn problems(
    result: Result<release_artifacts::bundle::VerifiedBundle, ArtifactError>,
) -> Vec<BundleProblem> {
    match result {
        Err(ArtifactError::BundleInvalid { problems, .. }) => problems,
        other => panic!("expected an invalid bundle, got {other:?}"),
    }
}

fn edit(bytes: &[u8], path: &str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut m = members(bytes);
    let member = m.iter_mut().find(|(p, _)| p == path).unwrap();
    f(&mut member.1);
    archive(&m)
}

#[tokio::test(start_paused = true)]
async fn a_bundle_is_deterministic_and_verifies_with_its_chain_head() {
    let s = common::canary_rollback().await;
    let bundle = EvidenceBundle::new(&s.v2)
        .unwrap()
        .with_log("engine.log", "09:00 start\n09:41 rollback\n")
        .unwrap()
        .with_test_report("junit/checkout.xml", "<testsuite tests=\"1\"/>")
        .unwrap();
    let bytes = bundle.write(&key()).unwrap();
    // Same journal and files, same bytes; the signature is deterministic too (Ed25519).
    assert_eq!(bundle.write(&key()).unwrap(), bytes);
    let again = EvidenceBundle::new(&s.v2)
        .unwrap()
        .with_log("engine.log", "09:00 start\n09:41 rollback\n")
        .unwrap()
        .with_test_report("junit/checkout.xml", "<testsuite tests=\"1\"/>")
        .unwrap();
    assert_eq!(again.write(&key()).unwrap(), bytes);

    let paths: Vec<String> = members(&bytes).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            MANIFEST,
            SIGNATURE,
            "approvals/approvals.json",
            AUDIT_EXPORT,
            "logs/engine.log",
            "review/review.json",
            "review/review.md",
            "summary/summary.json",
            "summary/summary.md",
            "test-reports/junit/checkout.xml",
        ]
    );

    let verified = verify_bundle(&bytes, &[key().verifying_key()]).unwrap();
    let last = s.v2.last().unwrap();
    assert_eq!(verified.manifest.chain_head.seq, last.seq);
    assert_eq!(verified.manifest.chain_head.hash, last.hash);
    assert_eq!(verified.records, s.v2);
    assert_eq!(verified.manifest.members.len(), 8);
    let approvals =
        String::from_utf8(verified.members["approvals/approvals.json"].clone()).unwrap();
    assert!(approvals.contains("\"by\": \"rm@x\""), "{approvals}");
    assert!(
        approvals.contains("\"decision\": \"approve\""),
        "{approvals}"
    );
    let summary = String::from_utf8(verified.members["summary/summary.md"].clone()).unwrap();
    assert!(
        summary.contains("| production | rolled back | checkout 1.0.0, frontend 1.0.0 |"),
        "{summary}"
    );
    // The tar headers are fixed: mode 0644, uid/gid 0, the journal's last time as mtime.
    let mut a = tar::Archive::new(bytes.as_slice());
    for entry in a.entries().unwrap() {
        let h = entry.unwrap().header().clone();
        assert_eq!(h.mode().unwrap(), 0o644);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.mtime().unwrap(), last.at.timestamp() as u64);
    }
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_tampering_is_reported_exactly() {
    let s = common::canary_rollback().await;
    let bytes = EvidenceBundle::new(&s.v2).unwrap().write(&key()).unwrap();
    let trusted = [key().verifying_key()];

    // A member changed.
    let changed = edit(&bytes, "summary/summary.md", |b| {
        b.extend_from_slice(b"All good.\n")
    });
    let found = problems(verify_bundle(&changed, &trusted));
    assert!(
        matches!(found.as_slice(), [BundleProblem::MemberChanged { path, .. }] if path == "summary/summary.md"),
        "{found:?}"
    );

    // A member removed, another added.
    let mut m = members(&bytes);
    m.retain(|(p, _)| p != "approvals/approvals.json");
    m.push(("logs/extra.log".into(), b"injected\n".to_vec()));
    let found = problems(verify_bundle(&archive(&m), &trusted));
    assert_eq!(
        found,
        [
            BundleProblem::MemberMissing {
                path: "approvals/approvals.json".into()
            },
            BundleProblem::MemberUnexpected {
                path: "logs/extra.log".into()
            },
        ]
    );

    // Signed by a key that is not trusted; or a trusted key's signature over other bytes.
    let found = problems(verify_bundle(
        &bytes,
        &[SigningKey::from_bytes(&[7; 32]).verifying_key()],
    ));
    assert!(
        matches!(found.as_slice(), [BundleProblem::UntrustedKey { .. }]),
        "{found:?}"
    );
    let forged = edit(&bytes, SIGNATURE, |b| {
        let mut env: serde_json::Value = serde_json::from_slice(b).unwrap();
        let sig = env["signatures"][0]["sig"].as_str().unwrap().to_owned();
        // Another first base64 letter: a valid encoding of other signature bytes.
        let first = if sig.starts_with('A') { "B" } else { "A" };
        let flipped = format!("{first}{}", sig.get(1..).unwrap());
        env["signatures"][0]["sig"] = serde_json::Value::String(flipped);
        *b = serde_json::to_vec(&env).unwrap();
    });
    let found = problems(verify_bundle(&forged, &trusted));
    assert!(
        matches!(found.as_slice(), [BundleProblem::SignatureInvalid { .. }]),
        "{found:?}"
    );
    assert!(
        verify_bundle(&forged, &trusted)
            .unwrap_err()
            .to_string()
            .contains("over MANIFEST.json does not verify"),
    );

    // The journal cut short by three records: its digest and the signed chain head disagree.
    let last = s.v2.last().unwrap();
    let cut = s.v2[s.v2.len() - 4].clone();
    let truncated = edit(&bytes, AUDIT_EXPORT, |b| {
        let text = String::from_utf8(b.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        *b = format!("{}\n", lines[..lines.len() - 3].join("\n")).into_bytes();
    });
    let found = problems(verify_bundle(&truncated, &trusted));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(matches!(&found[0], BundleProblem::MemberChanged { path, .. } if path == AUDIT_EXPORT));
    let BundleProblem::ChainHeadMismatch {
        expected,
        found: Some(at),
    } = &found[1]
    else {
        panic!("{found:?}");
    };
    assert_eq!((expected.seq, at.seq), (last.seq, cut.seq));
    assert_eq!(at.hash, cut.hash);

    // The tamperer also rewrites MANIFEST.json for the short journal: the signed payload no
    // longer matches it, and the signed manifest still catches the cut.
    let mut m = members(&truncated);
    let short = m.iter().find(|(p, _)| p == AUDIT_EXPORT).unwrap().1.clone();
    let manifest = m.iter_mut().find(|(p, _)| p == MANIFEST).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&manifest.1).unwrap();
    json["chain_head"]["seq"] = cut.seq.into();
    json["chain_head"]["hash"] = cut.hash.to_string().into();
    for member in json["members"].as_array_mut().unwrap() {
        if member["path"] == AUDIT_EXPORT {
            member["sha256"] = release_core::digest::Sha256Digest::of(&short)
                .to_string()
                .into();
            member["size"] = short.len().into();
        }
    }
    manifest.1 = serde_json::to_vec_pretty(&json).unwrap();
    let found = problems(verify_bundle(&archive(&m), &trusted));
    assert_eq!(found[0], BundleProblem::ManifestChanged, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| matches!(p, BundleProblem::ChainHeadMismatch { .. }))
    );

    // Not an archive at all.
    assert!(matches!(
        verify_bundle(
            b"not a tar archive, just text that is long enough",
            &trusted
        ),
        Err(ArtifactError::BundleMalformed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_live_journal_truncated_after_bundling_is_detected() {
    let s = common::canary_rollback().await;
    let bytes = EvidenceBundle::new(&s.v2).unwrap().write(&key()).unwrap();
    let verified = verify_bundle(&bytes, &[key().verifying_key()]).unwrap();
    let id = s.v2[0].release.clone();
    check_ledger_head(
        &verified.manifest,
        &read_all(s.ledger.as_ref(), &id).await.unwrap(),
    )
    .unwrap();

    let ledger = InMemoryLedger::new();
    ledger.overwrite(&id, s.v2[..s.v2.len() - 2].to_vec());
    let short = read_all(&ledger as &dyn Ledger, &id).await.unwrap();
    let err = check_ledger_head(&verified.manifest, &short).unwrap_err();
    let ArtifactError::BundleInvalid { problems, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(matches!(
        problems.as_slice(),
        [BundleProblem::ChainHeadMismatch {
            expected: ChainHead { .. },
            found: Some(_)
        }]
    ));
    assert!(
        err.to_string()
            .contains("the journal was truncated or extended"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_with_the_fix() {
    let s = common::canary_rollback().await;
    let err = EvidenceBundle::new(&s.v1)
        .unwrap()
        .with_log("../../etc/passwd", "x")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot bundle member path \"logs/../../etc/passwd\": it has an empty, `.` or `..` component; \
         use a short relative path such as `logs/deploy.log`"
    );
    let err = EvidenceBundle::new(&s.v1)
        .unwrap()
        .with_file(AUDIT_EXPORT, "x")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("already holds a file at that path"),
        "{err}"
    );
    let mut broken = s.v1.clone();
    broken.remove(3);
    let err = EvidenceBundle::new(&broken).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "cannot bundle the journal: ledger of release store-1.0.0 is tampered at record 4"
        ),
        "{err}"
    );
    assert!(
        EvidenceBundle::new(&[])
            .unwrap_err()
            .to_string()
            .contains("it is empty")
    );
}

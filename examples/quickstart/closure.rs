//! Step 5: closing the releases — every output is a projection of the ledger (M6.4–M6.6,
//! M7, M8.6): the stakeholders' summary, the post-implementation review, the HTML report,
//! the RCA records, the pain points across releases, and a signed evidence bundle per
//! release that `verify_bundle` (and `releasectl audit verify`) checks.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use release_artifacts::bundle::{EvidenceBundle, verify_bundle};
use release_artifacts::report::render_html;
use release_core::closure::{
    aggregate_pain_points, post_implementation_review, rcas, release_summary,
};
use release_core::ledger::{Record, export_jsonl};

/// What was written for one release.
pub struct Closed {
    /// The release's folder.
    pub dir: PathBuf,
    /// Members of its evidence bundle, verified after writing.
    pub bundle_members: usize,
    /// RCAs opened by its rollbacks: (id, components, reason).
    pub rcas: Vec<(String, String, String)>,
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes summary, review, HTML report and the signed evidence bundle of one release under
/// `<out>/releases/<id>/`; `extra` are more members (test reports, logs) by archive path.
pub fn close(
    out: &Path,
    records: &[Record],
    key: &SigningKey,
    extra: &[(String, Vec<u8>)],
) -> Result<Closed, String> {
    let id = records
        .first()
        .map(|r| r.release.to_string())
        .ok_or("an empty journal cannot be closed")?;
    let dir = out.join("releases").join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let summary = release_summary(records).map_err(|e| e.to_string())?;
    let review = post_implementation_review(records).map_err(|e| e.to_string())?;
    let summary_md = summary.to_markdown();
    let review_md = review.to_markdown();
    write(&dir.join("summary.md"), &summary_md)?;
    write(
        &dir.join("summary.json"),
        summary.to_json().map_err(|e| e.to_string())?,
    )?;
    write(&dir.join("review.md"), &review_md)?;
    write(
        &dir.join("review.json"),
        review.to_json().map_err(|e| e.to_string())?,
    )?;
    write(
        &dir.join("report.html"),
        render_html(records).map_err(|e| e.to_string())?,
    )?;

    let mut bundle = EvidenceBundle::new(records)
        .map_err(|e| e.to_string())?
        .with_file("closure/summary.md", summary_md.into_bytes())
        .map_err(|e| e.to_string())?
        .with_file("closure/review.md", review_md.into_bytes())
        .map_err(|e| e.to_string())?;
    for (path, bytes) in extra {
        bundle = bundle
            .with_file(path, bytes.clone())
            .map_err(|e| e.to_string())?;
    }
    let bytes = bundle.write(key).map_err(|e| e.to_string())?;
    let verified = verify_bundle(&bytes, &[key.verifying_key()]).map_err(|e| e.to_string())?;
    write(&dir.join("evidence.tar"), &bytes)?;
    write(
        &dir.join("audit.jsonl"),
        export_jsonl(records).map_err(|e| e.to_string())?,
    )?;
    let rcas = rcas(records)
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.components
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                r.reason,
            )
        })
        .collect();
    Ok(Closed {
        dir,
        bundle_members: verified.members.len(),
        rcas,
    })
}

/// Pain points aggregated across the releases, as Markdown.
pub fn pain_points(out: &Path, journals: &[Vec<Record>]) -> Result<PathBuf, String> {
    let path = out.join("pain-points.md");
    write(&path, aggregate_pain_points(journals).to_markdown())?;
    Ok(path)
}

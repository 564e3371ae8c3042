//! The migrator and database backup suite (M2.6, M4.5, M8.5).

use chrono::{DateTime, Utc};

use crate::id::{ComponentId, EnvironmentName};
use crate::migration::{MigrationSet, SqlDialect};
use crate::plugin::{Backup, BackupRequest, MigrateRequest, Migrator, RehearsalRequest};

use super::{Check, ConformanceFailure, ConformanceReport, Context, Run, ensure};

const CREATE: &str = "-- +up\nCREATE TABLE conformance_items (id INTEGER PRIMARY KEY, name TEXT);\n-- +down\nDROP TABLE conformance_items;\n";
const ADD_NOTE: &str = "-- +up\nALTER TABLE conformance_items ADD COLUMN note TEXT;\n-- +down\nALTER TABLE conformance_items DROP COLUMN note;\n";
const INSERT: &str = "-- +up\nINSERT INTO conformance_items (id, name) VALUES (1, 'a');\n-- +down\nDELETE FROM conformance_items WHERE id = 1;\n";
const FORGETFUL: &str =
    "-- +up\nINSERT INTO conformance_items (id, name) VALUES (2, 'b');\n-- +down\nSELECT 1;\n";
const BROKEN: &str =
    "-- +up\nINSERT INTO conformance_missing_table (id) VALUES (1);\n-- +down\nSELECT 1;\n";

fn set(dialect: SqlDialect, parts: &[&str]) -> Result<MigrationSet, String> {
    MigrationSet::from_files(
        dialect,
        parts
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("V{:03}__conformance_{i}.sql", i + 1), *text)),
    )
    .map_err(|e| e.to_string())
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}

fn up(set: MigrationSet) -> MigrateRequest {
    MigrateRequest::up(
        ComponentId::new("conformance-migrator"),
        EnvironmentName::new("conformance-a"),
        "conformance-db",
        set,
        at(),
    )
}

fn rehearsal(set: MigrationSet) -> RehearsalRequest {
    RehearsalRequest::new(
        ComponentId::new("conformance-migrator"),
        EnvironmentName::new("conformance-a"),
        "conformance-db",
        set,
        at(),
    )
}

async fn applies(migrator: &dyn Migrator, request: &MigrateRequest, expected: &[u64]) -> Check {
    let reply = migrator
        .migrate(request)
        .await
        .context(&format!("migrating ({:?})", request.direction))?;
    ensure!(
        reply.versions == expected,
        "migrating ({:?}) ran versions {:?}, expected {expected:?}",
        request.direction,
        reply.versions
    );
    Ok(())
}

/// Runs the migrator suite against a migrator and the backup of the same, **empty**,
/// database of `dialect` (the suite creates a `conformance_items` table and leaves the
/// database at its first migration).
///
/// Checks: `up_applies_pending`, `up_is_idempotent`, `down_reverts_newest_first`,
/// `changed_migration_refused` (an applied migration whose file changed: a non-retryable
/// error), `rehearsal_passes_and_leaves_live_alone`, `rehearsal_reports_unrestored_down`,
/// `rehearsal_reports_failed_up` (a report with a failed `up` check, not an error),
/// `backup_restores_to_digest`.
pub async fn migrator_conformance(
    migrator: &dyn Migrator,
    backup: &dyn Backup,
    dialect: SqlDialect,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("migrator");
    let base = set(dialect, &[CREATE]);
    let full = set(dialect, &[CREATE, ADD_NOTE, INSERT]);

    run.check("up_applies_pending", async {
        applies(migrator, &up(base.clone()?), &[1]).await
    })
    .await;
    run.check("up_is_idempotent", async {
        applies(migrator, &up(base.clone()?), &[]).await
    })
    .await;
    run.check("down_reverts_newest_first", async {
        applies(migrator, &up(full.clone()?), &[2, 3]).await?;
        applies(migrator, &up(full.clone()?).down_to(1), &[3, 2]).await
    })
    .await;
    run.check("changed_migration_refused", async {
        let changed = set(
            dialect,
            &[&CREATE.replace("name TEXT", "name TEXT, extra TEXT")],
        )?;
        match migrator.migrate(&up(changed)).await {
            Ok(reply) => Err(format!(
                "a set whose applied V001 changed was migrated (ran {:?}); it must be refused",
                reply.versions
            )),
            Err(e) if e.is_retryable() => Err(format!(
                "a changed applied migration was refused with a retryable error: {e}"
            )),
            Err(_) => Ok(()),
        }
    })
    .await;
    let request = BackupRequest::new(EnvironmentName::new("conformance-a"), "conformance-db");
    run.check("rehearsal_passes_and_leaves_live_alone", async {
        let full = full.clone()?;
        let before = backup
            .live_digest(&request)
            .await
            .context("reading the live digest")?;
        let report = migrator
            .rehearse(&rehearsal(full.clone()))
            .await
            .context("rehearsing a correct set")?;
        ensure!(
            report.passed(),
            "a correct set failed its rehearsal: {report:?}"
        );
        ensure!(
            report.set_digest == full.digest() && report.applied == [2, 3],
            "the report names digest {} and versions {:?}, expected {} and [2, 3]",
            report.set_digest,
            report.applied,
            full.digest()
        );
        let after = backup
            .live_digest(&request)
            .await
            .context("reading the live digest")?;
        ensure!(
            before == after,
            "the rehearsal changed the live database ({before:?} → {after:?})"
        );
        Ok(())
    })
    .await;
    run.check("rehearsal_reports_unrestored_down", async {
        let report = migrator
            .rehearse(&rehearsal(set(dialect, &[CREATE, FORGETFUL])?))
            .await
            .context("rehearsing a set whose down part forgets a row")?;
        ensure!(
            !report.passed(),
            "a down part that leaves a row behind passed: {report:?}"
        );
        ensure!(
            report.check("restores_original").is_some_and(|c| !c.passed),
            "no failed `restores_original` check in {report:?}"
        );
        Ok(())
    })
    .await;
    run.check("rehearsal_reports_failed_up", async {
        let report = migrator
            .rehearse(&rehearsal(set(dialect, &[CREATE, BROKEN])?))
            .await
            .context("rehearsing a set whose up part fails (a report is expected, not an error)")?;
        ensure!(
            report.check("up").is_some_and(|c| !c.passed) && !report.passed(),
            "a failing up part did not show as a failed `up` check: {report:?}"
        );
        Ok(())
    })
    .await;
    run.check("backup_restores_to_digest", async {
        let record = backup
            .snapshot(&request, at())
            .await
            .context("taking a backup")?;
        applies(migrator, &up(full.clone()?), &[2, 3]).await?;
        backup
            .restore(&record)
            .await
            .context("restoring the backup")?;
        if let Some(live) = backup
            .live_digest(&request)
            .await
            .context("reading the live digest")?
        {
            ensure!(
                live == record.digest,
                "after the restore the database reads {live}, not the backup's {}",
                record.digest
            );
        }
        let verification = backup
            .verify(&record)
            .await
            .context("verifying the backup")?;
        ensure!(
            verification.verified,
            "the backup did not verify: {}",
            verification.message
        );
        Ok(())
    })
    .await;
    run.finish()
}

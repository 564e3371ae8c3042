//! A small platform and release for driving the engine on a real ledger, in virtual time.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::Ledger;
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::InMemoryTarget;
use release_core::model::{Platform, Release};
use release_core::plugin::Clock;

pub const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: db, owner: { primary: a@x, backup: b@x } }
  - { id: api, owner: { primary: a@x, backup: b@x }, depends_on: [db] }
  - { id: web, owner: { primary: c@x, backup: d@x }, depends_on: [api] }
environments:
  - { name: staging, tier: staging }
  - { name: production, tier: production, parameters: { replicas: 3 } }
lifecycle:
  phases:
    - { name: verify, environments: [staging] }
    - { name: release, environments: [production] }
"#;

pub fn release_yaml(id: &str, version: &str) -> String {
    format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: {id} }}
version: {version}
platform: shop
type: full
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [db, api, web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [db, api, web] }}
components:
  db: {{ version: {version} }}
  api: {{ version: {version} }}
  web: {{ version: {version} }}
rollback:
  watch_window: 5m
"#
    )
}

pub fn platform() -> Platform {
    parse_platform(PLATFORM)
}

pub fn release(id: &str, version: &str) -> Release {
    parse_release(&release_yaml(id, version))
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn engine(
    holder: &str,
    ledger: Arc<dyn Ledger>,
    target: Arc<InMemoryTarget>,
    clock: Arc<dyn Clock>,
) -> Engine {
    Engine::builder()
        .ledger(ledger)
        .clock(clock)
        .target("default", target)
        .options(
            EngineOptions::default()
                .with_holder(holder)
                .with_lease_ttl(std::time::Duration::from_secs(60))
                .with_poll_interval(std::time::Duration::from_secs(30)),
        )
        .build()
        .unwrap()
}

/// Parses a manifest holding one platform document.
pub fn parse_platform(text: &str) -> Platform {
    match parse_str(text, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

/// Parses a manifest holding one release document.
pub fn parse_release(text: &str) -> Release {
    match parse_str(text, "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

/// A release `shop-<version>` of the one component `web`, whose `rollback:` block is
/// `rollback` (YAML lines indented by two spaces).
pub fn web_release(version: &str, rollback: &str) -> Release {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-{version} }}
version: {version}
platform: shop
type: full
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [web] }}
components:
  web: {{ version: {version} }}
rollback:
{rollback}
"#
    );
    parse_release(&text)
}

//! Helpers shared by the engine-driven tests.

use release_core::manifest::{Document, Format, parse_str};
use release_core::model::Release;

/// A full release of `web` at `version` under an approved change request.
pub fn release(version: &str) -> Release {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: web-{version} }}
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
"#
    );
    match parse_str(&text, "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

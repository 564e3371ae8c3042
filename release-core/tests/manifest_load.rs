//! Loading the example manifests in both formats.
use release_core::manifest::{Format, ManifestSet, parse_str};

#[test]
fn shop_yaml_loads_with_locations() {
    let set = ManifestSet::load(&["../examples/manifests/shop.yaml"]).unwrap();
    assert_eq!(set.platforms.len(), 1);
    assert_eq!(set.releases.len(), 1);
    let p = &set.platforms[0];
    assert_eq!(p.value.components.len(), 7);
    let loc = p.source.locate("/components/1/owner/backup");
    assert_eq!((loc.line, loc.column), (17, 40), "{loc}");
    let r = &set.releases[0];
    let loc = r.source.locate("/changes/1/depends_on");
    assert!(loc.line > 150, "{loc}");
    assert!(set.platform_for(&r.value).is_some());
}

#[test]
fn unknown_field_is_located() {
    let text = "apiVersion: release/v1\nkind: Platform\nmetadata:\n  name: x\n  colour: red\n";
    let err = parse_str(text, "x.yaml", Format::Yaml).unwrap_err();
    let msg = err[0].to_string();
    assert!(msg.starts_with("x.yaml:5:3: unknown field `colour`"), "{msg}");
}

#[test]
fn toml_errors_are_located() {
    let text = "apiVersion = \"release/v1\"\nkind = \"Platform\"\n[metadata]\nname = \"x\"\ncolour = \"red\"\n";
    let err = parse_str(text, "x.toml", Format::Toml).unwrap_err();
    let msg = err[0].to_string();
    assert!(msg.starts_with("x.toml:5:1: unknown field `colour`"), "{msg}");
}

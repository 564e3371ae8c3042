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
    assert!(
        msg.starts_with("x.yaml:5:3: unknown field `colour`"),
        "{msg}"
    );
}

#[test]
fn toml_errors_are_located() {
    let text = "apiVersion = \"release/v1\"\nkind = \"Platform\"\n[metadata]\nname = \"x\"\ncolour = \"red\"\n";
    let err = parse_str(text, "x.toml", Format::Toml).unwrap_err();
    let msg = err[0].to_string();
    assert!(
        msg.starts_with("x.toml:5:1: unknown field `colour`"),
        "{msg}"
    );
}

#[test]
fn second_document_lines_are_counted_from_the_file_start() {
    let text = "apiVersion: release/v1\nkind: Platform\nmetadata:\n  name: x\n---\napiVersion: release/v1\nkind: Platform\nmetadata:\n  name: y\n  colour: red\n";
    let err = parse_str(text, "two.yaml", Format::Yaml).unwrap_err();
    let msg = err[0].to_string();
    assert!(
        msg.starts_with("two.yaml:10:3: unknown field `colour`"),
        "{msg}"
    );
    // the source map agrees with the parser
    let ok = text.replace("  colour: red\n", "components: []\n");
    let docs = parse_str(&ok, "two.yaml", Format::Yaml).unwrap();
    let release_core::manifest::Document::Platform(p) = &docs[1] else {
        panic!()
    };
    assert_eq!(p.source.locate("/components").line, 10);
    assert_eq!(
        p.source.locate("/metadata/name").to_string(),
        "two.yaml:9:3"
    );
}

/// Writes the TOML twins of the shop example when `WRITE_TOML_TWINS` is set (used once to
/// create them); always checks both formats read into the same model.
#[test]
fn yaml_and_toml_read_into_one_model() {
    let yaml = ManifestSet::load(&["../examples/manifests/shop.yaml"]).unwrap();
    if std::env::var_os("WRITE_TOML_TWINS").is_some() {
        let p = toml::to_string_pretty(&yaml.platforms[0].value).unwrap();
        std::fs::write("../examples/manifests/toml/shop-platform.toml", p).unwrap();
        let r = toml::to_string_pretty(&yaml.releases[0].value).unwrap();
        std::fs::write("../examples/manifests/toml/shop-release.toml", r).unwrap();
    }
    let toml = ManifestSet::load(&[
        "../examples/manifests/toml/shop-platform.toml",
        "../examples/manifests/toml/shop-release.toml",
    ])
    .unwrap();
    assert_eq!(yaml.platforms[0].value, toml.platforms[0].value);
    assert_eq!(yaml.releases[0].value, toml.releases[0].value);
    let loc = toml.releases[0].source.locate("/changes/1/request");
    assert!(
        loc.to_string()
            .starts_with("../examples/manifests/toml/shop-release.toml:"),
        "{loc}"
    );
}

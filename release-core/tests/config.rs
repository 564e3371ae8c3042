//! Configuration rendering, digests, secret resolution, parity and drift (M2.1, M2.4) against
//! the shop example.
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use release_core::config::{
    ConfigDigest, ConfigDrift, ConfigError, InMemorySecrets, KeyDrift, ParityKind, RenderedConfig,
    RenderedFile, SecretError, SecretProvider, Segment, diff_rendered, parity_report,
    render_component, render_environment, render_environment_for,
};
use release_core::manifest::ManifestSet;
use release_core::model::{ParamValue, Platform, SecretRef, SecretValue};

static SHOP: LazyLock<Platform> = LazyLock::new(|| {
    let set = ManifestSet::load(&["../examples/manifests/shop.yaml"]).unwrap();
    set.platforms[0].value.clone()
});

fn shop() -> Platform {
    SHOP.clone()
}

fn secret(r: &str) -> SecretRef {
    SecretRef::parse(r).unwrap()
}

/// Renders one ad-hoc template of `orders-api` in `environment`.
fn render_one(
    template: &str,
    environment: &str,
    version: Option<&semver::Version>,
) -> Result<RenderedConfig, Vec<ConfigError>> {
    let mut p = shop();
    let env = p.environment(environment).unwrap().clone();
    let c = p
        .components
        .iter_mut()
        .find(|c| c.id == "orders-api")
        .unwrap();
    c.config = BTreeMap::from([("t.env".to_owned(), template.to_owned())]);
    let c = c.clone();
    render_component(&p, &c, &env, version).map_err(|e| e.into_vec())
}

#[test]
fn shop_staging_renders_with_the_password_as_a_reference() {
    let p = shop();
    let rendered = render_environment(&p, p.environment("staging").unwrap()).unwrap();
    assert_eq!(rendered.len(), 7, "every component gets an entry");
    assert!(rendered["orders-db"].is_empty());
    let app = rendered["orders-api"].file("app.env").unwrap();
    assert_eq!(
        app.segments(),
        &[
            Segment::Text(
                "DATABASE_URL=postgres://orders@db.staging.shop.internal/orders\nDATABASE_PASSWORD="
                    .into()
            ),
            Segment::Secret(secret("vault://shop/staging/orders/db")),
            Segment::Text("\nLOG_LEVEL=debug\nREPLICAS=2\n".into()),
        ]
    );
    assert_eq!(
        rendered["web"].to_string(),
        "--- web.env ---\nORDERS_URL=http://orders-api.staging.shop.internal\nLOG_LEVEL=debug\n"
    );
    assert!(
        format!("{:?}", rendered["orders-api"])
            .contains("DATABASE_PASSWORD={{secret:vault://shop/staging/orders/db}}")
    );
}

#[test]
fn dev_renders_its_plain_password_as_text() {
    let p = shop();
    let rendered = render_environment(&p, p.environment("dev").unwrap()).unwrap();
    let app = rendered["orders-api"].file("app.env").unwrap();
    assert_eq!(app.secret_refs().count(), 0);
    assert!(app.to_string().contains("DATABASE_PASSWORD=dev-password\n"));
}

#[test]
fn builtins_render() {
    let v = semver::Version::parse("3.8.0").unwrap();
    let r = render_one(
        "{{env.name}}/{{ env.tier }}/{{  component.id  }}@{{ release.version }}",
        "production",
        Some(&v),
    )
    .unwrap();
    assert_eq!(
        r.file("t.env").unwrap().to_string(),
        "production/production/orders-api@3.8.0"
    );
}

#[test]
fn unknown_parameter_names_where_and_the_fix() {
    let errs = render_one("A=1\nHOST={{ db_hots }}\n", "staging", None).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(matches!(
        &errs[0],
        ConfigError::UnknownParameter { name, location, .. }
            if name == "db_hots" && location.line == 2 && location.column == 6
    ));
    assert_eq!(
        errs[0].to_string(),
        "component `orders-api`, template `t.env`, line 2, column 6: placeholder `{{ db_hots }}` \
         names `db_hots`, which environment `staging` does not define; add `db_hots` to \
         environment `staging`'s parameters or remove the placeholder"
    );
}

#[test]
fn every_error_is_reported_at_once_in_order() {
    let errs = render_one(
        "A={{ }}\nB={{ nope }}\nC={{ db_host\nD={{ release.version }}\nE={{ db_host }}\n",
        "dev",
        None,
    )
    .unwrap_err();
    let summary: Vec<(u32, &str)> = errs
        .iter()
        .map(|e| {
            let kind = match e {
                ConfigError::EmptyPlaceholder { .. } => "empty",
                ConfigError::UnknownParameter { .. } => "unknown",
                ConfigError::UnclosedPlaceholder { .. } => "unclosed",
                ConfigError::ReleaseVersionUnavailable { .. } => "version",
                _ => "other",
            };
            (e.location().unwrap().line, kind)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "empty"),
            (2, "unknown"),
            (3, "unclosed"),
            (4, "version")
        ]
    );
    assert_eq!(
        errs[2].to_string(),
        "component `orders-api`, template `t.env`, line 3, column 3: placeholder `{{ db_host` \
         is not closed; add `}}` on the same line, such as `{{ name }}`"
    );
    assert!(errs[3].to_string().contains("needs a release version"));
}

#[test]
fn a_parameter_may_not_shadow_a_builtin() {
    let mut p = shop();
    let env = p.environments.iter_mut().find(|e| e.name == "dev").unwrap();
    env.parameters
        .insert("env.name".into(), ParamValue::String("x".into()));
    let env = env.clone();
    let errs = render_environment(&p, &env).unwrap_err().into_vec();
    assert_eq!(errs.len(), 1, "reported once, not per component");
    assert!(errs[0].to_string().starts_with(
        "environment `dev` defines parameter `env.name`, a built-in name; rename the parameter"
    ));
}

#[test]
fn rendering_for_a_release_fills_the_version() {
    let mut p = shop();
    let web = p.components.iter_mut().find(|c| c.id == "web").unwrap();
    web.config
        .insert("version".into(), "{{ release.version }}".into());
    let v = semver::Version::parse("7.1.0").unwrap();
    let env = p.environment("dev").unwrap();
    let r = render_environment_for(&p, env, Some(&v)).unwrap();
    assert_eq!(r["web"].file("version").unwrap().to_string(), "7.1.0");
    assert!(render_environment(&p, env).is_err());
}

fn staging_orders() -> RenderedConfig {
    let p = shop();
    let env = p.environment("staging").unwrap();
    render_component(&p, p.component("orders-api").unwrap(), env, None).unwrap()
}

#[test]
fn digests_are_stable_and_printed_as_sha256() {
    let a = staging_orders();
    let b = staging_orders();
    assert_eq!(a.digest(), b.digest());
    let s = a.digest().to_string();
    assert!(s.starts_with("sha256:") && s.len() == 71, "{s}");
    assert_eq!(s.parse::<ConfigDigest>().unwrap(), a.digest());
    let p = shop();
    let prod = render_component(
        &p,
        p.component("orders-api").unwrap(),
        p.environment("production").unwrap(),
        None,
    )
    .unwrap();
    assert_ne!(a.digest(), prod.digest());
}

struct Failing(bool);

#[async_trait::async_trait]
impl SecretProvider for Failing {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        Err(SecretError::Backend {
            reference: reference.clone(),
            message: "connection reset".into(),
            retryable: self.0,
            source: None,
        })
    }
}

#[tokio::test]
async fn resolved_config_never_shows_the_secret() {
    let rendered = staging_orders();
    let provider: Arc<dyn SecretProvider> = Arc::new(InMemorySecrets::new().with(
        secret("vault://shop/staging/orders/db"),
        SecretValue::new("s3cr3t-hunter2"),
    ));
    let resolved = rendered.resolve(provider.as_ref()).await.unwrap();
    for shown in [
        format!("{resolved:?}"),
        format!("{resolved:#?}"),
        resolved.to_string(),
        serde_json::to_string(&resolved).unwrap(),
        resolved.redacted_file("app.env").unwrap(),
    ] {
        assert!(!shown.contains("s3cr3t-hunter2"), "{shown}");
        assert!(shown.contains("DATABASE_PASSWORD=[REDACTED]"), "{shown}");
    }
    let exposed = resolved.expose_file("app.env").unwrap();
    assert!(
        exposed.contains("DATABASE_PASSWORD=s3cr3t-hunter2\n"),
        "{exposed}"
    );
    assert!(resolved.expose_file("nope").is_none());
    assert_eq!(resolved.digest(), rendered.digest());
    assert_eq!(resolved.file_names().collect::<Vec<_>>(), ["app.env"]);
}

#[tokio::test]
async fn resolution_errors_are_typed() {
    let rendered = staging_orders();
    let err = rendered.resolve(&InMemorySecrets::new()).await.unwrap_err();
    assert!(
        matches!(&err, SecretError::NotFound { reference } if reference.as_str() == "vault://shop/staging/orders/db")
    );
    assert!(!err.is_retryable());
    let err = rendered.resolve(&Failing(true)).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(err.to_string().contains("retry"), "{err}");
    assert!(
        !rendered
            .resolve(&Failing(false))
            .await
            .unwrap_err()
            .is_retryable()
    );
}

#[test]
fn in_memory_secrets_debug_shows_references_only() {
    let s = InMemorySecrets::new().with(secret("vault://a"), SecretValue::new("topsecret"));
    let d = format!("{s:?}");
    assert!(d.contains("vault://a") && !d.contains("topsecret"), "{d}");
}

#[test]
fn shop_parity_is_clean_because_it_allows_its_differences() {
    let report = parity_report(&shop());
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.allowed,
        ["db_host", "db_password", "domain", "log_level", "replicas"]
    );
    assert_eq!(
        report.to_string(),
        "parity: no configuration key differs between tiers beyond the allowed \
         (db_host, db_password, domain, log_level, replicas)\n"
    );
}

#[test]
fn parity_reports_unallowed_differences_and_missing_keys() {
    let mut p = shop();
    p.parity.allow = vec!["replicas".into(), "db_host".into(), "domain".into()];
    for e in &mut p.environments {
        if e.name != "dev" {
            e.parameters
                .insert("feature_notes".into(), ParamValue::Bool(true));
        }
        // Same value everywhere: not reported.
        e.parameters
            .insert("region".into(), ParamValue::String("eu".into()));
    }
    let report = parity_report(&p);
    assert!(!report.is_clean());
    let keys: Vec<(&str, ParityKind)> = report
        .differences
        .iter()
        .map(|d| (d.key.as_str(), d.kind))
        .collect();
    assert_eq!(
        keys,
        [
            ("db_password", ParityKind::Differs),
            ("feature_notes", ParityKind::Missing),
            ("log_level", ParityKind::Differs),
        ]
    );
    assert_eq!(report.allowed, ["db_host", "domain", "replicas"]);
    let pw = &report.differences[0].values;
    assert_eq!(
        pw["production"].as_deref(),
        Some("secret:vault://shop/production/orders/db")
    );
    assert_eq!(report.differences[1].values["dev"], None);
    assert_eq!(
        report.to_string(),
        "parity: 3 configuration key(s) differ between tiers; make them equal or add them to `parity.allow`\n\
         key            kind     dev (development)  staging (staging)                      production (production)\n\
         db_password    differs  dev-password       secret:vault://shop/staging/orders/db  secret:vault://shop/production/orders/db\n\
         feature_notes  missing  (missing)          true                                   true\n\
         log_level      differs  debug              debug                                  info\n\
         allowed to differ: db_host, domain, replicas\n"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["differences"][1]["kind"], "missing");
}

#[test]
fn parity_ignores_differences_within_one_tier_and_yaml_types() {
    let mut p = shop();
    p.parity.allow.clear();
    for e in &mut p.environments {
        e.parameters.clear();
        e.parameters
            .insert("replicas".into(), ParamValue::Integer(2));
    }
    p.environments[0]
        .parameters
        .insert("replicas".into(), ParamValue::String("2".into()));
    let mut prod2 = p.environment("production").unwrap().clone();
    prod2.name = "production-us".into();
    prod2
        .parameters
        .insert("zone".into(), ParamValue::Integer(1));
    p.environments
        .iter_mut()
        .find(|e| e.name == "production")
        .unwrap()
        .parameters
        .insert("zone".into(), ParamValue::Integer(2));
    p.environments.push(prod2);
    let report = parity_report(&p);
    // `zone` differs only between production environments but is missing elsewhere.
    assert_eq!(report.differences.len(), 1, "{report}");
    assert_eq!(report.differences[0].key, "zone");
    assert_eq!(report.differences[0].kind, ParityKind::Missing);
}

#[test]
fn drift_names_files_and_keys_without_values_of_secrets() {
    let p = shop();
    let baseline = staging_orders();
    let mut changed = p.clone();
    let env = changed
        .environments
        .iter_mut()
        .find(|e| e.name == "staging")
        .unwrap();
    env.parameters.insert(
        "db_password".into(),
        ParamValue::Secret(secret("vault://shop/staging/orders/db-v2")),
    );
    env.parameters
        .insert("log_level".into(), ParamValue::String("info".into()));
    let env = env.clone();
    let current = render_component(
        &changed,
        changed.component("orders-api").unwrap(),
        &env,
        None,
    )
    .unwrap()
    .with_file("extra.yaml", RenderedFile::text("a: 1\n"));
    assert_ne!(baseline.digest(), current.digest());
    let drift = diff_rendered(&baseline, &current);
    assert_eq!(
        drift,
        [
            ConfigDrift::FileChanged {
                file: "app.env".into(),
                keys: Some(vec![
                    KeyDrift {
                        key: "DATABASE_PASSWORD".into(),
                        before: Some("{{secret:vault://shop/staging/orders/db}}".into()),
                        after: Some("{{secret:vault://shop/staging/orders/db-v2}}".into()),
                    },
                    KeyDrift {
                        key: "LOG_LEVEL".into(),
                        before: Some("debug".into()),
                        after: Some("info".into()),
                    },
                ]),
            },
            ConfigDrift::FileAdded {
                file: "extra.yaml".into()
            },
        ]
    );
    assert_eq!(
        drift[0].to_string(),
        "app.env: `DATABASE_PASSWORD` changed from `{{secret:vault://shop/staging/orders/db}}` \
         to `{{secret:vault://shop/staging/orders/db-v2}}`; `LOG_LEVEL` changed from `debug` to `info`"
    );
    assert_eq!(
        diff_rendered(&current, &baseline)[1],
        ConfigDrift::FileRemoved {
            file: "extra.yaml".into()
        }
    );
    assert!(diff_rendered(&baseline, &staging_orders()).is_empty());
}

#[test]
fn drift_in_non_key_files_is_reported_per_file() {
    let a = RenderedConfig::new().with_file("app.yaml", RenderedFile::text("a: 1\n"));
    let b = RenderedConfig::new().with_file("app.yaml", RenderedFile::text("a: 2\n"));
    assert_eq!(
        diff_rendered(&a, &b),
        [ConfigDrift::FileChanged {
            file: "app.yaml".into(),
            keys: None
        }]
    );
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        "[a-zA-Z=\n ]{0,8}".prop_map(Segment::Text),
        "[a-z]{1,6}".prop_map(|p| Segment::Secret(secret(&format!("vault://{p}")))),
    ]
}

fn config() -> impl Strategy<Value = Vec<(String, Vec<Segment>)>> {
    prop::collection::vec(
        ("[a-z.]{1,6}", prop::collection::vec(segment(), 0..5)),
        0..5,
    )
}

fn build(files: &[(String, Vec<Segment>)]) -> RenderedConfig {
    files.iter().fold(RenderedConfig::new(), |c, (n, s)| {
        c.with_file(n.clone(), RenderedFile::new(s.clone()))
    })
}

proptest! {
    #[test]
    fn any_template_renders_or_fails_without_panicking(template in "\\PC*|[{} a-z_.\n]*") {
        let _ = render_one(&template, "staging", None);
    }

    #[test]
    fn templates_without_placeholders_render_to_themselves(template in "[^{]*") {
        let r = render_one(&template, "dev", None).unwrap();
        prop_assert_eq!(r.file("t.env").unwrap().to_string(), template);
    }

    #[test]
    fn digest_depends_on_content_not_insertion_order(files in config()) {
        let forward = build(&files);
        let mut reversed_files = files.clone();
        reversed_files.reverse();
        // Later duplicates win in `forward`; keep the same winners for the reversed build.
        let mut seen = std::collections::BTreeSet::new();
        reversed_files.retain(|(n, _)| seen.insert(n.clone()));
        prop_assert_eq!(forward.digest(), build(&reversed_files).digest());
        prop_assert_eq!(forward.digest(), build(&files).digest());
    }

    #[test]
    fn digest_changes_with_any_text_or_reference(files in config(), edit in "[xyz]{1,3}") {
        let base = build(&files);
        for (name, file) in base.files() {
            for (i, s) in file.segments().iter().enumerate() {
                let mut segments = file.segments().to_vec();
                segments[i] = match s {
                    Segment::Text(t) => Segment::Text(format!("{t}{edit}")),
                    Segment::Secret(r) => Segment::Secret(secret(&format!("{r}{edit}"))),
                };
                let changed = base.clone().with_file(name.clone(), RenderedFile::new(segments));
                prop_assert_ne!(base.digest(), changed.digest());
                prop_assert!(!diff_rendered(&base, &changed).is_empty());
            }
            let renamed = {
                let mut c = RenderedConfig::new();
                for (n, f) in base.files() {
                    let n = if n == name { format!("{n}{edit}") } else { n.clone() };
                    c.insert(n, f.clone());
                }
                c
            };
            if renamed.files().len() == base.files().len() {
                prop_assert_ne!(base.digest(), renamed.digest());
            }
        }
    }
}

#[test]
fn rendered_config_round_trips_through_json_with_its_digest() {
    let rendered = staging_orders();
    let json = serde_json::to_string(&rendered).unwrap();
    assert!(
        json.contains(r#"{"secret":"vault://shop/staging/orders/db"}"#),
        "{json}"
    );
    let back: RenderedConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rendered);
    assert_eq!(back.digest(), rendered.digest());
}

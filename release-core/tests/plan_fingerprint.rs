//! Plans are byte-identical across planner optimisations: seeded platforms and releases read
//! from manifest text, planned in several ways, compared with SHA-256 digests recorded from
//! the planner before issue #10's third round (commit a9494cf: `plan_release` in one piece,
//! before `Planner`). A change to what a plan says fails here; an optimisation must not.
//!
//! The generator mixes what the planner's fast paths distinguish: ids of 1–40 bytes (up to
//! 16 fit the resolver's inline slot, up to 23 `SmolStr`'s inline buffer), versions with and
//! without pre-release and build identifiers, artifacts, every built-in and a custom strategy,
//! missing estimates, dependencies on earlier components in listing order (so acyclic) with
//! duplicates, releases that ship everything, every 7th component, or a scattered handful.

use release_core::manifest::{Document, Format, parse_str};
use release_core::model::{Platform, Release};
use release_core::plan::{PlanOptions, Planner, plan_release};
use sha2::{Digest, Sha256};

/// SplitMix64: a tiny seeded generator, enough for test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const N: usize = 2_000;

/// Component `i`'s id: a random-length name, unique by its index.
fn id(i: usize) -> String {
    let mut rng = Rng(i as u64 ^ 0x5eed);
    let len = 1 + rng.below(36) as usize;
    let mut name: String = (0..len)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    name.push_str(&format!("-{i}"));
    name
}

fn platform_text(seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut text = String::from(
        "apiVersion: release/v1\nkind: Platform\nmetadata: { name: fp }\ncomponents:\n",
    );
    for i in 0..N {
        let mut line = format!(
            "  - {{ id: {}, owner: {{ primary: a@x, backup: b@x }}, criticality: {}",
            id(i),
            ["low", "medium", "high", "critical"][rng.below(4) as usize]
        );
        if i > 0 {
            let deps: Vec<String> = (0..rng.below(5))
                .map(|_| id(rng.below(i as u64) as usize))
                .collect();
            line.push_str(&format!(", depends_on: [{}]", deps.join(", ")));
        }
        if rng.below(4) != 0 {
            line.push_str(&format!(", estimated_duration: {}s", 1 + rng.below(900)));
        }
        line.push_str(match rng.below(6) {
            0 => ", strategy: { rolling: { max_surge: 1, max_unavailable: 0 } }",
            1 => ", strategy: { canary: { steps: [ { set_weight: 10 }, { pause: 1m } ] } }",
            2 => ", strategy: { blue_green: { scale_down_delay: 1m } }",
            3 => ", strategy: { custom: { name: shadow } }",
            4 => ", strategy: { all_at_once: {} }",
            _ => "",
        });
        line.push_str(" }\n");
        text.push_str(&line);
    }
    text.push_str(
        "environments:\n  - { name: dev, tier: development }\n  - { name: staging, tier: staging }\n  \
         - { name: production, tier: production }\nlifecycle:\n  phases:\n    \
         - { name: test, environments: [dev, staging] }\n    - { name: live, environments: [production] }\n",
    );
    text
}

fn release_text(name: &str, seed: u64, ship: impl Fn(usize) -> bool, cap: Option<u32>) -> String {
    let mut rng = Rng(seed);
    let mut text = format!(
        "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: {name} }}\nplatform: fp\n\
         version: 3.1.4\ntype: delta\nrelease_manager: {{ primary: a@x, backup: b@x }}\n"
    );
    if let Some(cap) = cap {
        text.push_str(&format!("max_parallel: {cap}\n"));
    }
    text.push_str("components:\n");
    for i in (0..N).filter(|&i| ship(i)) {
        let version = match rng.below(3) {
            0 => format!("1.{}.{}", rng.below(20), rng.below(20)),
            1 => format!("2.0.{}-rc.{}", rng.below(9), rng.below(9)),
            _ => format!("0.{}.0-alpha+build.{}", rng.below(9), rng.below(999)),
        };
        let artifact = if rng.below(2) == 0 {
            format!(
                ", artifact: \"registry.example/{}@sha256:{:016x}\"",
                id(i),
                rng.next()
            )
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  {}: {{ version: \"{version}\"{artifact} }}\n",
            id(i)
        ));
    }
    text
}

fn platform(seed: u64) -> Platform {
    match parse_str(&platform_text(seed), "fp.yaml", Format::Yaml).map(|mut d| d.remove(0)) {
        Ok(Document::Platform(p)) => p.value,
        other => panic!("the generated platform parses: {other:?}"),
    }
}

fn release(text: &str) -> Release {
    match parse_str(text, "r.yaml", Format::Yaml).map(|mut d| d.remove(0)) {
        Ok(Document::Release(r)) => r.value,
        other => panic!("the generated release parses: {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over the plan's JSON and its text rendering.
fn digest(plan: &release_core::plan::Plan) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(plan).expect("plans serialize"));
    hasher.update(plan.to_text().as_bytes());
    hex(&hasher.finalize())
}

/// (name, release, options) of every case.
fn cases() -> Vec<(&'static str, Release, PlanOptions)> {
    let everything = release_text("all", 1, |_| true, None);
    let sevenths = release_text("sevenths", 2, |i| i % 7 == 3, None);
    let scattered = release_text(
        "scattered",
        3,
        |i| [5, 6, 999, 1_000, 1_998].contains(&i),
        None,
    );
    let capped = release_text("capped", 4, |i| i % 3 != 0, Some(5));
    vec![
        (
            "all",
            release(&everything),
            PlanOptions::new().with_blast_radius(false),
        ),
        ("sevenths", release(&sevenths), PlanOptions::new()),
        ("scattered", release(&scattered), PlanOptions::new()),
        (
            "capped",
            release(&capped),
            PlanOptions::new().with_blast_radius(false),
        ),
        (
            "staging-only",
            release(&sevenths),
            PlanOptions::new()
                .with_environment("staging")
                .with_max_parallel(2)
                .with_default_duration(release_core::model::HumanDuration::from_secs(42)),
        ),
    ]
}

/// Recorded with the planner at a9494cf (before `Planner`).
const RECORDED: [(&str, &str); 5] = [
    (
        "all",
        "7421f77a484b2b30d34775357afdc565818a13d36fc7c2af926898a2f57dbb2c",
    ),
    (
        "sevenths",
        "2ad66e15ac29c1a70615b2d804bf5543fd102456cb60ac9858bc9fc4c2c7cf0f",
    ),
    (
        "scattered",
        "d28694aa0b968d45dce61bd1f32e5c2936163c35427ecf275c2e1da885f8df7a",
    ),
    (
        "capped",
        "18dd2f4165835d3d0758588a577c084c4a0b4f044d88ac1336c65d7a46598030",
    ),
    (
        "staging-only",
        "56ba9ece8458ce9e4408a747836b0e3d4b8b205e83b3e8dd90b478a3dcd4a00e",
    ),
];

#[test]
fn plans_match_the_digests_recorded_before_the_planner_was_split() {
    let platform = platform(7);
    let planner = Planner::new(&platform).expect("the generated platform is acyclic");
    let mut got = Vec::new();
    for (name, release, options) in cases() {
        let alone = plan_release(&platform, &release, &options).expect("plans");
        let reused = planner.plan(&release, &options).expect("plans");
        let (a, b) = (digest(&alone), digest(&reused));
        assert_eq!(a, b, "{name}: the kept planner and plan_release disagree");
        got.push((name, a));
    }
    for ((name, digest), (recorded_name, recorded)) in got.iter().zip(RECORDED) {
        assert_eq!(*name, recorded_name);
        assert_eq!(digest, recorded, "{name}: the plan changed (all: {got:?})");
    }
}

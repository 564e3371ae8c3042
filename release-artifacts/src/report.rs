//! The HTML report of one release: a single self-contained page (no scripts, no external
//! files) with the release's timeline, the traffic weights of every weighted rollout, the
//! canary's metrics against their baseline, and the stakeholders' summary and review — all
//! drawn from the journal alone.
//!
//! Charts are SVG drawn with plotters' SVG back end (no font or bitmap back end: the browser
//! lays out the text). Decisions:
//! - **Time axis**: minutes since `release_started`, so the report reads the same in every
//!   time zone; absolute times are in the tables (UTC, RFC 3339).
//! - **Timeline lanes**: one per environment (the stage, its watch window, gates, triggers,
//!   rollback) and one per component in it (each journaled step as a bar; rollback steps red).
//! - **Baselines**: an analysis's measurements are drawn against the bound of its template's
//!   success (or failure) condition; metric samples recorded with the release
//!   (`metrics_sampled`) are drawn per slot, so a canary is seen against its stable baseline.
//! - **Deterministic**: the same records give the same bytes (plotters' output is a pure
//!   function of the drawing calls; every list is in journal or sorted order).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use release_core::closure::{
    PostImplementationReview, ReleaseSummary, format_secs, post_implementation_review,
    release_summary,
};
use release_core::id::{ComponentId, EnvironmentName};
use release_core::ledger::{Event, Program, Record};
use release_core::model::Platform;
use release_core::plugin::{GateVerdict, RolloutStep};

use crate::error::{ArtifactError, Result};

/// Width of every chart, in pixels.
const WIDTH: u32 = 1100;

/// Renders the release whose whole journal `records` is as one HTML page.
pub fn render_html(records: &[Record]) -> Result<String> {
    let report_error = |problem: String| ArtifactError::Report {
        release: records
            .first()
            .map_or_else(|| "(empty journal)".to_owned(), |r| r.release.to_string()),
        problem,
    };
    let summary = release_summary(records).map_err(|e| report_error(e.to_string()))?;
    let review = post_implementation_review(records).map_err(|e| report_error(e.to_string()))?;
    let Some((start, platform)) = records.iter().find_map(|r| match &r.event {
        Event::ReleaseStarted { platform, .. } => Some((r.at, platform.as_ref())),
        _ => None,
    }) else {
        return Err(report_error("the journal has no release_started".into()));
    };
    let timeline = Timeline::of(records, start);

    let mut html = String::new();
    let title = format!("Release {} (v{})", summary.release, summary.version);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header><h1>{}</h1><p class=\"outcome {}\">{}</p></header>\n",
        esc(&title),
        esc(&title),
        esc(&summary.outcome.status),
        esc(&summary.outcome.text)
    );

    html.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    let svg = timeline_chart(&timeline).map_err(report_error)?;
    figure(
        &mut html,
        "chart-timeline",
        &svg,
        "Stages, steps, gates, watch windows, triggers and rollbacks; minutes since the release started.",
    );
    html.push_str(LEGEND);
    events_table(&mut html, records, start);
    html.push_str("</section>\n");

    html.push_str("<section id=\"traffic\">\n<h2>Traffic weights</h2>\n");
    let routes = weights(records, start);
    if routes.is_empty() {
        html.push_str("<p>No rollout shifted traffic by weight.</p>\n");
    }
    for (i, ((env, component), route)) in routes.iter().enumerate() {
        let svg = weights_chart(env, component, route, timeline.end).map_err(report_error)?;
        figure(
            &mut html,
            &format!("chart-weights-{i}"),
            &svg,
            &format!("Per-step traffic weights of {component} in {env}."),
        );
    }
    html.push_str("</section>\n");

    html.push_str("<section id=\"metrics\">\n<h2>Canary metrics against the baseline</h2>\n");
    let mut charts = 0;
    for (i, analysis) in analyses(records, platform).iter().enumerate() {
        let svg = analysis_chart(analysis).map_err(report_error)?;
        figure(
            &mut html,
            &format!("chart-analysis-{i}"),
            &svg,
            &format!(
                "Analysis {} of {} in {}: {} (measurements against the {} bound).",
                analysis.name,
                analysis.component,
                analysis.environment,
                analysis.outcome,
                analysis
                    .bound
                    .as_ref()
                    .map_or("no".to_owned(), |(label, _)| label.clone())
            ),
        );
        charts += 1;
    }
    for (i, ((env, component, metric), slots)) in samples(records, start).iter().enumerate() {
        let svg = samples_chart(env, component, metric, slots).map_err(report_error)?;
        figure(
            &mut html,
            &format!("chart-samples-{i}"),
            &svg,
            &format!("{metric} of {component} in {env}, per slot."),
        );
        charts += 1;
    }
    if charts == 0 {
        html.push_str(
            "<p>No analysis measured anything and no metric samples were recorded.</p>\n",
        );
    }
    html.push_str("</section>\n");

    summary_html(&mut html, &summary);
    review_html(&mut html, &review);
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1160px;color:#222}\
h1{margin-bottom:.2em}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f2f2f2}\
figure{margin:1em 0}figcaption{font-size:13px;color:#555}.outcome{font-weight:bold}\
.succeeded{color:#1a7f37}.rolled_back,.aborted,.gate_failed{color:#cf222e}.in_progress{color:#9a6700}\
.legend span{display:inline-block;margin-right:1em;font-size:13px}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}\
.met{color:#1a7f37}.unmet{color:#cf222e}";

const LEGEND: &str = "<p class=\"legend\">\
<span><i style=\"background:#d0e4f5\"></i>stage</span>\
<span><i style=\"background:#fff1b8\"></i>watch window</span>\
<span><i style=\"background:#4c78a8\"></i>apply</span>\
<span><i style=\"background:#9d67c4\"></i>traffic weights</span>\
<span><i style=\"background:#f58518\"></i>analysis</span>\
<span><i style=\"background:#b0b0b0\"></i>pause</span>\
<span><i style=\"background:#54a24b\"></i>verify</span>\
<span><i style=\"background:#e45756\"></i>rollback</span>\
<span><i style=\"background:#1a7f37;border-radius:6px\"></i>gate passed</span>\
<span><i style=\"background:#d4a000;border-radius:6px\"></i>gate waits</span>\
<span><i style=\"background:#cf222e;border-radius:6px\"></i>gate failed / trigger</span>\
</p>\n";

fn figure(html: &mut String, id: &str, svg: &str, caption: &str) {
    let _ = writeln!(
        html,
        "<figure class=\"chart\" id=\"{id}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
        esc(caption)
    );
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An axis label in minutes: whole minutes, or tenths on a short axis.
fn minute_label(m: &f64) -> String {
    if m.fract().abs() < 1e-9 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

fn minutes(start: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (at - start).num_milliseconds() as f64 / 60_000.0
}

const STAGE: RGBColor = RGBColor(0xd0, 0xe4, 0xf5);
const WATCH: RGBColor = RGBColor(0xff, 0xf1, 0xb8);
const APPLY: RGBColor = RGBColor(0x4c, 0x78, 0xa8);
const WEIGHTS: RGBColor = RGBColor(0x9d, 0x67, 0xc4);
const ANALYSIS: RGBColor = RGBColor(0xf5, 0x85, 0x18);
const PAUSE: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);
const VERIFY: RGBColor = RGBColor(0x54, 0xa2, 0x4b);
const ROLLBACK: RGBColor = RGBColor(0xe4, 0x57, 0x56);
const PASS: RGBColor = RGBColor(0x1a, 0x7f, 0x37);
const WAIT: RGBColor = RGBColor(0xd4, 0xa0, 0x00);
const FAIL: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
const SLOTS: [RGBColor; 5] = [APPLY, ANALYSIS, VERIFY, WEIGHTS, ROLLBACK];

/// A bar on a lane, in minutes.
struct Bar {
    lane: usize,
    from: f64,
    to: f64,
    color: RGBColor,
}

/// A marker on a lane.
struct Marker {
    lane: usize,
    at: f64,
    color: RGBColor,
    cross: bool,
}

/// The timeline's lanes, bars and markers.
struct Timeline {
    lanes: Vec<String>,
    bars: Vec<Bar>,
    markers: Vec<Marker>,
    end: f64,
}

impl Timeline {
    fn of(records: &[Record], start: DateTime<Utc>) -> Self {
        let end = records
            .last()
            .map_or(0.0, |r| minutes(start, r.at))
            .max(1.0);
        let mut lanes: Vec<String> = Vec::new();
        let mut lane_of = |name: String| match lanes.iter().position(|l| *l == name) {
            Some(i) => i,
            None => {
                lanes.push(name);
                lanes.len() - 1
            }
        };
        let mut bars = Vec::new();
        let mut markers = Vec::new();
        let mut open_stage: BTreeMap<EnvironmentName, f64> = BTreeMap::new();
        let mut open_watch: BTreeMap<EnvironmentName, f64> = BTreeMap::new();
        let mut open_rollback: BTreeMap<EnvironmentName, f64> = BTreeMap::new();
        let mut open_steps = BTreeMap::new();
        for r in records {
            let at = minutes(start, r.at);
            match &r.event {
                Event::StageStarted { environment, .. } => {
                    lane_of(environment.to_string());
                    open_stage.entry(environment.clone()).or_insert(at);
                }
                Event::StageCompleted { environment }
                | Event::RollbackCompleted { environment } => {
                    let lane = lane_of(environment.to_string());
                    if let Some(from) = open_stage.remove(environment) {
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color: STAGE,
                        });
                    }
                    if let Some(from) = open_rollback.remove(environment) {
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color: ROLLBACK,
                        });
                    }
                    if let Some(from) = open_watch.remove(environment) {
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color: WATCH,
                        });
                    }
                }
                Event::WatchStarted { environment, .. } => {
                    open_watch.insert(environment.clone(), at);
                }
                Event::WatchCompleted { environment } => {
                    if let Some(from) = open_watch.remove(environment) {
                        let lane = lane_of(environment.to_string());
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color: WATCH,
                        });
                    }
                }
                Event::RollbackStarted { environment, .. } => {
                    let lane = lane_of(environment.to_string());
                    if let Some(from) = open_watch.remove(environment) {
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color: WATCH,
                        });
                    }
                    open_rollback.insert(environment.clone(), at);
                }
                Event::GateEvaluated {
                    environment,
                    verdict,
                    ..
                } => {
                    let color = match verdict {
                        GateVerdict::Pass { .. } => PASS,
                        GateVerdict::Wait { .. } => WAIT,
                        GateVerdict::Fail { .. } => FAIL,
                    };
                    let lane = lane_of(environment.to_string());
                    markers.push(Marker {
                        lane,
                        at,
                        color,
                        cross: false,
                    });
                }
                Event::TriggerFired { environment, .. } => {
                    let lane = lane_of(environment.to_string());
                    markers.push(Marker {
                        lane,
                        at,
                        color: FAIL,
                        cross: true,
                    });
                }
                Event::StepStarted { key, step } => {
                    let lane = lane_of(format!("{} · {}", key.environment, key.component));
                    let color = if key.program == Program::Rollback {
                        ROLLBACK
                    } else {
                        match step {
                            RolloutStep::Apply(_) | RolloutStep::RemoveSlot { .. } => APPLY,
                            RolloutStep::SetWeights(_) => WEIGHTS,
                            RolloutStep::Analyze { .. }
                            | RolloutStep::StartBackgroundAnalysis { .. } => ANALYSIS,
                            RolloutStep::Pause(_) => PAUSE,
                            RolloutStep::Verify => VERIFY,
                            _ => APPLY,
                        }
                    };
                    open_steps.insert(key.clone(), (lane, at, color));
                }
                Event::StepSucceeded { key } | Event::StepFailed { key, .. } => {
                    if let Some((lane, from, color)) = open_steps.remove(key) {
                        bars.push(Bar {
                            lane,
                            from,
                            to: at,
                            color,
                        });
                    }
                }
                _ => {}
            }
        }
        // Whatever is still open runs to the end of the journal.
        for (env, from) in open_stage {
            let lane = lane_of(env.to_string());
            bars.push(Bar {
                lane,
                from,
                to: end,
                color: STAGE,
            });
        }
        for (env, from) in open_watch.into_iter().chain(open_rollback) {
            let lane = lane_of(env.to_string());
            bars.push(Bar {
                lane,
                from,
                to: end,
                color: WATCH,
            });
        }
        for (_, (lane, from, color)) in open_steps {
            bars.push(Bar {
                lane,
                from,
                to: end,
                color,
            });
        }
        // Stage bands first, so steps and windows are drawn over them.
        bars.sort_by_key(|b| u8::from(b.color != STAGE));
        Self {
            lanes,
            bars,
            markers,
            end,
        }
    }
}

fn timeline_chart(t: &Timeline) -> std::result::Result<String, String> {
    let n = u32::try_from(t.lanes.len().max(1)).unwrap_or(u32::MAX);
    let height = 80 + 28 * n;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Release timeline", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(190)
            .build_cartesian_2d(0f64..t.end * 1.02, (0u32..n).into_segmented())
            .map_err(err)?;
        // Lane 0 is drawn at the top.
        let row = |lane: usize| n - 1 - u32::try_from(lane).unwrap_or(0);
        let names = t.lanes.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => n
                    .checked_sub(i + 1)
                    .and_then(|row| names.get(row as usize))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("minutes since the release started")
            .x_label_formatter(&minute_label)
            .draw()
            .map_err(err)?;
        // A bar of no length still shows.
        let corners = |b: &Bar| {
            [
                (b.from, SegmentValue::Exact(row(b.lane))),
                (
                    b.to.max(b.from + t.end / 400.0),
                    SegmentValue::Exact(row(b.lane) + 1),
                ),
            ]
        };
        chart
            .draw_series(
                t.bars
                    .iter()
                    .map(|b| Rectangle::new(corners(b), b.color.filled())),
            )
            .map_err(err)?;
        // White outlines keep neighbouring bars apart.
        chart
            .draw_series(
                t.bars
                    .iter()
                    .map(|b| Rectangle::new(corners(b), WHITE.stroke_width(1))),
            )
            .map_err(err)?;
        chart
            .draw_series(t.markers.iter().filter(|m| !m.cross).map(|m| {
                Circle::new(
                    (m.at, SegmentValue::CenterOf(row(m.lane))),
                    5,
                    m.color.filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(t.markers.iter().filter(|m| m.cross).map(|m| {
                Cross::new(
                    (m.at, SegmentValue::CenterOf(row(m.lane))),
                    7,
                    m.color.stroke_width(3),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One route's weight changes: (minute, slot weights).
type RouteWeights = Vec<(f64, Vec<(String, u32)>)>;

/// Every route whose weights changed, keyed by (environment, component), in sorted order.
fn weights(
    records: &[Record],
    start: DateTime<Utc>,
) -> BTreeMap<(EnvironmentName, ComponentId), RouteWeights> {
    let mut out: BTreeMap<(EnvironmentName, ComponentId), RouteWeights> = BTreeMap::new();
    for r in records {
        if let Event::StepStarted {
            key,
            step: RolloutStep::SetWeights(ws),
        } = &r.event
        {
            out.entry((key.environment.clone(), key.component.clone()))
                .or_default()
                .push((
                    minutes(start, r.at),
                    ws.iter().map(|w| (w.slot.to_string(), w.weight)).collect(),
                ));
        }
    }
    // A route that only ever sent everything to one slot shifted nothing.
    out.retain(|_, changes| {
        changes
            .iter()
            .any(|(_, ws)| ws.len() > 1 || ws.iter().any(|(_, w)| *w != 100))
    });
    out
}

fn weights_chart(
    env: &EnvironmentName,
    component: &ComponentId,
    route: &RouteWeights,
    end: f64,
) -> std::result::Result<String, String> {
    let mut slots: Vec<&str> = route
        .iter()
        .flat_map(|(_, ws)| ws.iter().map(|(s, _)| s.as_str()))
        .collect();
    slots.sort_unstable();
    slots.dedup();
    let from = route.first().map_or(0.0, |(t, _)| *t);
    let to = end.max(from + 1.0);
    let lines = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            // A step function: each change holds until the next.
            let mut points: Vec<(f64, f64)> = Vec::new();
            for (at, ws) in route {
                let w = ws
                    .iter()
                    .find(|(s, _)| s == slot)
                    .map_or(0.0, |(_, w)| f64::from(*w));
                if let Some(&(_, prev)) = points.last() {
                    points.push((*at, prev));
                }
                points.push((*at, w));
            }
            if let Some(&(_, last)) = points.last() {
                points.push((to, last));
            }
            Line::solid(*slot, SLOTS[i % SLOTS.len()], points)
        })
        .collect();
    line_chart(&LineChart {
        title: format!("Traffic weights: {component} in {env}"),
        x: from..to,
        y: 0.0..105.0,
        x_desc: "minutes since the release started",
        y_desc: "% of requests",
        lines,
    })
}

/// One series of a line chart.
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    dashed: bool,
    markers: bool,
}

impl Line {
    fn solid(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            color,
            points,
            dashed: false,
            markers: false,
        }
    }
}

/// A line chart with a legend.
struct LineChart<'a> {
    title: String,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    x_desc: &'a str,
    y_desc: &'a str,
    lines: Vec<Line>,
}

fn line_chart(c: &LineChart<'_>) -> std::result::Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 300)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&c.title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(c.x.clone(), c.y.clone())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(c.x_desc)
            .y_desc(c.y_desc)
            .x_label_formatter(&minute_label)
            .draw()
            .map_err(err)?;
        for line in &c.lines {
            let style = line.color.stroke_width(if line.dashed { 2 } else { 3 });
            let drawn = if line.dashed {
                chart.draw_series(DashedLineSeries::new(line.points.clone(), 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(line.points.clone(), style))
            };
            drawn
                .map_err(err)?
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            if line.markers {
                chart
                    .draw_series(
                        line.points
                            .iter()
                            .map(|p| Circle::new(*p, 4, line.color.filled())),
                    )
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// An analysis's measurements with its template's bound.
struct AnalysisRun {
    environment: EnvironmentName,
    component: ComponentId,
    name: String,
    outcome: String,
    values: Vec<(f64, f64)>,
    /// ("success < 0.05", 0.05)
    bound: Option<(String, f64)>,
}

fn analyses(records: &[Record], platform: &Platform) -> Vec<AnalysisRun> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::AnalysisCompleted {
                environment,
                component,
                analysis,
                outcome,
                measurements,
            } => {
                let values: Vec<(f64, f64)> = measurements
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| m.map(|v| ((i + 1) as f64, v)))
                    .collect();
                if values.is_empty() {
                    return None;
                }
                let bound = platform.analyses.get(analysis).and_then(|t| {
                    t.success
                        .as_ref()
                        .map(|c| (format!("success {c}"), c.value))
                        .or_else(|| {
                            t.failure
                                .as_ref()
                                .map(|c| (format!("failure {c}"), c.value))
                        })
                });
                Some(AnalysisRun {
                    environment: environment.clone(),
                    component: component.clone(),
                    name: analysis.to_string(),
                    outcome: serde_json::to_value(outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    values,
                    bound,
                })
            }
            _ => None,
        })
        .collect()
}

fn value_range<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let lo = lo.min(0.0);
    let pad = ((hi - lo) * 0.15).max(1e-6);
    (lo, hi + pad)
}

fn analysis_chart(a: &AnalysisRun) -> std::result::Result<String, String> {
    let n = a.values.len() as f64;
    let (lo, hi) = value_range(
        a.values
            .iter()
            .map(|(_, v)| v)
            .chain(a.bound.as_ref().map(|(_, b)| b)),
    );
    let mut lines = vec![Line {
        markers: true,
        ..Line::solid("canary", ANALYSIS, a.values.clone())
    }];
    if let Some((label, bound)) = &a.bound {
        lines.push(Line {
            dashed: true,
            ..Line::solid(
                format!("baseline bound: {label}"),
                FAIL,
                vec![(0.5, *bound), (n + 0.5, *bound)],
            )
        });
    }
    line_chart(&LineChart {
        title: format!(
            "Analysis {} of {} in {}: {}",
            a.name, a.component, a.environment, a.outcome
        ),
        x: 0.5..n + 0.5,
        y: lo..hi,
        x_desc: "measurement",
        y_desc: "value",
        lines,
    })
}

/// Samples per slot: (minute, value), keyed by (environment, component, metric).
type SlotSeries = BTreeMap<String, Vec<(f64, f64)>>;

fn samples(
    records: &[Record],
    start: DateTime<Utc>,
) -> BTreeMap<(EnvironmentName, ComponentId, String), SlotSeries> {
    let mut out: BTreeMap<(EnvironmentName, ComponentId, String), SlotSeries> = BTreeMap::new();
    for r in records {
        if let Event::MetricsSampled(s) = &r.event {
            let series = out
                .entry((s.environment.clone(), s.component.clone(), s.metric.clone()))
                .or_default();
            for sample in &s.samples {
                series
                    .entry(sample.slot.clone())
                    .or_default()
                    .push((minutes(start, sample.at), sample.value));
            }
        }
    }
    for series in out.values_mut() {
        for points in series.values_mut() {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
    out
}

fn samples_chart(
    env: &EnvironmentName,
    component: &ComponentId,
    metric: &str,
    slots: &SlotSeries,
) -> std::result::Result<String, String> {
    let times = slots.values().flatten().map(|(t, _)| *t);
    let (t0, t1) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
        (a.min(t), b.max(t))
    });
    let (t0, t1) = if t0.is_finite() {
        (t0, t1.max(t0 + 1.0))
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = value_range(slots.values().flatten().map(|(_, v)| v));
    let lines = slots
        .iter()
        .enumerate()
        .map(|(i, (slot, points))| {
            Line::solid(slot.clone(), SLOTS[i % SLOTS.len()], points.clone())
        })
        .collect();
    line_chart(&LineChart {
        title: format!("{metric}: {component} in {env}"),
        x: t0..t1,
        y: lo..hi,
        x_desc: "minutes since the release started",
        y_desc: metric,
        lines,
    })
}

fn table(html: &mut String, id: &str, headers: &[&str], rows: &[Vec<String>]) {
    let _ = write!(html, "<table id=\"{id}\"><tr>");
    for h in headers {
        let _ = write!(html, "<th>{}</th>", esc(h));
    }
    html.push_str("</tr>\n");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", esc(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

fn events_table(html: &mut String, records: &[Record], start: DateTime<Utc>) {
    let rows: Vec<Vec<String>> = records
        .iter()
        .filter_map(|r| {
            let (env, what) = match &r.event {
                Event::StageStarted {
                    environment,
                    attempt,
                } => (
                    environment.to_string(),
                    format!("stage started (attempt {attempt})"),
                ),
                Event::GateEvaluated {
                    environment,
                    gate,
                    verdict,
                    ..
                } => {
                    let word = match verdict {
                        GateVerdict::Pass { .. } => "passed",
                        GateVerdict::Wait { .. } => "waits",
                        GateVerdict::Fail { .. } => "failed",
                    };
                    (environment.to_string(), format!("gate {gate} {word}"))
                }
                Event::Paused {
                    environment,
                    reason,
                } => (
                    environment
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    format!("paused: {reason}"),
                ),
                Event::WatchStarted { environment, .. } => {
                    (environment.to_string(), "watch window started".to_owned())
                }
                Event::TriggerFired {
                    environment,
                    trigger,
                    observed,
                    ..
                } => (
                    environment.to_string(),
                    format!("trigger: {trigger}: {observed}"),
                ),
                Event::IssueReported(i) => (
                    i.environment.to_string(),
                    format!("{} issue {} reported: {}", i.severity, i.id, i.title),
                ),
                Event::RollbackStarted {
                    environment,
                    reason,
                } => (
                    environment.to_string(),
                    format!("rollback started: {reason}"),
                ),
                Event::RollbackCompleted { environment } => {
                    (environment.to_string(), "rolled back".to_owned())
                }
                Event::RcaOpened(o) => (o.environment.to_string(), format!("RCA {} opened", o.id)),
                Event::StageCompleted { environment } => {
                    (environment.to_string(), "stage completed".to_owned())
                }
                Event::ReleaseFinished { outcome } => (String::new(), format!("release {outcome}")),
                _ => return None,
            };
            Some(vec![
                format!("{:.1}", minutes(start, r.at)),
                r.at.to_rfc3339(),
                env,
                what,
            ])
        })
        .collect();
    table(
        html,
        "events",
        &["Minute", "Time (UTC)", "Environment", "What happened"],
        &rows,
    );
}

fn summary_html(html: &mut String, s: &ReleaseSummary) {
    html.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    let _ = writeln!(
        html,
        "<p>Type {}; release manager {} (backup {}); started {} by {}.</p>",
        esc(&s.kind),
        esc(s.release_manager.as_str()),
        esc(s.backup_manager.as_str()),
        esc(&s.started_at.to_rfc3339()),
        esc(&s.started_by)
    );
    html.push_str("<h3>Changes</h3>\n");
    let rows: Vec<Vec<String>> = s
        .changes
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.summary.clone().unwrap_or_default(),
                c.request.to_string(),
                c.risk.clone().unwrap_or_default(),
                c.components
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        html,
        "changes",
        &["Change", "Summary", "Request", "Risk", "Components"],
        &rows,
    );
    html.push_str("<h3>Versions per environment</h3>\n");
    let rows: Vec<Vec<String>> = s
        .environments
        .iter()
        .map(|e| {
            vec![
                e.environment.to_string(),
                serde_json::to_value(e.status)
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                    .unwrap_or_default(),
                e.versions
                    .iter()
                    .map(|(c, v)| format!("{c} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        html,
        "versions",
        &["Environment", "Status", "Versions"],
        &rows,
    );
    html.push_str("<h3>Known issues</h3>\n");
    let rows: Vec<Vec<String>> = s
        .known_issues
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.severity.to_string(),
                i.environment.to_string(),
                i.owner.to_string(),
                i.title.clone(),
            ]
        })
        .collect();
    table(
        html,
        "known-issues",
        &["Issue", "Severity", "Environment", "Owner", "Title"],
        &rows,
    );
    html.push_str("<h3>Mitigations</h3>\n");
    let rows: Vec<Vec<String>> = s
        .mitigations
        .iter()
        .map(|m| vec![m.kind.clone(), m.environment.to_string(), m.text.clone()])
        .collect();
    table(
        html,
        "mitigations",
        &["Kind", "Environment", "What was done"],
        &rows,
    );
    if !s.rcas.is_empty() {
        html.push_str("<h3>Root-cause analyses</h3>\n");
        let rows: Vec<Vec<String>> = s
            .rcas
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.components
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.closure
                        .as_ref()
                        .map_or_else(|| "open".to_owned(), |c| format!("closed: {}", c.cause)),
                ]
            })
            .collect();
        table(html, "rcas", &["RCA", "Components", "State"], &rows);
    }
    html.push_str("</section>\n");
}

fn review_html(html: &mut String, r: &PostImplementationReview) {
    html.push_str("<section id=\"review\">\n<h2>Post-implementation review</h2>\n");
    let _ = writeln!(
        html,
        "<p>Planned {}, actual {}; success criteria {}.</p>",
        format_secs(r.planned_secs),
        format_secs(r.actual_secs),
        if r.success { "met" } else { "not all met" }
    );
    html.push_str(
        "<table id=\"criteria\"><tr><th>Criterion</th><th>Met</th><th>Observed</th></tr>\n",
    );
    for c in &r.success_criteria {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&c.criterion),
            if c.met { "met" } else { "unmet" },
            if c.met { "yes" } else { "no" },
            esc(&c.detail)
        );
    }
    html.push_str("</table>\n");
    let rows: Vec<Vec<String>> = r
        .incidents
        .iter()
        .map(|i| {
            vec![
                i.environment.to_string(),
                i.cause.clone(),
                format_secs(i.time_to_detect_secs),
                i.time_to_recover_secs
                    .map_or_else(|| "—".to_owned(), format_secs),
            ]
        })
        .collect();
    if !rows.is_empty() {
        html.push_str("<h3>Incidents</h3>\n");
        table(
            html,
            "incidents",
            &["Environment", "Cause", "Time to detect", "Time to recover"],
            &rows,
        );
    }
    let rows: Vec<Vec<String>> = r
        .pain_points
        .longest_waits
        .iter()
        .take(5)
        .map(|w| {
            vec![
                w.environment
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                w.subject.clone(),
                format_secs(w.secs),
            ]
        })
        .collect();
    if !rows.is_empty() {
        html.push_str("<h3>Longest waits</h3>\n");
        table(html, "waits", &["Environment", "What", "Length"], &rows);
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

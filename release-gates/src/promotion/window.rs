//! Deployment windows and freezes (M5.6): recurring (cron + duration) and one-off (from/to)
//! stretches of time in IANA time zones, with a runway check.
//!
//! Decisions (GitLab deploy freezes, ServiceNow blackout/maintenance windows):
//! - **Any active deny closes**; when allows exist one must be active; with neither, the
//!   environment is always open.
//! - **Cron is read in the window's time zone** (UTC when absent) by croner, so `0 9 * * *`
//!   in `Europe/Berlin` starts at 09:00 local time in summer and in winter. A **duration is
//!   elapsed time**: a window of 6h that spans a DST change ends 5 or 7 wall-clock hours
//!   later.
//! - **Nonexistent local start** (02:30 on a spring-forward day): as croner does for fixed
//!   times, the window starts at the first valid instant after the gap (03:00 local) and
//!   lasts its duration from there.
//! - **Ambiguous local start** (02:30 on a fall-back day): as croner does for fixed times,
//!   the window starts once, at the first of the two 02:30s (summer time).
//! - **One-off windows** carry their own offsets; `timezone` is not used for them.
//! - **Runway:** a deploy of estimated duration `d` starts at `t` only when the environment
//!   stays open through `[t, t + d]`: allow windows that touch or overlap are chained, and the
//!   next freeze start cuts the stretch. Otherwise the gate waits until the first instant
//!   where the deploy fits (searched over at most a year and 10 000 window boundaries).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;
use release_core::id::EnvironmentName;
use release_core::model::{Environment, WindowRule, WindowSpec};
use release_core::plugin::Reason;

use super::error::GatesError;

const MAX_BOUNDARIES: usize = 10_000;
const MAX_CHAIN: usize = 1_000;

#[derive(Clone, Debug)]
enum Span {
    Recurring {
        cron: Box<Cron>,
        duration: Duration,
        tz: Tz,
    },
    OneOff {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

#[derive(Clone, Debug)]
struct Rule {
    allow: bool,
    span: Span,
    label: String,
}

/// An environment's windows and freezes, checked and ready to evaluate.
#[derive(Clone, Debug)]
pub struct WindowSchedule {
    rules: Vec<Rule>,
}

/// What the schedule says about starting a deploy at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowDecision {
    /// The deploy may start now and fits before the environment closes.
    pub open: bool,
    /// When the current open stretch ends (`None`: not open now, or open indefinitely).
    pub closes_at: Option<DateTime<Utc>>,
    /// When the deploy may start at the earliest (`now` when open; `None` when never within
    /// the search horizon).
    pub next_open: Option<DateTime<Utc>>,
    /// Why.
    pub reasons: Vec<Reason>,
}

impl WindowSchedule {
    /// Reads an environment's `windows`; every invalid entry is an error naming its index.
    pub fn compile(environment: &Environment) -> Result<Self, GatesError> {
        let mut rules = Vec::with_capacity(environment.windows.len());
        for (index, rule) in environment.windows.iter().enumerate() {
            let (allow, spec) = match rule {
                WindowRule::Allow(spec) => (true, spec),
                WindowRule::Deny(spec) => (false, spec),
            };
            let span = compile_span(&environment.name, index, spec)?;
            let kind = if allow { "window" } else { "freeze" };
            let what = match (&spec.cron, &spec.from, &spec.to) {
                (Some(cron), _, _) => format!(
                    "{kind} `{cron}` ({})",
                    spec.timezone.as_deref().unwrap_or("UTC")
                ),
                (None, Some(from), Some(to)) => format!("{kind} {from} – {to}"),
                _ => kind.to_owned(),
            };
            let label = match &spec.reason {
                Some(reason) => format!("{what}: {reason}"),
                None => what,
            };
            rules.push(Rule { allow, span, label });
        }
        Ok(Self { rules })
    }

    /// True when the environment declares no window and no freeze.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// May a deploy taking `runway` start at `now`? When not, when may it?
    pub fn decide(&self, now: DateTime<Utc>, runway: std::time::Duration) -> WindowDecision {
        let runway = Duration::from_std(runway).unwrap_or(Duration::MAX);
        let mut reasons = Vec::new();
        let until = self.open_until(now);
        let fits = match until {
            Some(Some(end)) => now.checked_add_signed(runway).is_some_and(|e| e <= end),
            Some(None) => true,
            None => false,
        };
        if fits {
            let message = match until.flatten() {
                Some(end) => format!("open until {}", fmt(end)),
                None if self.rules.is_empty() => "no deployment window or freeze applies".into(),
                None => "no freeze is active and none is coming".into(),
            };
            reasons.push(Reason::new("window.open", message));
            return WindowDecision {
                open: true,
                closes_at: until.flatten(),
                next_open: Some(now),
                reasons,
            };
        }
        // Say why it is closed now: every active freeze, or no active window, or the runway.
        let denies: Vec<(DateTime<Utc>, &Rule)> = self
            .rules
            .iter()
            .filter(|r| !r.allow)
            .filter_map(|r| active(r, now).map(|(_, end)| (end, r)))
            .collect();
        for (end, rule) in &denies {
            reasons.push(Reason::new(
                "window.frozen",
                format!("{} is active until {}", rule.label, fmt(*end)),
            ));
        }
        if denies.is_empty() {
            match until {
                Some(Some(end)) => reasons.push(Reason::new(
                    "window.runway",
                    format!(
                        "the deploy needs {} but the environment closes at {} ({} left)",
                        fmt_duration(runway),
                        fmt(end),
                        fmt_duration(end - now)
                    ),
                )),
                _ => reasons.push(Reason::new(
                    "window.closed",
                    format!(
                        "outside every deployment window ({})",
                        self.rules
                            .iter()
                            .filter(|r| r.allow)
                            .map(|r| r.label.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )),
            }
        }
        let next_open = self.next_fit(now, runway);
        reasons.push(match next_open {
            Some(at) => Reason::new(
                "window.next_open",
                format!("the deploy fits next at {}", fmt(at)),
            ),
            None => Reason::new(
                "window.never_open",
                "no window within a year is long enough for the deploy; add or widen a window",
            ),
        });
        WindowDecision {
            open: false,
            closes_at: None,
            next_open,
            reasons,
        }
    }

    /// `None`: closed at `t`. `Some(None)`: open for good. `Some(Some(end))`: open until end.
    fn open_until(&self, t: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
        if self
            .rules
            .iter()
            .any(|r| !r.allow && active(r, t).is_some())
        {
            return None;
        }
        let allows: Vec<&Rule> = self.rules.iter().filter(|r| r.allow).collect();
        let mut end = if allows.is_empty() {
            None
        } else {
            let mut end = allows
                .iter()
                .filter_map(|r| active(r, t))
                .map(|(_, e)| e)
                .max()?;
            for _ in 0..MAX_CHAIN {
                let further = allows
                    .iter()
                    .filter_map(|r| active(r, end))
                    .map(|(_, e)| e)
                    .max();
                match further {
                    Some(e) if e > end => end = e,
                    _ => break,
                }
            }
            Some(end)
        };
        let next_deny = self
            .rules
            .iter()
            .filter(|r| !r.allow)
            .filter_map(|r| next_start(r, t))
            .min();
        if let Some(deny) = next_deny {
            end = Some(end.map_or(deny, |e| e.min(deny)));
        }
        Some(end)
    }

    fn next_fit(&self, now: DateTime<Utc>, runway: Duration) -> Option<DateTime<Utc>> {
        let horizon = now + Duration::days(366);
        let mut t = now;
        for _ in 0..MAX_BOUNDARIES {
            let fits = match self.open_until(t) {
                Some(Some(end)) => t.checked_add_signed(runway).is_some_and(|e| e <= end),
                Some(None) => true,
                None => false,
            };
            if fits {
                return Some(t);
            }
            t = self
                .rules
                .iter()
                .filter_map(|r| next_boundary(r, t))
                .min()?;
            if t > horizon {
                return None;
            }
        }
        None
    }
}

fn compile_span(
    env: &EnvironmentName,
    index: usize,
    spec: &WindowSpec,
) -> Result<Span, GatesError> {
    let invalid = |problem: String, fix: &str| GatesError::InvalidWindow {
        environment: env.clone(),
        index,
        problem,
        fix: fix.to_owned(),
    };
    match (&spec.cron, &spec.from, &spec.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(invalid(
            "it has both `cron` and `from`/`to`".into(),
            "write a recurring window (cron + duration) or a one-off one (from + to), not both",
        )),
        (Some(expr), None, None) => {
            let cron: Cron = expr.parse().map_err(|e| {
                invalid(
                    format!("cron `{expr}` cannot be read ({e})"),
                    "use five fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * MON-THU`",
                )
            })?;
            let duration = spec.duration.ok_or_else(|| {
                invalid(
                    format!("cron `{expr}` has no `duration`"),
                    "add how long each window lasts, e.g. `duration: 6h`",
                )
            })?;
            let duration = Duration::from_std(duration.as_duration())
                .ok()
                .filter(|d| *d > Duration::zero() && *d <= Duration::days(3650))
                .ok_or_else(|| {
                    invalid(
                        format!("duration {duration} is zero or too long"),
                        "give a duration between 1s and 10 years",
                    )
                })?;
            let tz = match &spec.timezone {
                None => Tz::UTC,
                Some(name) => name.parse::<Tz>().map_err(|_| {
                    invalid(
                        format!("time zone `{name}` is unknown"),
                        "use an IANA name such as `Europe/Berlin` or `America/New_York`",
                    )
                })?,
            };
            Ok(Span::Recurring {
                cron: Box::new(cron),
                duration,
                tz,
            })
        }
        (None, Some(from), Some(to)) => {
            if from >= to {
                return Err(invalid(
                    format!("`from` {from} is not before `to` {to}"),
                    "swap them or fix the end",
                ));
            }
            Ok(Span::OneOff {
                from: from.to_utc(),
                to: to.to_utc(),
            })
        }
        (None, _, _) => Err(invalid(
            "it has neither `cron` nor both `from` and `to`".into(),
            "write `cron` + `duration` (+ `timezone`) or `from` + `to`",
        )),
    }
}

/// The occurrence of `rule` that covers `t`, as `[start, end)`.
fn active(rule: &Rule, t: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match &rule.span {
        Span::OneOff { from, to } => (*from <= t && t < *to).then_some((*from, *to)),
        Span::Recurring { cron, duration, tz } => {
            let local = t.with_timezone(tz);
            let start = cron.find_previous_occurrence(&local, true).ok()?.to_utc();
            let end = start + *duration;
            (t < end).then_some((start, end))
        }
    }
}

/// The first start of `rule` strictly after `t`.
fn next_start(rule: &Rule, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match &rule.span {
        Span::OneOff { from, .. } => (*from > t).then_some(*from),
        Span::Recurring { cron, tz, .. } => cron
            .find_next_occurrence(&t.with_timezone(tz), false)
            .ok()
            .map(|d| d.to_utc()),
    }
}

/// The first instant after `t` at which `rule` opens or closes.
fn next_boundary(rule: &Rule, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let end = active(rule, t).map(|(_, end)| end).filter(|e| *e > t);
    let start = next_start(rule, t);
    let end_one_off = match &rule.span {
        Span::OneOff { to, .. } if *to > t => Some(*to),
        _ => None,
    };
    [end, start, end_one_off].into_iter().flatten().min()
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn fmt_duration(d: Duration) -> String {
    let mins = d.num_minutes();
    if mins >= 60 {
        format!("{}h{:02}m", mins / 60, mins % 60)
    } else {
        format!("{}m", mins.max(0))
    }
}

/// The window gate (`window`): the environment's windows at `now`, with the stage's
/// estimated duration (from the planner) as runway on entry.
#[derive(Clone, Debug, Default)]
pub struct WindowGate;

impl WindowGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(
        &self,
        context: &super::policy::GateInput<'_>,
    ) -> Result<release_core::plugin::GateVerdict, GatesError> {
        use release_core::plan::{PlanOptions, plan_release};
        use release_core::plugin::{GatePosition, GateVerdict};
        let env = context.environment;
        let Some(environment) = context.platform.environment(env.as_str()) else {
            return Ok(GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "window.unknown_environment",
                    format!("the platform has no environment {env}"),
                )],
            });
        };
        let schedule = WindowSchedule::compile(environment)?;
        let runway = if context.position == GatePosition::Entry && !schedule.is_empty() {
            let plan = plan_release(
                context.platform,
                context.release,
                &PlanOptions::new().with_environment(env.clone()),
            )
            .map_err(|source| GatesError::Plan {
                environment: env.clone(),
                source,
            })?;
            plan.stages
                .iter()
                .find(|s| &s.environment == env)
                .map(|s| s.estimated_duration.as_duration())
                .unwrap_or_default()
        } else {
            std::time::Duration::ZERO
        };
        let decision = schedule.decide(context.now, runway);
        Ok(if decision.open {
            GateVerdict::Pass {
                reasons: decision.reasons,
            }
        } else {
            GateVerdict::Wait {
                until: decision.next_open,
                reasons: decision.reasons,
            }
        })
    }
}

crate::promotion::policy::gate_via_input!(WindowGate, "WindowGate");

#[cfg(test)]
mod tests {
    // covers M5.6
    use super::*;
    use release_core::model::HumanDuration;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn env(rules: Vec<WindowRule>) -> Environment {
        serde_json::from_value::<Environment>(
            serde_json::json!({"name": "production", "tier": "production"}),
        )
        .map(|mut e| {
            e.windows = rules;
            e
        })
        .unwrap()
    }

    fn recurring(cron: &str, hours: u64, tz: &str) -> WindowSpec {
        WindowSpec {
            cron: Some(cron.into()),
            duration: Some(HumanDuration::from_mins(hours * 60)),
            timezone: Some(tz.into()),
            ..WindowSpec::default()
        }
    }

    fn schedule(rules: Vec<WindowRule>) -> WindowSchedule {
        WindowSchedule::compile(&env(rules)).unwrap()
    }

    const ZERO: std::time::Duration = std::time::Duration::ZERO;

    #[test]
    fn weekday_window_follows_local_time_across_spring_forward() {
        for (tz, winter_monday, summer_monday) in [
            (
                "Europe/Berlin",
                "2026-03-23T08:00:00Z",
                "2026-03-30T07:00:00Z",
            ),
            (
                "America/New_York",
                "2026-03-02T14:00:00Z",
                "2026-03-09T13:00:00Z",
            ),
        ] {
            let s = schedule(vec![WindowRule::Allow(recurring("0 9 * * MON-THU", 6, tz))]);
            for start in [winter_monday, summer_monday] {
                let start = utc(start);
                assert!(
                    !s.decide(start - Duration::minutes(1), ZERO).open,
                    "{tz} {start}"
                );
                let d = s.decide(start, ZERO);
                assert!(d.open, "{tz} {start}");
                assert_eq!(d.closes_at, Some(start + Duration::hours(6)), "{tz}");
                assert!(!s.decide(start + Duration::hours(6), ZERO).open, "{tz}");
            }
            // Closed on the Friday after; reopens Monday 09:00 local.
            let friday = utc(summer_monday) + Duration::days(4);
            let d = s.decide(friday, ZERO);
            assert!(!d.open);
            assert_eq!(d.next_open, Some(utc(summer_monday) + Duration::days(7)));
        }
    }

    #[test]
    fn weekday_window_follows_local_time_across_fall_back() {
        // Berlin: last Monday of summer time 2026-10-19 (07:00Z), first of winter 10-26 (08:00Z).
        // New York: 2026-10-26 (13:00Z) and 2026-11-02 (14:00Z).
        for (tz, summer, winter) in [
            (
                "Europe/Berlin",
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
            ),
            (
                "America/New_York",
                "2026-10-26T13:00:00Z",
                "2026-11-02T14:00:00Z",
            ),
        ] {
            let s = schedule(vec![WindowRule::Allow(recurring("0 9 * * MON-THU", 6, tz))]);
            let d = s.decide(utc(summer) + Duration::days(4), ZERO);
            assert_eq!(d.next_open, Some(utc(winter)), "{tz}");
        }
    }

    #[test]
    fn start_in_the_spring_forward_gap_moves_to_the_end_of_the_gap() {
        // 2026-03-29 02:30 does not exist in Berlin: the window opens at 03:00 CEST (01:00Z).
        let s = schedule(vec![WindowRule::Allow(recurring(
            "30 2 29 3 *",
            1,
            "Europe/Berlin",
        ))]);
        let d = s.decide(utc("2026-03-29T00:00:00Z"), ZERO);
        assert_eq!(d.next_open, Some(utc("2026-03-29T01:00:00Z")));
        let d = s.decide(utc("2026-03-29T01:30:00Z"), ZERO);
        assert!(d.open);
        assert_eq!(d.closes_at, Some(utc("2026-03-29T02:00:00Z")));
        // New York, 2026-03-08 02:30 does not exist: 03:00 EDT = 07:00Z.
        let s = schedule(vec![WindowRule::Allow(recurring(
            "30 2 8 3 *",
            1,
            "America/New_York",
        ))]);
        let d = s.decide(utc("2026-03-08T05:00:00Z"), ZERO);
        assert_eq!(d.next_open, Some(utc("2026-03-08T07:00:00Z")));
    }

    #[test]
    fn ambiguous_fall_back_start_opens_once_at_the_first_occurrence() {
        // 2026-10-25 02:30 happens twice in Berlin; the window opens at 02:30 CEST (00:30Z).
        let s = schedule(vec![WindowRule::Allow(recurring(
            "30 2 25 10 *",
            1,
            "Europe/Berlin",
        ))]);
        assert!(s.decide(utc("2026-10-25T00:45:00Z"), ZERO).open);
        // 02:45 CET (the second pass, 01:45Z) is after the hour: closed.
        assert!(!s.decide(utc("2026-10-25T01:45:00Z"), ZERO).open);
    }

    #[test]
    fn runway_that_does_not_fit_waits_for_the_next_window() {
        let s = schedule(vec![WindowRule::Allow(recurring(
            "0 9 * * MON-THU",
            6,
            "Europe/Berlin",
        ))]);
        // Monday 14:30 CEST: 30 minutes left, the deploy needs 2h.
        let d = s.decide(
            utc("2026-03-30T12:30:00Z"),
            std::time::Duration::from_secs(7200),
        );
        assert!(!d.open);
        assert!(d.reasons.iter().any(|r| r.code == "window.runway"));
        assert_eq!(d.next_open, Some(utc("2026-03-31T07:00:00Z")));
    }

    #[test]
    fn a_freeze_closes_and_cuts_the_runway() {
        let freeze = WindowSpec {
            from: Some(DateTime::parse_from_rfc3339("2026-03-31T10:00:00+02:00").unwrap()),
            to: Some(DateTime::parse_from_rfc3339("2026-04-02T00:00:00+02:00").unwrap()),
            reason: Some("quarter close".into()),
            ..WindowSpec::default()
        };
        let s = schedule(vec![
            WindowRule::Allow(recurring("0 9 * * MON-THU", 6, "Europe/Berlin")),
            WindowRule::Deny(freeze),
        ]);
        let d = s.decide(utc("2026-03-31T09:00:00Z"), ZERO);
        assert!(!d.open);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.code == "window.frozen" && r.message.contains("quarter close"))
        );
        // Tuesday 09:00 CEST with a 2h deploy: the freeze starts at 10:00, so it waits to Thursday.
        let d = s.decide(
            utc("2026-03-31T07:00:00Z"),
            std::time::Duration::from_secs(7200),
        );
        assert_eq!(d.next_open, Some(utc("2026-04-02T07:00:00Z")));
    }

    #[test]
    fn invalid_windows_are_typed_errors() {
        let err = WindowSchedule::compile(&env(vec![WindowRule::Allow(recurring(
            "0 9 * * MON",
            1,
            "Mars/Olympus",
        ))]))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("time zone `Mars/Olympus` is unknown"),
            "{err}"
        );
        let mut no_duration = recurring("0 9 * * *", 1, "UTC");
        no_duration.duration = None;
        let err = WindowSchedule::compile(&env(vec![WindowRule::Deny(no_duration)])).unwrap_err();
        assert!(matches!(err, GatesError::InvalidWindow { index: 0, .. }));
    }
}

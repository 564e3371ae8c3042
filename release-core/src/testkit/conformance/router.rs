//! The traffic router suite.

use crate::plugin::{Route, SlotWeight, TrafficRouter};

use super::{Check, ConformanceFailure, ConformanceReport, Context, Run, ensure};

fn route(check: &str) -> Route {
    Route::new(format!("conformance-router-{check}"), "conformance-a")
}

fn w(slot: &str, weight: u32) -> SlotWeight {
    SlotWeight::new(slot, weight)
}

async fn weights(router: &dyn TrafficRouter, route: &Route) -> Result<Vec<SlotWeight>, String> {
    router
        .weights(route)
        .await
        .context(&format!("reading the weights of route {route}"))
}

async fn set(router: &dyn TrafficRouter, route: &Route, ws: &[SlotWeight]) -> Check {
    router
        .set_weights(route, ws)
        .await
        .context(&format!("setting weights {ws:?} on route {route}"))
}

async fn refused(router: &dyn TrafficRouter, route: &Route, ws: &[SlotWeight], why: &str) -> Check {
    match router.set_weights(route, ws).await {
        Ok(()) => Err(format!(
            "weights {ws:?} ({why}) were accepted on route {route}"
        )),
        Err(e) if e.is_retryable() => Err(format!(
            "weights {ws:?} ({why}) were refused with a retryable error, but retrying bad input cannot succeed: {e}"
        )),
        Err(_) => Ok(()),
    }
}

/// Runs the traffic router suite.
///
/// Checks: `unset_route_is_empty`, `round_trip_sorted` (weights read back sorted by slot),
/// `atomic_replace` (a new set replaces, never merges), `rejects_bad_sum` and
/// `rejects_duplicate_slot` (with a non-retryable error, leaving the weights as they were),
/// `routes_isolated` (by component and by environment).
pub async fn router_conformance(
    router: &dyn TrafficRouter,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("router");

    run.check("unset_route_is_empty", async {
        let got = weights(router, &route("never-set")).await?;
        ensure!(
            got.is_empty(),
            "a route never set should have no weights, got {got:?}"
        );
        Ok(())
    })
    .await;

    run.check("round_trip_sorted", async {
        let r = route("round-trip");
        set(router, &r, &[w("stable", 90), w("canary", 10)]).await?;
        let got = weights(router, &r).await?;
        ensure!(
            got == [w("canary", 10), w("stable", 90)],
            "set stable 90 / canary 10, read back {got:?}; expected them sorted by slot"
        );
        Ok(())
    })
    .await;

    run.check("atomic_replace", async {
        let r = route("atomic-replace");
        set(router, &r, &[w("blue", 100)]).await?;
        set(router, &r, &[w("green", 80), w("preview", 20)]).await?;
        let got = weights(router, &r).await?;
        ensure!(
            got == [w("green", 80), w("preview", 20)],
            "set blue 100, then green 80 / preview 20; read back {got:?}: the second set must replace the first whole"
        );
        Ok(())
    })
    .await;

    run.check("rejects_bad_sum", async {
        let r = route("bad-sum");
        set(router, &r, &[w("stable", 100)]).await?;
        refused(router, &r, &[w("stable", 50), w("canary", 40)], "sum 90").await?;
        refused(router, &r, &[w("stable", 60), w("canary", 60)], "sum 120").await?;
        refused(router, &r, &[], "no slots").await?;
        let got = weights(router, &r).await?;
        ensure!(
            got == [w("stable", 100)],
            "refused weights must leave the route as it was (stable 100), found {got:?}"
        );
        Ok(())
    })
    .await;

    run.check("rejects_duplicate_slot", async {
        let r = route("duplicate-slot");
        refused(
            router,
            &r,
            &[w("stable", 50), w("stable", 50)],
            "slot named twice",
        )
        .await?;
        let got = weights(router, &r).await?;
        ensure!(
            got.is_empty(),
            "refused weights must not be stored, found {got:?}"
        );
        Ok(())
    })
    .await;

    run.check("routes_isolated", async {
        let a = route("isolated-a");
        let b = route("isolated-b");
        let other_env = Route::new(a.component.clone(), "conformance-b");
        set(router, &a, &[w("stable", 100)]).await?;
        set(router, &b, &[w("blue", 30), w("green", 70)]).await?;
        set(router, &other_env, &[w("canary", 100)]).await?;
        let (ga, gb, ge) = (
            weights(router, &a).await?,
            weights(router, &b).await?,
            weights(router, &other_env).await?,
        );
        ensure!(
            ga == [w("stable", 100)]
                && gb == [w("blue", 30), w("green", 70)]
                && ge == [w("canary", 100)],
            "routes leaked into each other: {a} = {ga:?}, {b} = {gb:?}, {other_env} = {ge:?}"
        );
        Ok(())
    })
    .await;

    run.finish()
}

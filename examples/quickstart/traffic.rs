//! Real generated traffic: one worker per route sends a GET every few milliseconds through
//! the weighted router until told to stop, and counts what came back per version. Routes
//! marked as customer traffic send checkouts (`/?cart=<n>`, what production's users do);
//! the others send synthetic requests (`/`), as dev and staging get from smoke checks.
//! A checkout's answer also names the order history the service read from its database
//! (`orders=N`), tallied on its own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers seen: (route label, answer) → count, where the answer is `version=…` or `500`.
pub type Tally = Arc<Mutex<BTreeMap<(String, String), u64>>>;

/// A running load generator.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// What came back.
    pub tally: Tally,
}

impl Traffic {
    /// Starts one worker per (label, address, customer traffic?).
    pub fn start(routes: &[(String, SocketAddr, bool)], every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tally: Tally = Arc::default();
        let workers = routes
            .iter()
            .map(|(label, addr, customers)| {
                let (stop, tally, label, addr) =
                    (stop.clone(), tally.clone(), label.clone(), *addr);
                let customers = *customers;
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let url = if customers {
                            format!("http://{addr}/?cart={n}")
                        } else {
                            format!("http://{addr}/")
                        };
                        let (answer, orders) = match client.get(url).send().await {
                            Ok(r) if r.status().is_success() => {
                                let text = r.text().await.unwrap_or_default();
                                let word = |prefix: &str| {
                                    text.split_whitespace()
                                        .find(|w| w.starts_with(prefix))
                                        .map(str::to_owned)
                                };
                                (
                                    word("version=").unwrap_or_else(|| "unreadable".to_owned()),
                                    word("orders="),
                                )
                            }
                            // The service's own "database unavailable" answer, told apart from
                            // the router's 503 while a route has no replica yet.
                            Ok(r) => {
                                let status = r.status().as_u16().to_string();
                                let text = r.text().await.unwrap_or_default();
                                if text.starts_with("orders database unavailable") {
                                    ("database unavailable".to_owned(), None)
                                } else {
                                    (status, None)
                                }
                            }
                            Err(_) => ("no answer".to_owned(), None),
                        };
                        if let Ok(mut t) = tally.lock() {
                            *t.entry((label.clone(), answer)).or_default() += 1;
                            if let Some(orders) = orders {
                                *t.entry((label.clone(), orders)).or_default() += 1;
                            }
                        }
                        tokio::time::sleep(every).await;
                    }
                })
            })
            .collect();
        Self {
            stop,
            workers,
            tally,
        }
    }

    /// Stops the workers and returns the tally.
    pub async fn stop(self) -> BTreeMap<(String, String), u64> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.await;
        }
        self.tally.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

//! The webhook notifier: journal records POSTed as JSON (or a Slack-compatible message) to
//! configured endpoints, signed, retried, and with rollback news first (M8.4).
//!
//! [`WebhookNotifier`] is a [`Notifier`](release_core::plugin::Notifier): the engine hands
//! it each record as it is journaled. Each endpoint filters by event type (the names of
//! [`Event::type_name`](release_core::ledger::Event::type_name)) and by environment.
//!
//! Decisions:
//! - **`notify` never waits for the network.** It renders the body and puts one delivery per
//!   matching endpoint on that endpoint's bounded queue, then returns; one background task
//!   per endpoint delivers, in order, retrying with backoff. An engine is never slowed by a
//!   slow or failing receiver, and endpoints do not hold each other up.
//!   [`WebhookNotifier::flush`] waits until every queued delivery is delivered or given up;
//!   [`WebhookNotifier::shutdown`] refuses new records, drains the queues and stops the
//!   tasks. Dropping the notifier without `shutdown` lets the tasks finish what is queued
//!   while the runtime lives. [`WebhookConfig::build`] must run inside a tokio runtime.
//! - **Rollbacks first.** Rollback news — `trigger_fired`, `rollback_started`,
//!   `rollback_programmed`, `rollback_completed`, the steps of a rollback program,
//!   `release_finished` rolled back or aborted — go on a priority lane that overtakes every
//!   pending ordinary delivery (each lane keeps journal order). People learn of a rollback at
//!   once even when a receiver is backed up with step-by-step chatter (Spinnaker and Argo
//!   Rollouts notify per event; they do not reorder, which is what hides a rollback behind
//!   a backlog). A delivery waiting out its backoff stays at the head of its lane, so order
//!   within a lane holds across retries.
//! - **Bounded queues.** Each endpoint holds at most `queue_capacity` deliveries. When full,
//!   an ordinary record is dropped for that endpoint (and `notify` returns an error the
//!   engine logs); a rollback record evicts the oldest ordinary delivery instead, and is
//!   dropped only when the queue is full of rollback records. Every drop is in
//!   [`WebhookNotifier::report`].
//! - **Retries.** 408, 429 and 5xx answers, timeouts and connection errors are retried up to
//!   `max_attempts` in all, after exponential backoff (`initial_backoff_ms × multiplier^(n-1)`,
//!   capped at `max_backoff_ms`) with ± `jitter_percent` jitter drawn from a SplitMix64
//!   generator seeded by `seed` and the delivery's identity — the same configuration gives
//!   the same schedule ([`RetryPolicy::schedule`]). A `Retry-After` header (seconds or an
//!   HTTP date) replaces the backoff; one asking for more than `max_retry_after_ms` ends the
//!   delivery rather than retrying early. Other 4xx answers and redirects (not followed) are
//!   permanent: the delivery is given up at once and reported.
//! - **Bodies.** `json`: `{"summary", "environment", "rollback", "record"}` where `record`
//!   is the journal [`Record`](release_core::ledger::Record) as the ledger stores it.
//!   `slack`: `{"text": summary, "blocks": [...]}` for Slack incoming webhooks and
//!   compatible chat tools. The one-line summary is [`summary`].
//! - **Signatures.** With `signing_secret`, each POST carries
//!   `<signature_header>: sha256=<hex HMAC-SHA256 of the body>` (GitHub's scheme; default
//!   header `X-Release-Signature`). Every POST also carries `X-Release-Event` (the type) and
//!   `X-Release-Delivery` (`<release>/<seq>`, the same across retries, for deduplication).
//! - **Secrets are references resolved late**: the signing key and, for endpoints whose URL
//!   is itself a credential (Slack's), `url_secret` are resolved through the
//!   [`SecretProvider`](release_core::config::SecretProvider) at each attempt, held only for
//!   that attempt, and never logged, reported or shown by `Debug`; errors about such an
//!   endpoint leave its URL out.
//! - Time (backoff deadlines, HTTP dates) comes from the injected
//!   [`Clock`](release_core::plugin::Clock).

mod body;
mod config;
mod error;
mod notifier;
mod retry;
mod sign;

pub use body::{is_rollback_event, summary};
pub use config::{BodyFormat, EVENT_TYPES, EndpointConfig, RetryPolicy, WebhookConfig};
pub use error::WebhookError;
pub use notifier::{DeliveryReport, FailedDelivery, WebhookNotifier};
pub use sign::{hmac_sha256, signature};

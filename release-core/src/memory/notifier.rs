//! A notifier that records what it was sent.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::ledger::{Event, Record};
use crate::plugin::Notifier;

use super::lock;

/// A [`Notifier`] that keeps every record it receives, optionally only of some event types
/// (by [`Event::type_name`]).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    types: Option<Vec<&'static str>>,
    records: Mutex<Vec<Record>>,
}

impl RecordingNotifier {
    /// A notifier that wants every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// A notifier that wants only events of these types (`step_failed`, `release_finished`).
    pub fn only(types: impl IntoIterator<Item = &'static str>) -> Self {
        Self {
            types: Some(types.into_iter().collect()),
            records: Mutex::new(Vec::new()),
        }
    }

    /// The records received, in order.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.records).clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    fn wants(&self, event: &Event) -> bool {
        self.types
            .as_ref()
            .is_none_or(|t| t.contains(&event.type_name()))
    }

    async fn notify(&self, record: &Record) -> Result<()> {
        lock(&self.records).push(record.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{EventDraft, GENESIS, seal};

    #[tokio::test]
    async fn records_and_filters() {
        let n = RecordingNotifier::only(["paused"]);
        let paused = Event::Paused {
            environment: None,
            reason: "window".into(),
        };
        assert!(n.wants(&paused));
        assert!(!n.wants(&Event::StageCompleted {
            environment: "prod".into()
        }));
        let draft = EventDraft::new("r1".into(), chrono::Utc::now(), "engine", vec![], paused);
        let record = seal(draft, 1, GENESIS).unwrap();
        n.notify(&record).await.unwrap();
        assert_eq!(n.records(), vec![record]);
        assert!(RecordingNotifier::new().wants(&Event::StageCompleted {
            environment: "prod".into()
        }));
    }
}

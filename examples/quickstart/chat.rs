//! A stand-in for the team's chat: a loopback HTTP endpoint that accepts Slack-style incoming
//! webhook posts and keeps them, so the quickstart can show what was announced and when.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;

/// Posts received, in order.
pub type Inbox = Arc<Mutex<Vec<serde_json::Value>>>;

async fn receive(State(inbox): State<Inbox>, body: axum::body::Bytes) -> &'static str {
    if let (Ok(mut inbox), Ok(value)) = (inbox.lock(), serde_json::from_slice(&body)) {
        inbox.push(value);
    }
    "ok"
}

/// Starts the endpoint; returns its webhook URL and the inbox.
pub async fn start() -> Result<(String, Inbox), String> {
    let inbox: Inbox = Arc::default();
    let app = Router::new()
        .route("/hooks/releases", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("chat endpoint: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("chat endpoint: {e}"))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/hooks/releases"), inbox))
}

/// The `text` of every post received.
pub fn texts(inbox: &Inbox) -> Vec<String> {
    inbox
        .lock()
        .map(|posts| {
            posts
                .iter()
                .filter_map(|p| p["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

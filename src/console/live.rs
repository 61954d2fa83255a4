//! Live updates: every event is NOTIFYed as it is written (`store::events`);
//! each app instance LISTENs
//! once and fans the notifications out to its browsers over Server-Sent
//! Events. Each message carries the whole console view, so a browser that
//! (re)connects is current at once.

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::Stream;
use http::StatusCode;
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

use crate::engine::vocab::ReadFlag;
use crate::engine::{Phase, ReadsFrom};
use crate::model::AppError;
use crate::store::events::EVENTS_CHANNEL;
use crate::store::{self, StoreError};

/// Per-instance fan-out of engine notifications (migration ids). Its
/// listening task (and the database session it holds) ends when the last
/// clone of the hub is dropped with the app that owns it.
#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<i64>,
    _alive: mpsc::Sender<()>,
}

#[derive(Deserialize)]
struct Note {
    migration_id: i64,
}

impl LiveHub {
    /// Starts listening; reconnects on its own when the database drops it.
    pub fn start(pool: PgPool) -> Self {
        let (tx, _) = broadcast::channel(1024);
        let (alive, mut dropped) = mpsc::channel::<()>(1);
        let hub = LiveHub {
            tx: tx.clone(),
            _alive: alive,
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Every hub dropped: nobody can subscribe any more.
                    _ = dropped.recv() => return,
                    lost = listen(&pool, &tx) => {
                        if let Err(e) = lost {
                            tracing::warn!(error = %e, "live listener lost; reconnecting");
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.tx.subscribe()
    }
}

async fn listen(pool: &PgPool, tx: &broadcast::Sender<i64>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    loop {
        let note = listener.recv().await?;
        if let Ok(n) = serde_json::from_str::<Note>(note.payload()) {
            // No receivers is fine: nobody is watching.
            let _ = tx.send(n.migration_id);
        }
    }
}

/// State the SSE route needs.
#[derive(Clone)]
pub struct LiveState {
    pub console: super::Console,
    pub hub: LiveHub,
}

/// `GET /live/{name}`: the console view now, then again after every event.
pub async fn sse(State(state): State<LiveState>, Path(name): Path<String>) -> Response {
    let id = match store::console::migration_id(state.console.pool(), &name).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "live: lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(id) = id else {
        return (StatusCode::NOT_FOUND, "no such migration").into_response();
    };
    Sse::new(updates(state, name, id))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

struct Feed {
    state: LiveState,
    name: String,
    id: i64,
    rx: broadcast::Receiver<i64>,
    first: bool,
}

fn updates(
    state: LiveState,
    name: String,
    id: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let rx = state.hub.subscribe();
    let feed = Feed {
        state,
        name,
        id,
        rx,
        first: true,
    };
    futures::stream::unfold(feed, |mut feed| async move {
        if !feed.first {
            // Wait for an event of this migration, then coalesce a burst
            // (progress ticks) into one update.
            loop {
                match feed.rx.recv().await {
                    Ok(m) if m == feed.id => break,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            while feed.rx.try_recv().is_ok() {}
        }
        feed.first = false;
        let event = match feed.state.console.view(&feed.name).await {
            Ok(view) => match serde_json::to_string(&view) {
                Ok(json) => Event::default().event("console").data(json),
                Err(e) => Event::default().event("error").data(e.to_string()),
            },
            Err(e) => {
                tracing::warn!(error = %e, "live: cannot build the view");
                Event::default()
                    .event("error")
                    .data("the console could not be loaded")
            }
        };
        Some((Ok(event), feed))
    })
}

/// `GET /flags/{name}`: where applications should read from, for those that
/// poll rather than LISTEN on `switchyard_read_flag`.
pub async fn read_flag(State(state): State<LiveState>, Path(name): Path<String>) -> Response {
    match store::console::read_flag(state.console.pool(), &name).await {
        Err(StoreError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, "no such migration").into_response()
        }
        Ok(flag) => {
            let (reads_from, changed_at) = match flag {
                Some((r, at)) => (r, Some(at)),
                None => (ReadsFrom::default(), None),
            };
            axum::Json(ReadFlag {
                migration: name,
                reads_from,
                changed_at,
            })
            .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "read flag lookup failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /dry-run/{name}/{phase}`: the SQL a phase executes, as plain text
/// (the phase console links it, so the dry run reads without JavaScript).
pub async fn dry_run(
    State(state): State<LiveState>,
    Path((name, phase)): Path<(String, String)>,
) -> Response {
    let Ok(phase) = phase.parse::<Phase>() else {
        return (StatusCode::NOT_FOUND, "no such phase").into_response();
    };
    match state.console.dry_run_sql(&name, phase).await {
        Ok((_, sql)) => (
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            sql.join("\n"),
        )
            .into_response(),
        Err(e) => {
            // What a user may see (internal failures only by reference).
            let error = AppError::from(e);
            let status = match error {
                AppError::NotFound { .. } => StatusCode::NOT_FOUND,
                // The recipe cannot be loaded: there is no dry run to show.
                AppError::Invalid { .. } => StatusCode::CONFLICT,
                AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, error.to_string()).into_response()
        }
    }
}

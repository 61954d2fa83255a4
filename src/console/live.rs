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
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

use crate::engine::vocab::{kind, ReadFlag};
use crate::engine::{Phase, ReadsFrom};
use crate::model::share::SharedLive;
use crate::model::AppError;
use crate::store::events::EVENTS_CHANNEL;
use crate::store::{self, StoreError};

/// Per-instance fan-out of event notifications. It starts listening when
/// the first feed subscribes (an instance nobody watches holds no LISTEN
/// session), and its listening task (and the database session it holds)
/// ends when the last clone of the hub is dropped with the app that owns it.
#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<Wake>,
    /// True while the listener is LISTENing (false before it first is, and
    /// while it reconnects).
    listening: watch::Receiver<bool>,
    /// What the listening task needs, taken by the first subscriber.
    start: Arc<Mutex<Option<Start>>>,
    _alive: mpsc::Sender<()>,
}

struct Start {
    pool: PgPool,
    listening: watch::Sender<bool>,
    dropped: mpsc::Receiver<()>,
}

/// How long a new feed waits for the listener to be LISTENing before it
/// builds its first view (a change made before then would be missed).
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// What an event notification wakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The feeds of this migration (by id): something of it changed.
    Migration(i64),
    /// A progress tick of this migration's backfill or verification: the
    /// console's feeds show it; a board's, which shows no progress, skips it.
    Progress(i64),
    /// Every feed: an account event (a sign-out, an account disabled or
    /// changed); each checks that its session still holds.
    Accounts,
    /// Every feed: the listener lost its database session and listens
    /// again; what was announced in between was not heard, so each feed
    /// sends its view again.
    Resync,
}

#[derive(Deserialize)]
struct Note {
    migration_id: Option<i64>,
    kind: Option<String>,
}

/// The event kinds that are progress ticks (see `Wake::Progress`).
const PROGRESS_KINDS: [&str; 2] = [kind::PROGRESS, kind::VERIFY_PROGRESS];

impl LiveHub {
    /// A hub for `pool`; nothing runs until a feed subscribes.
    pub fn new(pool: PgPool) -> Self {
        let (tx, _) = broadcast::channel(1024);
        let (alive, dropped) = mpsc::channel::<()>(1);
        let (listening_tx, listening) = watch::channel(false);
        LiveHub {
            tx,
            listening,
            start: Arc::new(Mutex::new(Some(Start {
                pool,
                listening: listening_tx,
                dropped,
            }))),
            _alive: alive,
        }
    }

    /// A receiver of every wake from now on. The first call starts the
    /// listener; each waits (at most `LISTEN_WAIT`, then goes on, saying
    /// so in the log) until it is LISTENing, so a change made after this
    /// returns is heard; a change made while the listener reconnects is
    /// not, and `Wake::Resync` then tells every feed to send its view again.
    pub async fn subscribe(&self) -> broadcast::Receiver<Wake> {
        let rx = self.tx.subscribe();
        // A poisoned lock only means a panic elsewhere; the Option is whole.
        let start = self.start.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(start) = start {
            tokio::spawn(run(start, self.tx.clone()));
        }
        let mut listening = self.listening.clone();
        if tokio::time::timeout(LISTEN_WAIT, listening.wait_for(|on| *on))
            .await
            .is_err()
        {
            tracing::warn!("live: the listener is not listening yet; the feed starts anyway");
        }
        rx
    }
}

/// The listening task: listens, and reconnects when the database drops it,
/// until every hub is dropped.
async fn run(start: Start, tx: broadcast::Sender<Wake>) {
    let Start {
        pool,
        listening,
        mut dropped,
    } = start;
    let mut listened = false;
    loop {
        tokio::select! {
            // Every hub dropped: nobody can subscribe any more.
            _ = dropped.recv() => return,
            lost = listen(&pool, &tx, &listening, &mut listened) => {
                listening.send_replace(false);
                if let Err(e) = lost {
                    tracing::warn!(error = %e, "live listener lost; reconnecting");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Listens until the database session is lost (`Ok`: it was closed;
/// `Err`: an error), fanning every notification out. `listened`: whether
/// an earlier session listened; if so, every feed is told to resync once
/// this one listens, as notifications sent in between were lost.
async fn listen(
    pool: &PgPool,
    tx: &broadcast::Sender<Wake>,
    listening: &watch::Sender<bool>,
    listened: &mut bool,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    listening.send_replace(true);
    // No receivers is fine: nobody is watching.
    if std::mem::replace(listened, true) {
        let _ = tx.send(Wake::Resync);
    }
    // `try_recv`, not `recv`: `recv` reconnects by itself when the session
    // drops, and what was sent meanwhile would be lost without a word.
    while let Some(note) = listener.try_recv().await? {
        if let Ok(n) = serde_json::from_str::<Note>(note.payload()) {
            let progress = n
                .kind
                .as_deref()
                .is_some_and(|k| PROGRESS_KINDS.contains(&k));
            let _ = tx.send(match n.migration_id {
                Some(id) if progress => Wake::Progress(id),
                Some(id) => Wake::Migration(id),
                None => Wake::Accounts,
            });
        }
    }
    Ok(())
}

/// State the SSE route needs.
#[derive(Clone)]
pub struct LiveState {
    pub console: super::Console,
    pub hub: LiveHub,
}

/// `GET /live/{name}`: the console view now, then again after every event
/// of the migration. The feed belongs to the session that opened it: after
/// every account event (a sign-out, an account disabled) it checks that the
/// session is still signed in with an enabled account, and ends at once
/// when not.
pub async fn sse(
    State(state): State<LiveState>,
    Path(name): Path<String>,
    session: Option<axum::Extension<tower_sessions::Session>>,
    account: Option<axum::Extension<crate::server::auth::Current>>,
    ends: Option<axum::Extension<crate::server::auth::SessionEnds>>,
) -> Response {
    feed_of(state, name, session, account, ends, Sends::Console).await
}

/// `GET /live/{name}/tasks`: the migration's tasks as the board shows them
/// (`tasks` messages: a JSON list of `TaskView`), now and after every event
/// of the migration (a board change here or in another browser, a change
/// brought from Notion); the feed belongs to its session as `sse` says.
pub async fn tasks_sse(
    State(state): State<LiveState>,
    Path(name): Path<String>,
    session: Option<axum::Extension<tower_sessions::Session>>,
    account: Option<axum::Extension<crate::server::auth::Current>>,
    ends: Option<axum::Extension<crate::server::auth::SessionEnds>>,
) -> Response {
    feed_of(state, name, session, account, ends, Sends::Tasks).await
}

/// `GET /live/{name}/plan`: the plan's current revision (`plan` messages:
/// a number), now and after every event of the migration (a revision saved
/// here, in another browser, or brought from Notion); the page loads a
/// newer revision itself. The feed belongs to its session as `sse` says.
pub async fn plan_sse(
    State(state): State<LiveState>,
    Path(name): Path<String>,
    session: Option<axum::Extension<tower_sessions::Session>>,
    account: Option<axum::Extension<crate::server::auth::Current>>,
    ends: Option<axum::Extension<crate::server::auth::SessionEnds>>,
) -> Response {
    feed_of(state, name, session, account, ends, Sends::Plan).await
}

/// What a feed sends after each wake.
#[derive(Clone, Copy)]
enum Sends {
    Console,
    Tasks,
    Plan,
}

async fn feed_of(
    state: LiveState,
    name: String,
    session: Option<axum::Extension<tower_sessions::Session>>,
    account: Option<axum::Extension<crate::server::auth::Current>>,
    ends: Option<axum::Extension<crate::server::auth::SessionEnds>>,
    sends: Sends,
) -> Response {
    let owner = match (session.and_then(|s| s.0.id()), account) {
        (Some(id), Some(account)) => Some(Owner {
            session: id.to_string(),
            account: account.0 .0.id,
            ends: ends.map(|e| e.0 .0),
        }),
        _ => None,
    };
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
    let rx = state.hub.subscribe().await;
    Sse::new(updates(state, name, id, owner, rx, sends))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The session a feed belongs to: its id, its account, and when it ends at
/// the latest (Unix seconds; its sign-in plus the absolute limit).
struct Owner {
    session: String,
    account: i64,
    ends: Option<i64>,
}

struct Feed {
    state: LiveState,
    name: String,
    id: i64,
    /// The session that opened the feed (None: a caller without one, as
    /// in-process tests build one).
    owner: Option<Owner>,
    rx: broadcast::Receiver<Wake>,
    first: bool,
    /// When the session was last found to hold.
    checked: std::time::Instant,
    sends: Sends,
}

fn updates(
    state: LiveState,
    name: String,
    id: i64,
    owner: Option<Owner>,
    rx: broadcast::Receiver<Wake>,
    sends: Sends,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let feed = Feed {
        state,
        name,
        id,
        owner,
        rx,
        first: true,
        checked: std::time::Instant::now(),
        sends,
    };
    futures::stream::unfold(feed, |mut feed| async move {
        if !feed.first {
            // Wait for an event of this migration, then coalesce a burst
            // (progress ticks) into one update. An account event first
            // checks that the feed's session still holds, and so does a
            // quiet `SESSION_RECHECK` (a session expires without an event).
            loop {
                // The session's end is a wake of its own: the feed stops
                // then, not up to a recheck later.
                let wait = feed
                    .owner
                    .as_ref()
                    .and_then(|o| o.ends)
                    .map(|ends| ends.saturating_sub(chrono::Utc::now().timestamp()))
                    .map_or(SESSION_RECHECK, |left| {
                        SESSION_RECHECK.min(Duration::from_secs(left.max(0).unsigned_abs() + 1))
                    });
                let woken = tokio::time::timeout(wait, feed.rx.recv()).await;
                let Ok(woken) = woken else {
                    if !session_holds(&feed).await {
                        return None;
                    }
                    feed.checked = std::time::Instant::now();
                    continue;
                };
                match woken {
                    Ok(Wake::Migration(m)) if m == feed.id => break,
                    Ok(Wake::Progress(m))
                        if m == feed.id && matches!(feed.sends, Sends::Console) =>
                    {
                        break
                    }
                    Ok(Wake::Accounts) => {
                        if !session_holds(&feed).await {
                            return None;
                        }
                    }
                    Ok(Wake::Resync) => {
                        if !session_holds(&feed).await {
                            return None;
                        }
                        break;
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            while feed.rx.try_recv().is_ok() {}
            // Events may come faster than `SESSION_RECHECK` for hours (a
            // backfill's ticks): the session is checked at that pace anyway,
            // and its absolute end before every update.
            if feed.checked.elapsed() >= SESSION_RECHECK || past_end(&feed) {
                if !session_holds(&feed).await {
                    return None;
                }
                feed.checked = std::time::Instant::now();
            }
        }
        feed.first = false;
        let built = match feed.sends {
            Sends::Console => feed
                .state
                .console
                .view(&feed.name)
                .await
                .map_err(|e| e.to_string())
                .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
                .map(|json| ("console", json)),
            Sends::Tasks => store::migrations::tasks(feed.state.console.pool(), &feed.name)
                .await
                .map_err(|e| e.to_string())
                .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
                .map(|json| ("tasks", json)),
            Sends::Plan => store::plans::revision(feed.state.console.pool(), &feed.name)
                .await
                .map_err(|e| e.to_string())
                .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
                .map(|json| ("plan", json)),
        };
        let event = match built {
            Ok((kind, json)) => Event::default().event(kind).data(json),
            Err(e) => {
                tracing::warn!(error = %e, "live: cannot build the view");
                Event::default()
                    .event("error")
                    .data("the view could not be loaded")
            }
        };
        Some((Ok(event), feed))
    })
}

/// Is the feed's session past its absolute end?
fn past_end(feed: &Feed) -> bool {
    feed.owner
        .as_ref()
        .and_then(|o| o.ends)
        .is_some_and(|ends| chrono::Utc::now().timestamp() >= ends)
}

/// Is the feed's session still signed in with an enabled account, and not
/// past its absolute age? (A feed without a session has nothing to check.)
/// When the database cannot say, the feed ends: the browser reconnects
/// through the guard.
async fn session_holds(feed: &Feed) -> bool {
    let Some(owner) = &feed.owner else {
        return true;
    };
    if past_end(feed) {
        return false;
    }
    let pool = feed.state.console.pool();
    match store::accounts::session_signed_in(pool, &owner.session, owner.account).await {
        Ok(holds) => holds,
        Err(e) => {
            tracing::warn!(error = %e, "live: checking the session failed");
            false
        }
    }
}

/// What a share page's feed sends: the migration's moving parts, read as
/// the page reads them.
async fn shared_live(
    console: &super::Console,
    name: &str,
) -> Result<SharedLive, super::ConsoleError> {
    let pool = console.pool();
    let summary = store::migrations::find_summary(pool, name).await?;
    let plan = store::migrations::plan(pool, name).await?;
    let backfill_percent = console.view(name).await?.progress.map(|p| p.percent);
    Ok(SharedLive::of(&summary, &plan.phases, backfill_percent))
}

/// How often an open share feed checks its link when nothing happens (an
/// expiry wakes no one; a revocation is an event and is seen at once).
const SHARE_RECHECK: Duration = Duration::from_secs(30);

/// How long a console feed goes without checking its session when nothing
/// else makes it look: a session that expires (idle or absolute) ends its
/// feeds within this.
const SESSION_RECHECK: Duration = Duration::from_secs(30);

/// `GET /s/{token}/live`: a share link's live feed: its page's moving parts
/// (`SharedLive`, no emails) now, then after every event of its migration,
/// for as long as the link is open. When it is revoked (an event, so at
/// once) or expires, the feed sends `gone` and ends; asked for again, it
/// answers 410 like the page.
pub async fn shared_sse(State(state): State<LiveState>, Path(token): Path<String>) -> Response {
    use crate::store::shares::{resolve, Resolved};
    let pool = state.console.pool();
    let name = match resolve(pool, &token).await {
        Ok(Resolved::Open(name)) => name,
        Ok(Resolved::Revoked | Resolved::Expired(_)) => {
            return (StatusCode::GONE, "this share link no longer works").into_response()
        }
        Ok(Resolved::Unknown) => return (StatusCode::NOT_FOUND, "unknown link").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "shared live: resolving the link failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let id = match store::console::migration_id(pool, &name).await {
        Ok(Some(id)) => id,
        Ok(None) => return (StatusCode::NOT_FOUND, "unknown link").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "shared live: lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let rx = state.hub.subscribe().await;
    let feed = SharedFeed {
        state,
        token,
        name,
        id,
        rx,
        step: SharedStep::First,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        match feed.step {
            SharedStep::Ended => return None,
            SharedStep::First => {}
            SharedStep::Waiting => {
                // An event of this migration, or the recheck's time.
                let woken = tokio::time::timeout(SHARE_RECHECK, async {
                    loop {
                        match feed.rx.recv().await {
                            Ok(Wake::Migration(m) | Wake::Progress(m)) if m == feed.id => {
                                return true
                            }
                            Ok(Wake::Resync) => return true,
                            Ok(_) => continue,
                            Err(broadcast::error::RecvError::Lagged(_)) => return true,
                            Err(broadcast::error::RecvError::Closed) => return false,
                        }
                    }
                })
                .await;
                if matches!(woken, Ok(false)) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                while feed.rx.try_recv().is_ok() {}
            }
        }
        let pool = feed.state.console.pool();
        match store::shares::still_open(pool, &feed.token).await {
            Ok(true) => {}
            Ok(false) => {
                feed.step = SharedStep::Ended;
                let gone = Event::default()
                    .event("gone")
                    .data("this share link no longer works");
                return Some((Ok(gone), feed));
            }
            Err(e) => {
                // Not known to be open: stop rather than keep showing it.
                tracing::warn!(error = %e, "shared live: checking the link failed");
                return None;
            }
        }
        feed.step = SharedStep::Waiting;
        let event = match shared_live(&feed.state.console, &feed.name).await {
            Ok(live) => match serde_json::to_string(&live) {
                Ok(json) => Event::default().event("shared").data(json),
                Err(e) => Event::default().event("error").data(e.to_string()),
            },
            Err(e) => {
                tracing::warn!(error = %e, "shared live: cannot build the view");
                Event::default()
                    .event("error")
                    .data("the progress could not be loaded")
            }
        };
        Some((Ok::<_, Infallible>(event), feed))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

enum SharedStep {
    First,
    Waiting,
    Ended,
}

struct SharedFeed {
    state: LiveState,
    token: String,
    name: String,
    id: i64,
    rx: broadcast::Receiver<Wake>,
    step: SharedStep,
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

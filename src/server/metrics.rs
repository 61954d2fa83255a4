//! `GET /metrics`: Prometheus text format, built afresh on every scrape from
//! the database (so every app instance reports the same figures, and a
//! figure changed by the CLI or another instance shows at once).
//!
//! Gauges, each labelled by `migration`:
//! - `switchyard_phase_state{phase, name, state}`: 1 for the phase's current
//!   state, 0 for the others (one series per state, so alerts can match
//!   `state="failed"` without knowing a numbering);
//! - `switchyard_backfill_*`: rows done / total, rows/s, batch size, and the
//!   throttle (paused, abort requested, pause between batches, target batch
//!   duration), from the engine's progress row;
//! - `switchyard_quarantined_documents`;
//! - `switchyard_notion_outbox_items{state}`: the Notion outbox's depth
//!   (`pending` is what waits to be sent; `failed` waits for an operator).
//!
//! Adding a figure: read it in `store::metrics`, add a gauge in `render`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, GaugeVec, IntGaugeVec, Opts, Registry, TextEncoder};
use sqlx::PgPool;

use crate::engine::PhaseState;
use crate::store::metrics::{snapshot, MetricsSnapshot};
use crate::store::StoreError;

/// The handler (behind `server::bearer::require` when
/// `SWITCHYARD_METRICS_TOKEN` is set; Prometheus then sends it with
/// `authorization: { credentials: TOKEN }`).
pub async fn metrics(State(pool): State<PgPool>) -> Response {
    let snapshot = match snapshot(&pool).await {
        Ok(s) => s,
        Err(StoreError::Database(e)) if super::error::is_outage(&e) => {
            tracing::warn!(error = %e, "metrics: database unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: reading the snapshot failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match render(&snapshot) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, prometheus::TEXT_FORMAT),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: encoding failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn int_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let gauge = IntGaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

fn float_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<GaugeVec> {
    let gauge = GaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

/// The snapshot in the Prometheus text exposition format.
pub fn render(s: &MetricsSnapshot) -> prometheus::Result<String> {
    let registry = Registry::new();
    let m = &["migration"][..];

    let phase_state = int_gauge(
        &registry,
        "switchyard_phase_state",
        "1 for the phase's current state, 0 for the other states",
        &["migration", "phase", "name", "state"],
    )?;
    for row in &s.phases {
        let number = row.phase.number().to_string();
        for state in PhaseState::ALL {
            phase_state
                .with_label_values(&[&row.migration, &number, row.phase.name(), state.as_str()])
                .set(i64::from(state == row.state));
        }
    }

    let rows_done = int_gauge(
        &registry,
        "switchyard_backfill_rows_done",
        "Rows the backfill has processed",
        m,
    )?;
    let rows_total = int_gauge(
        &registry,
        "switchyard_backfill_rows_total",
        "Rows the backfill has to process (estimate taken when it started)",
        m,
    )?;
    let rows_per_second = float_gauge(
        &registry,
        "switchyard_backfill_rows_per_second",
        "Backfill throughput over its last batches",
        m,
    )?;
    let batch_size = int_gauge(
        &registry,
        "switchyard_backfill_batch_size",
        "Rows per backfill batch now",
        m,
    )?;
    let paused = int_gauge(
        &registry,
        "switchyard_backfill_paused",
        "1 when the operator paused the backfill",
        m,
    )?;
    let abort_requested = int_gauge(
        &registry,
        "switchyard_backfill_abort_requested",
        "1 when the operator asked the backfill to abort",
        m,
    )?;
    let throttle_ms = int_gauge(
        &registry,
        "switchyard_backfill_throttle_ms",
        "Pause between backfill batches, in milliseconds",
        m,
    )?;
    let target_batch_ms = int_gauge(
        &registry,
        "switchyard_backfill_target_batch_ms",
        "Target duration of one backfill batch, in milliseconds",
        m,
    )?;
    let throttled = int_gauge(
        &registry,
        "switchyard_backfill_throttled",
        "1 while the backfill yields to the application (its write latency is over the limit)",
        m,
    )?;
    let updated = float_gauge(
        &registry,
        "switchyard_backfill_updated_timestamp_seconds",
        "When the backfill last reported (Unix time)",
        m,
    )?;
    for b in &s.backfills {
        let l = &[b.migration.as_str()][..];
        rows_done.with_label_values(l).set(b.rows_done);
        rows_total.with_label_values(l).set(b.rows_total);
        rows_per_second.with_label_values(l).set(b.rows_per_second);
        batch_size.with_label_values(l).set(i64::from(b.batch_size));
        paused.with_label_values(l).set(i64::from(b.paused));
        abort_requested
            .with_label_values(l)
            .set(i64::from(b.abort_requested));
        throttle_ms
            .with_label_values(l)
            .set(i64::from(b.throttle_ms));
        target_batch_ms
            .with_label_values(l)
            .set(i64::from(b.target_batch_ms));
        throttled
            .with_label_values(l)
            .set(i64::from(b.throttled.is_some()));
        updated
            .with_label_values(l)
            .set(b.updated_at.timestamp_millis() as f64 / 1000.0);
    }

    let quarantined = int_gauge(
        &registry,
        "switchyard_quarantined_documents",
        "Documents in quarantine (not mapped into the new tables)",
        m,
    )?;
    for (migration, count) in &s.quarantined {
        quarantined
            .with_label_values(&[migration.as_str()])
            .set(*count);
    }

    let outbox = int_gauge(
        &registry,
        "switchyard_notion_outbox_items",
        "Items in the Notion outbox by state (pending: to send; failed: waiting for an operator)",
        &["state"],
    )?;
    for (state, count) in &s.outbox {
        outbox.with_label_values(&[state.as_str()]).set(*count);
    }

    let mut out = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut out)?;
    String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

//! How the backfill stays out of the application's way (after gh-ost's and
//! spirit's throttlers): while each batch runs and other sessions are at
//! work in the database, a probe write, committed like an application
//! write, is timed on its own connection; when the probes are slower than
//! `factor` times their latency with the backfill idle, the backfill
//! yields (a pause after each batch, growing while the application
//! suffers, shrinking when it recovers) and smaller batches follow. The
//! reason is recorded with the progress ("throttled: write latency 3.2 ms >
//! 1.6 ms"), for the console, the CLI and `/metrics`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

/// When the backfill yields to the application.
#[derive(Clone, Debug)]
pub struct HealthPolicy {
    /// Off: batches follow each other with only the operator's pause.
    pub enabled: bool,
    /// Yield when a probe during a batch is slower than this many times the
    /// idle latency...
    pub factor: f64,
    /// ...and slower than this (sub-millisecond noise is not suffering).
    pub floor: Duration,
    /// Time between probes while a batch runs.
    pub interval: Duration,
    /// The longest pause after one batch.
    pub max_pause: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            enabled: true,
            factor: 2.0,
            floor: Duration::from_micros(500),
            interval: Duration::from_millis(10),
            max_pause: Duration::from_secs(1),
        }
    }
}

/// The `application_name` of the engine's batch transactions.
pub const OURS: &str = "switchyard";

/// How many sessions of others are running a statement in this database
/// now. Ours are told apart by name (`OURS`, set in every batch
/// transaction, its commit included) or by naming `switchyard` objects or
/// comments; the application's statements show as written, whatever
/// triggers they fire. A read: it commits nothing.
const OTHERS: &str = "SELECT count(*) FROM pg_catalog.pg_stat_activity a
     WHERE a.datname = current_database() AND a.backend_type = 'client backend'
       AND a.state = 'active' AND a.pid <> pg_backend_pid()
       AND a.application_name IS DISTINCT FROM $1 AND a.query NOT LIKE '%' || $1 || '%'";

/// A probe write, committed like an application's.
const PROBE: &str =
    "INSERT INTO switchyard.health_probe (migration_name, probed_at) VALUES ($1, clock_timestamp())
     ON CONFLICT (migration_name) DO UPDATE SET probed_at = EXCLUDED.probed_at";

/// Whether others are at work now (see `OTHERS`).
async fn others_at_work(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(OTHERS)
        .bind(OURS)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// One probe write on the throttle's own session (so no wait for a pooled
/// connection is counted), timed.
async fn probe(conn: &mut PgConnection, name: &str) -> Result<Duration, sqlx::Error> {
    let started = Instant::now();
    sqlx::query(PROBE).bind(name).execute(conn).await?;
    Ok(started.elapsed())
}

/// A probe that waits this long (a lock, a stalled commit) counts as this
/// slow and ends: the throttle never waits longer for one.
const PROBE_TIMEOUT_MS: u64 = 1000;

/// The throttle's state across batches.
#[derive(Debug)]
pub struct Throttle {
    policy: HealthPolicy,
    /// The probes' session, taken out of the pool for the whole backfill
    /// (its statement timeout must not follow it back there) and closed
    /// with the throttle (None: off).
    conn: Option<PgConnection>,
    /// Probe latency with the backfill idle (the median of a few).
    idle: Duration,
    /// Pause after a batch, as a multiple of the batch's duration.
    ratio: f64,
}

/// What the throttle decided after a batch.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    /// How long to wait before the next batch.
    pub pause: Duration,
    /// Why, when the application suffered ("write latency 3.2 ms > 1.6 ms").
    pub reason: Option<String>,
}

impl Throttle {
    /// Measures the idle probe latency (before the first batch, and on
    /// every resume) on a session of its own. If no session can be had or
    /// the probe fails, the backfill runs unthrottled (and says so in the
    /// log) rather than not at all.
    pub async fn start(pool: &PgPool, name: &str, mut policy: HealthPolicy) -> Self {
        let mut conn = None;
        let mut samples = Vec::new();
        if policy.enabled {
            match Self::idle(pool, name).await {
                Ok((c, s)) => {
                    conn = Some(c);
                    samples = s;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the backfill's health probe failed: running unthrottled");
                    policy.enabled = false;
                }
            }
        }
        samples.sort();
        let idle = samples.get(samples.len() / 2).copied().unwrap_or_default();
        Throttle {
            policy,
            conn,
            idle,
            ratio: 0.0,
        }
    }

    async fn idle(pool: &PgPool, name: &str) -> Result<(PgConnection, Vec<Duration>), sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        sqlx::query(&format!("SET statement_timeout = {PROBE_TIMEOUT_MS}"))
            .execute(&mut conn)
            .await?;
        let mut samples = Vec::new();
        for _ in 0..7 {
            samples.push(probe(&mut conn, name).await?);
        }
        Ok((conn, samples))
    }

    /// The latency above which the application is said to suffer.
    pub fn limit(&self) -> Duration {
        self.idle.mul_f64(self.policy.factor).max(self.policy.floor)
    }

    /// Runs `batch` while probing; returns its result and the verdict.
    pub async fn watch<T, E>(
        &mut self,
        name: &str,
        batch: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<(T, Verdict), E> {
        let Some(conn) = self.conn.as_mut().filter(|_| self.policy.enabled) else {
            return batch.await.map(|v| (v, Verdict::default()));
        };
        let done = AtomicBool::new(false);
        let started = Instant::now();
        let work = async {
            let r = batch.await;
            done.store(true, Ordering::Release);
            r
        };
        let interval = self.policy.interval;
        let probes = async {
            let mut times = Vec::new();
            while !done.load(Ordering::Acquire) {
                // Slow probes while nobody else is at work are our own
                // cost: no application suffers from them. So the write
                // (and its commit, which competes with the batch's) is
                // only made while others work.
                if let Ok(true) = others_at_work(conn).await {
                    let started = Instant::now();
                    match probe(conn, name).await {
                        Ok(d) => times.push(d),
                        // Timed out: at least that slow. Other failures
                        // say nothing about the application.
                        Err(_) if started.elapsed() >= Duration::from_millis(PROBE_TIMEOUT_MS) => {
                            times.push(started.elapsed())
                        }
                        Err(_) => {}
                    }
                }
                tokio::time::sleep(interval).await;
            }
            // One outlier is not suffering: the second slowest counts.
            times.sort();
            match times.len() {
                0 => Duration::ZERO,
                1 => times[0],
                n => times[n - 2],
            }
        };
        let (value, worst) = tokio::join!(work, probes);
        let value = value?;
        Ok((value, self.judge(worst, started.elapsed())))
    }

    /// After a batch that took `took`, with the slowest probe at `worst`.
    pub fn judge(&mut self, worst: Duration, took: Duration) -> Verdict {
        let limit = self.limit();
        if worst > limit {
            self.ratio = (self.ratio * 2.0 + 0.5).min(8.0);
            let pause = took.mul_f64(self.ratio).min(self.policy.max_pause);
            Verdict {
                pause,
                reason: Some(format!(
                    "write latency {:.1} ms > {:.1} ms",
                    worst.as_secs_f64() * 1e3,
                    limit.as_secs_f64() * 1e3
                )),
            }
        } else {
            self.ratio = if self.ratio < 0.1 {
                0.0
            } else {
                self.ratio * 0.7
            };
            Verdict {
                pause: took.mul_f64(self.ratio).min(self.policy.max_pause),
                reason: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(idle_ms: u64) -> Throttle {
        Throttle {
            policy: HealthPolicy::default(),
            conn: None,
            idle: Duration::from_millis(idle_ms),
            ratio: 0.0,
        }
    }

    #[test]
    fn yields_more_while_the_application_suffers_and_recovers_after() {
        let mut t = throttle(2);
        let took = Duration::from_millis(100);
        let first = t.judge(Duration::from_millis(9), took);
        assert_eq!(
            first.reason.as_deref(),
            Some("write latency 9.0 ms > 4.0 ms")
        );
        let second = t.judge(Duration::from_millis(9), took);
        assert!(second.pause > first.pause, "{second:?} after {first:?}");
        let calm = t.judge(Duration::from_millis(3), took);
        assert_eq!(calm.reason, None);
        assert!(calm.pause < second.pause);
        for _ in 0..40 {
            t.judge(Duration::from_millis(3), took);
        }
        assert_eq!(
            t.judge(Duration::from_millis(3), took).pause,
            Duration::ZERO
        );
    }

    #[test]
    fn sub_millisecond_noise_is_not_suffering_and_pauses_are_bounded() {
        let mut t = throttle(0);
        assert_eq!(t.limit(), HealthPolicy::default().floor);
        assert_eq!(
            t.judge(Duration::from_micros(400), Duration::from_millis(50))
                .reason,
            None
        );
        for _ in 0..20 {
            let v = t.judge(Duration::from_secs(1), Duration::from_secs(10));
            assert!(v.pause <= HealthPolicy::default().max_pause);
        }
    }
}

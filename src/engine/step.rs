//! A phase's steps as typed values. The planner builds each step's SQL once;
//! the runner executes those very strings, reading them by name (never by
//! position or from the label); the dry run renders them. So what is shown is
//! by construction what runs.

/// One step of a phase: what the operator reads, and the work it does.
#[derive(Clone, Debug)]
pub struct Step {
    pub label: String,
    pub work: Work,
}

/// What a step does, with its SQL.
#[derive(Clone, Debug)]
pub enum Work {
    /// Statements run together, in one transaction under `lock_timeout`,
    /// retried with backoff.
    Transaction(Vec<String>),
    /// One `ALTER TABLE … ADD CONSTRAINT` in a transaction, skipped when
    /// constraint `name` already exists on `table` (a re-run after a crash).
    NewConstraint {
        add: String,
        table: String,
        name: String,
    },
    /// An index built CONCURRENTLY, outside any transaction.
    Index(IndexBuild),
    /// Phase 2's keyset loop: each batch mapped and checkpointed in one
    /// transaction.
    Backfill {
        bounds: KeyBounds,
        map: String,
        checkpoint: String,
    },
    /// Phase 3's drain: keys taken from the capture log and re-mapped, in
    /// one transaction per batch.
    DrainCapture { take: String, remap: String },
    /// Verification in key batches.
    Verify(Verification),
    /// `copy($1, $2)` over every key batch, one transaction each.
    BackupCopy { bounds: KeyBounds, copy: String },
    /// The backup restored in key batches, then `catch_up` repeated until
    /// `count` finds nothing restorable left.
    Restore {
        bounds: KeyBounds,
        restore: String,
        catch_up: String,
        count: String,
    },
    /// Replays target writes remembered since the contract; repeated while it
    /// returns a positive count.
    ReplayContract { replay: String },
    /// Applies sync work deferred by triggers that gave way to a deadlock.
    DrainSync { drain: String },
}

/// The keyset batch statements (`sql::batch_bounds`): the first batch, and
/// the batch after a given key.
#[derive(Clone, Debug)]
pub struct KeyBounds {
    pub first: String,
    pub next: String,
}

/// An index built CONCURRENTLY on `table`: a failed attempt's invalid
/// leftover is dropped (`drop_invalid`) before every attempt, since `build`'s
/// IF NOT EXISTS would skip it; done only when `index` (schema-qualified,
/// quoted) exists on `table` and is valid.
#[derive(Clone, Debug)]
pub struct IndexBuild {
    pub drop_invalid: String,
    pub build: String,
    pub index: String,
    pub table: String,
}

/// Verification's statements: key batches, and one comparison per target
/// in the recipe's target order.
#[derive(Clone, Debug)]
pub struct Verification {
    pub bounds: KeyBounds,
    pub compare: Vec<String>,
}

/// How a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepMode {
    /// In a transaction under lock_timeout, retried with backoff.
    Transaction,
    /// Outside any transaction (CONCURRENTLY), under lock_timeout, retried.
    Concurrent,
    /// Repeated in batches by the engine (backfill, drain, verify, restore).
    Batched,
}

impl StepMode {
    /// How the step runs, in words.
    pub fn describe(self) -> &'static str {
        match self {
            StepMode::Transaction => "one transaction, lock_timeout, retried",
            StepMode::Concurrent => "outside a transaction, lock_timeout, retried",
            StepMode::Batched => "repeated in key batches",
        }
    }
}

impl Step {
    pub fn new(label: impl Into<String>, work: Work) -> Self {
        Step {
            label: label.into(),
            work,
        }
    }

    /// A step of statements run in one transaction.
    pub fn tx(label: impl Into<String>, sql: Vec<String>) -> Self {
        Step::new(label, Work::Transaction(sql))
    }

    pub fn mode(&self) -> StepMode {
        match self.work {
            Work::Transaction(_) | Work::NewConstraint { .. } => StepMode::Transaction,
            Work::Index(_) => StepMode::Concurrent,
            _ => StepMode::Batched,
        }
    }

    /// Every statement of the step, in the order it runs them.
    pub fn statements(&self) -> Vec<&str> {
        let all: Vec<&String> = match &self.work {
            Work::Transaction(sql) => sql.iter().collect(),
            Work::NewConstraint { add, .. } => vec![add],
            Work::Index(ix) => vec![&ix.drop_invalid, &ix.build],
            Work::Backfill {
                bounds,
                map,
                checkpoint,
            } => vec![&bounds.first, &bounds.next, map, checkpoint],
            Work::DrainCapture { take, remap } => vec![take, remap],
            Work::Verify(v) => [&v.bounds.first, &v.bounds.next]
                .into_iter()
                .chain(&v.compare)
                .collect(),
            Work::BackupCopy { bounds, copy } => vec![&bounds.first, &bounds.next, copy],
            Work::Restore {
                bounds,
                restore,
                catch_up,
                count,
            } => vec![&bounds.first, &bounds.next, restore, catch_up, count],
            Work::ReplayContract { replay } => vec![replay],
            Work::DrainSync { drain } => vec![drain],
        };
        all.into_iter().map(String::as_str).collect()
    }
}

/// A phase's steps as text: each step's label and how it runs as a
/// comment, then its statements. What `switchyard plan` prints, what the
/// console shows, and what the golden files of the generated SQL hold.
pub fn render_steps(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        out.push_str(&format!("-- {} ({})\n", step.label, step.mode().describe()));
        for sql in step.statements() {
            out.push_str(sql);
            out.push_str(";\n\n");
        }
    }
    out
}

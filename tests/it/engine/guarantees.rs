//! One test per defect listed in issue 8; each failed on the engine before it
//! was fixed. Item numbers refer to that issue.

use super::*;
use serde_json::{json, Value};

/// A recipe over `public.docs (id bigint PRIMARY KEY, doc jsonb)`.
fn docs_recipe(targets: &str) -> Recipe {
    Recipe::parse(&format!(
        r#"
name = "docs"
soak_hours = 0.0
initial_batch_size = 3
[source]
table = "docs"
key = "id"
column = "doc"
{targets}
"#
    ))
    .expect("test recipe")
}

const PREFS: &str = r#"
[[targets]]
table = "prefs"
source_key_column = "doc_id"
[[targets.columns]]
name = "theme"
type = "text"
[[targets.columns]]
name = "language"
type = "text"
default = "en"
[[targets]]
table = "channels"
kind = "per_entry"
entries = "notifications"
source_key_column = "doc_id"
entry_key_column = "channel"
[[targets.columns]]
name = "enabled"
type = "boolean"
default = true
"#;

async fn docs_table(pool: &PgPool, docs: &[(i64, Value)]) {
    sqlx::query("CREATE TABLE public.docs (id bigint PRIMARY KEY, email text, doc jsonb)")
        .execute(pool)
        .await
        .expect("docs table");
    for (id, doc) in docs {
        sqlx::query("INSERT INTO public.docs (id, doc) VALUES ($1, $2)")
            .bind(id)
            .bind(doc)
            .execute(pool)
            .await
            .expect("doc");
    }
}

async fn doc(pool: &PgPool, id: i64) -> Value {
    sqlx::query_scalar::<_, Option<Value>>("SELECT doc FROM public.docs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("doc")
        .unwrap_or(Value::Null)
}

async fn run_to(e: &Engine, last: Phase) {
    for phase in Phase::ALL.into_iter().filter(|p| *p <= last) {
        run(e, phase).await;
    }
}

async fn zero_differences(e: &Engine) {
    let report = e.verify().await.expect("verify");
    assert_eq!(report.differences, 0, "{:?}", report.first_differences);
}

// 1 and 2: reverse sync changes exactly the mapped paths.
#[sqlx::test(migrations = "./migrations")]
async fn reverse_sync_keeps_every_key_it_does_not_map(pool: PgPool) {
    let original = json!({
        "language": "de",
        "notifications": {"email": {"enabled": true, "verified_at": "2024-01-01"}},
        "extra": [1, 2]
    });
    docs_table(&pool, &[(1, original.clone())]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;

    // 1: theme is NULL (optional, absent); updating another column keeps the rest.
    sqlx::query("UPDATE public.prefs SET language = 'fr' WHERE doc_id = 1")
        .execute(&pool)
        .await
        .expect("update prefs");
    let mut expected = original.clone();
    expected["language"] = json!("fr");
    assert_eq!(doc(&pool, 1).await, expected);

    // 2: an entry's keys that no column maps survive a target write.
    sqlx::query("UPDATE public.channels SET enabled = false WHERE doc_id = 1")
        .execute(&pool)
        .await
        .expect("update channel");
    expected["notifications"]["email"]["enabled"] = json!(false);
    assert_eq!(doc(&pool, 1).await, expected);

    // NULL written to an optional column removes the key; setting it adds it.
    sqlx::query("UPDATE public.prefs SET theme = 'dark' WHERE doc_id = 1")
        .execute(&pool)
        .await
        .expect("set theme");
    expected["theme"] = json!("dark");
    assert_eq!(doc(&pool, 1).await, expected);
    sqlx::query("UPDATE public.prefs SET theme = NULL WHERE doc_id = 1")
        .execute(&pool)
        .await
        .expect("unset theme");
    expected.as_object_mut().expect("object").remove("theme");
    assert_eq!(doc(&pool, 1).await, expected);

    // A new entry, then its deletion: only that entry changes.
    sqlx::query("INSERT INTO public.channels (doc_id, channel, enabled) VALUES (1, 'sms', true)")
        .execute(&pool)
        .await
        .expect("insert channel");
    // `enabled` holds its default: the entry maps to it without the key.
    expected["notifications"]["sms"] = json!({});
    assert_eq!(doc(&pool, 1).await, expected);
    sqlx::query("DELETE FROM public.channels WHERE doc_id = 1 AND channel = 'sms'")
        .execute(&pool)
        .await
        .expect("delete channel");
    expected["notifications"]
        .as_object_mut()
        .expect("object")
        .remove("sms");
    assert_eq!(doc(&pool, 1).await, expected);
    zero_differences(&e).await;
}

async fn create_rich_column(pool: &PgPool) {
    for stmt in [
        "CREATE TABLE public.docs (id bigint PRIMARY KEY, email text, doc jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(doc) = 'object'))",
        "CREATE INDEX docs_doc_gin ON public.docs USING gin (doc)",
        "COMMENT ON COLUMN public.docs.doc IS 'the preferences document'",
        "INSERT INTO public.docs (id, doc) SELECT g, jsonb_build_object('theme', 'light', 'notifications', jsonb_build_object('email', jsonb_build_object('enabled', true, 'since', g))) FROM generate_series(1, 50) g",
    ] {
        sqlx::query(stmt).execute(pool).await.expect(stmt);
    }
}

async fn column_shape(
    pool: &PgPool,
) -> (
    Option<String>,
    bool,
    Vec<String>,
    Vec<String>,
    Option<String>,
) {
    sqlx::query_as(
        "SELECT pg_get_expr(d.adbin, d.adrelid), a.attnotnull,
                ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'c' ORDER BY 1),
                ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisvalid ORDER BY 1),
                col_description(a.attrelid, a.attnum)
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = 'public.docs'::regclass AND a.attname = 'doc'",
    )
    .fetch_one(pool)
    .await
    .expect("column shape")
}

// 3: the contract is lossless both ways, deletes included, and the column
// comes back with its definition.
#[sqlx::test(migrations = "./migrations")]
async fn rolling_back_the_contract_restores_definition_and_every_write(pool: PgPool) {
    create_rich_column(&pool).await;
    let shape = column_shape(&pool).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Contract).await;

    // After the contract: a delete, an update and an insert on the targets,
    // and a new source row.
    for stmt in [
        "DELETE FROM public.channels WHERE doc_id = 2 AND channel = 'email'",
        "UPDATE public.prefs SET theme = 'dark' WHERE doc_id = 3",
        "INSERT INTO public.channels (doc_id, channel, enabled) VALUES (4, 'push', false)",
        "INSERT INTO public.docs (id) VALUES (51)",
    ] {
        sqlx::query(stmt).execute(&pool).await.expect(stmt);
    }
    e.rollback(Phase::Contract).await.expect("rollback 5");

    assert_eq!(
        column_shape(&pool).await,
        shape,
        "DEFAULT, NOT NULL, CHECK, index, comment"
    );
    assert_eq!(
        doc(&pool, 2).await,
        json!({"theme": "light", "notifications": {}})
    );
    assert_eq!(doc(&pool, 3).await["theme"], json!("dark"));
    assert_eq!(
        doc(&pool, 4).await["notifications"],
        json!({"email": {"enabled": true, "since": 4}, "push": {"enabled": false}})
    );
    assert_eq!(
        doc(&pool, 51).await,
        json!({}),
        "a row inserted meanwhile gets the default"
    );
    assert_eq!(
        doc(&pool, 5).await["notifications"]["email"]["since"],
        json!(5)
    );
    // Dual-write and reverse sync are back.
    sqlx::query(
        "UPDATE public.docs SET doc = jsonb_set(doc, '{theme}', '\"system\"') WHERE id = 6",
    )
    .execute(&pool)
    .await
    .expect("doc write");
    let theme: String = sqlx::query_scalar("SELECT theme FROM public.prefs WHERE doc_id = 6")
        .fetch_one(&pool)
        .await
        .expect("theme");
    assert_eq!(theme, "system");
    // Row 51's targets follow its new document by a queued re-map (the
    // application may still be writing them); rolling back phase 4 does it.
    assert_eq!(e.status().await.expect("status").pending_sync, 1);
    e.rollback(Phase::SwitchReads).await.expect("rollback 4");
    assert_eq!(e.status().await.expect("status").pending_sync, 0);
    zero_differences(&e).await;
}

// 3: a drop that fails, then document writes, then the rollback: nothing lost.
#[sqlx::test(migrations = "./migrations")]
async fn a_failed_drop_then_rollback_keeps_later_document_writes(pool: PgPool) {
    create_rich_column(&pool).await;
    let quick = crate::engine_with(&pool, docs_recipe(PREFS), "test", 100, 2, None);
    run_to(&quick, Phase::SwitchReads).await;
    // A reader holding the table: the drop cannot get its exclusive lock.
    let mut reader = pool.begin().await.expect("reader");
    sqlx::query("SELECT count(*) FROM public.docs")
        .execute(&mut *reader)
        .await
        .expect("read");
    let err = quick
        .apply(Phase::Contract, &accept_all())
        .await
        .expect_err("drop must time out");
    assert!(matches!(err, EngineError::LockTimeout { .. }), "{err}");
    reader.rollback().await.expect("end reader");

    sqlx::query("UPDATE public.docs SET doc = jsonb_set(doc, '{theme}', '\"dark\"') WHERE id = 7")
        .execute(&pool)
        .await
        .expect("write after the failed drop");
    sqlx::query("UPDATE public.prefs SET theme = 'system' WHERE doc_id = 8")
        .execute(&pool)
        .await
        .expect("target write after the failed drop");
    quick.rollback(Phase::Contract).await.expect("rollback 5");
    assert_eq!(doc(&pool, 7).await["theme"], json!("dark"));
    assert_eq!(doc(&pool, 8).await["theme"], json!("system"));
    let backup_left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'switchyard' AND tablename LIKE 'sy\\_%backup')",
    )
    .fetch_one(&pool)
    .await
    .expect("backup");
    assert!(!backup_left);
    zero_differences(&quick).await;
}

// 4: the lowest key is migrated; a nullable key is refused.
#[sqlx::test(migrations = "./migrations")]
async fn the_lowest_possible_key_is_migrated_and_nullable_keys_refused(pool: PgPool) {
    docs_table(
        &pool,
        &[
            (i64::MIN, json!({"theme": "a"})),
            (i64::MIN + 1, json!({"theme": "b"})),
            (0, json!({"theme": "c"})),
        ],
    )
    .await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Backfill).await;
    let keys: Vec<i64> = sqlx::query_scalar("SELECT doc_id FROM public.prefs ORDER BY doc_id")
        .fetch_all(&pool)
        .await
        .expect("keys");
    assert_eq!(keys, vec![i64::MIN, i64::MIN + 1, 0]);
    zero_differences(&e).await;

    sqlx::query("CREATE TABLE public.loose (id bigint UNIQUE, doc jsonb)")
        .execute(&pool)
        .await
        .expect("loose");
    let loose = Recipe::parse(
        &docs_recipe(PREFS)
            .text
            .replace("table = \"docs\"", "table = \"loose\"")
            .replace("name = \"docs\"", "name = \"loose\""),
    )
    .expect("loose recipe");
    let errors = switchyard::engine::inspect::check_database(&pool, &loose, false)
        .await
        .expect("check");
    assert!(
        errors
            .iter()
            .any(|e| e.field == "source.key" && e.message.contains("nullable")),
        "{errors:?}"
    );
}

// 5 and 10: key updates work; a document changed by the application's own
// BEFORE trigger (on an update naming another column) is captured.
#[sqlx::test(migrations = "./migrations")]
async fn key_updates_and_documents_changed_by_before_triggers_are_followed(pool: PgPool) {
    docs_table(
        &pool,
        &[(1, json!({"theme": "a"})), (2, json!({"theme": "b"}))],
    )
    .await;
    sqlx::query(
        "CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.email IS DISTINCT FROM OLD.email THEN
             NEW.doc := jsonb_set(NEW.doc, '{theme}', to_jsonb(NEW.email));
           END IF;
           RETURN NEW;
         END $$",
    )
    .execute(&pool)
    .await
    .expect("app trigger fn");
    sqlx::query("CREATE TRIGGER stamp BEFORE UPDATE ON public.docs FOR EACH ROW EXECUTE FUNCTION public.stamp()")
        .execute(&pool)
        .await
        .expect("app trigger");
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Backfill).await;
    // Phase 2: a key update (the FK follows it) and a captured BEFORE-trigger change.
    sqlx::query("UPDATE public.docs SET id = 10 WHERE id = 1")
        .execute(&pool)
        .await
        .expect("key update during phase 2");
    sqlx::query("UPDATE public.docs SET email = 'captured' WHERE id = 2")
        .execute(&pool)
        .await
        .expect("email update during phase 2");
    run(&e, Phase::DualWrite).await;
    sqlx::query("UPDATE public.docs SET id = 11 WHERE id = 10")
        .execute(&pool)
        .await
        .expect("key update during phase 3");
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT doc_id, theme FROM public.prefs ORDER BY doc_id")
            .fetch_all(&pool)
            .await
            .expect("prefs");
    assert_eq!(rows, vec![(2, "captured".into()), (11, "a".into())]);
    sqlx::query("UPDATE public.docs SET email = 'dual' WHERE id = 2")
        .execute(&pool)
        .await
        .expect("email update during phase 3");
    let theme: String = sqlx::query_scalar("SELECT theme FROM public.prefs WHERE doc_id = 2")
        .fetch_one(&pool)
        .await
        .expect("theme");
    assert_eq!(theme, "dual");
    zero_differences(&e).await;
}

// 6: a document writer and a target writer on the same key, in opposite
// lock order: both commit, no deadlock error reaches either.
#[sqlx::test(migrations = "./migrations")]
async fn opposite_writers_never_see_a_deadlock(pool: PgPool) {
    docs_table(
        &pool,
        &[(
            1,
            json!({"theme": "a", "notifications": {"email": {"enabled": true}}}),
        )],
    )
    .await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;
    for round in 0..3 {
        // The document writer locks the source row first...
        let mut doc_writer = pool.begin().await.expect("doc writer");
        sqlx::query("UPDATE public.docs SET email = $1 WHERE id = 1")
            .bind(format!("round {round}"))
            .execute(&mut *doc_writer)
            .await
            .expect("lock the source row");
        // ...the target writer locks the target row, then waits for the source.
        let target_pool = pool.clone();
        let target_writer = tokio::spawn(async move {
            let mut tx = target_pool.begin().await?;
            sqlx::query("UPDATE public.prefs SET theme = 'from-target' WHERE doc_id = 1")
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Now the document writer needs the target row: a lock cycle.
        sqlx::query(
            "UPDATE public.docs SET doc = jsonb_set(doc, '{theme}', '\"from-doc\"') WHERE id = 1",
        )
        .execute(&mut *doc_writer)
        .await
        .expect("document write never fails with a deadlock");
        doc_writer.commit().await.expect("doc writer commits");
        target_writer
            .await
            .expect("join")
            .expect("target write never fails with a deadlock");
        // Both committed; the one that committed last decides, on both sides.
        let theme: String = sqlx::query_scalar("SELECT theme FROM public.prefs WHERE doc_id = 1")
            .fetch_one(&pool)
            .await
            .expect("theme");
        assert!(
            ["from-target", "from-doc"].contains(&theme.as_str()),
            "{theme}"
        );
        assert_eq!(doc(&pool, 1).await["theme"], json!(theme));
        assert_eq!(
            queued(&pool).await,
            0,
            "the handed-over work was done by the other writer"
        );
        zero_differences(&e).await;
    }
}

// 7: long target names that share a 63-byte prefix do not collide.
#[sqlx::test(migrations = "./migrations")]
async fn long_target_names_never_collide(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"a": "x", "b": "y"}))]).await;
    let long = "user_notification_channel_preferences_for_every_device_kind";
    let e = engine(
        &pool,
        docs_recipe(&format!(
            r#"
[[targets]]
table = "{long}_a"
source_key_column = "doc_id"
[[targets.columns]]
name = "a"
type = "text"
[[targets]]
table = "{long}_b"
source_key_column = "doc_id"
[[targets.columns]]
name = "b"
type = "text"
"#
        )),
    );
    run_to(&e, Phase::SwitchReads).await;
    for (t, v) in [("a", "x2"), ("b", "y2")] {
        sqlx::query(&format!("UPDATE public.{long}_{t} SET {t} = $1"))
            .bind(v)
            .execute(&pool)
            .await
            .expect("write each target");
    }
    assert_eq!(doc(&pool, 1).await, json!({"a": "x2", "b": "y2"}));
}

// 8: values the reason check cannot foresee are quarantined with the
// database's reason; batches and application writes never fail.
#[sqlx::test(migrations = "./migrations")]
async fn values_the_database_refuses_are_quarantined_not_fatal(pool: PgPool) {
    // Incompressible, so it cannot fit an index row (2704 bytes) compressed.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let huge_key: String = (0..4000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            char::from(b'a' + (seed % 26) as u8)
        })
        .collect();
    docs_table(
        &pool,
        &[
            (1, json!({"x": 1.5})),
            (3, json!({"x": 2, "entries": {huge_key.clone(): {"v": 1}}})),
            (4, json!({"x": 3})),
        ],
    )
    .await;
    // Past f64: written as text, as an application would.
    sqlx::query("INSERT INTO public.docs (id, doc) VALUES (2, '{\"x\": 1e309}')")
        .execute(&pool)
        .await
        .expect("doc 2");
    let recipe = docs_recipe(
        r#"
[[targets]]
table = "nums"
source_key_column = "doc_id"
[[targets.columns]]
name = "x"
type = "double precision"
[[targets]]
table = "entries"
kind = "per_entry"
entries = "entries"
source_key_column = "doc_id"
entry_key_column = "k"
[[targets.columns]]
name = "v"
type = "integer"
"#,
    );
    let e = engine(&pool, recipe);
    run_to(&e, Phase::DualWrite).await;
    let quarantined: Vec<String> =
        sqlx::query_scalar("SELECT source_key FROM switchyard.quarantine ORDER BY source_key")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    assert_eq!(quarantined, vec!["2", "3"]);
    // During dual-write an application write of such a value is accepted.
    sqlx::query("UPDATE public.docs SET doc = '{\"x\": 1e400}' WHERE id = 4")
        .execute(&pool)
        .await
        .expect("the application's write is accepted");
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM switchyard.quarantine WHERE source_key = '4'")
            .fetch_one(&pool)
            .await
            .expect("quarantined");
    assert!(reason.contains("out of range"), "{reason}");
    sqlx::query("UPDATE public.docs SET doc = '{\"x\": 4}' WHERE id = 4")
        .execute(&pool)
        .await
        .expect("fixed");
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.quarantine WHERE source_key = '4'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(n, 0, "a fixed document leaves the quarantine");
    // Values the checks pass and the database refuses (an entry key too big
    // for its index) reach the dual-write's fallback: an INSERT of one beside
    // a good row, then one UPDATE whose second group of keys (by the targets
    // their change touches) is refused after its first was written. Both are
    // accepted; only the refused documents are quarantined, with the
    // database's message, and the good rows are mapped.
    let bad = json!({"x": 5, "entries": {huge_key.clone(): {"v": 1}}});
    sqlx::query(
        "INSERT INTO public.docs (id, doc) VALUES (5, $1), (6, '{\"x\": 6}'), (7, '{\"x\": 7}')",
    )
    .bind(&bad)
    .execute(&pool)
    .await
    .expect("the application's insert is accepted");
    sqlx::query(
        "UPDATE public.docs SET doc = CASE id WHEN 6 THEN '{\"x\": 60}'::jsonb ELSE $1 END
         WHERE id IN (6, 7)",
    )
    .bind(json!({"x": 7, "entries": {huge_key.clone(): {"v": 2}}}))
    .execute(&pool)
    .await
    .expect("the application's update is accepted");
    let quarantined: Vec<(String, String)> =
        sqlx::query_as("SELECT source_key, reason FROM switchyard.quarantine ORDER BY source_key")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    let keys: Vec<&str> = quarantined.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["2", "3", "5", "7"]);
    for (key, reason) in &quarantined[2..] {
        assert!(
            reason.contains("the database refused the mapping") && reason.contains("index row"),
            "{key}: {reason}"
        );
    }
    let xs: Vec<(i64, f64)> =
        sqlx::query_as("SELECT doc_id, x FROM public.nums WHERE doc_id >= 5 ORDER BY doc_id")
            .fetch_all(&pool)
            .await
            .expect("nums");
    assert_eq!(
        xs,
        vec![(6, 60.0)],
        "the good rows mapped, the refused ones not"
    );
    // Deleted or fixed, a refused document leaves the quarantine.
    sqlx::query("DELETE FROM public.docs WHERE id = 5")
        .execute(&pool)
        .await
        .expect("deleted");
    sqlx::query("UPDATE public.docs SET doc = '{\"x\": 70}' WHERE id = 7")
        .execute(&pool)
        .await
        .expect("fixed");
    let quarantined: Vec<String> =
        sqlx::query_scalar("SELECT source_key FROM switchyard.quarantine ORDER BY source_key")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    assert_eq!(quarantined, vec!["2", "3"]);
    zero_differences(&e).await;
}

// 11: the same document maps to the same values whatever the writing
// session's TimeZone and DateStyle; relative times are refused.
#[sqlx::test(migrations = "./migrations")]
async fn time_values_do_not_depend_on_the_writing_session(pool: PgPool) {
    docs_table(&pool, &[]).await;
    let recipe = docs_recipe(
        r#"
[[targets]]
table = "times"
source_key_column = "doc_id"
[[targets.columns]]
name = "at"
type = "timestamptz"
[[targets.columns]]
name = "day"
type = "date"
"#,
    );
    let e = engine(&pool, recipe);
    run_to(&e, Phase::DualWrite).await;
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::query("SET TimeZone = 'America/New_York'")
        .execute(&mut *conn)
        .await
        .expect("tz");
    sqlx::query("SET DateStyle = 'SQL, DMY'")
        .execute(&mut *conn)
        .await
        .expect("datestyle");
    sqlx::query(
        r#"INSERT INTO public.docs (id, doc) VALUES
           (1, '{"at": "2026-01-02 03:04:05", "day": "03/04/2026"}'),
           (2, '{"at": "now"}'), (3, '{"day": "today"}')"#,
    )
    .execute(&mut *conn)
    .await
    .expect("writes in another time zone");
    drop(conn);
    let (at, day): (String, String) = sqlx::query_as(
        "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), day::text FROM public.times WHERE doc_id = 1",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(at, "2026-01-02 03:04:05", "no zone means UTC");
    assert_eq!(day, "2026-03-04", "dates read month first (ISO, MDY)");
    let quarantined: Vec<String> =
        sqlx::query_scalar("SELECT source_key FROM switchyard.quarantine ORDER BY source_key")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    assert_eq!(quarantined, vec!["2", "3"]);
}

// 13: an index build that timed out is rebuilt, and phase 1 is only done
// with a valid index.
#[sqlx::test(migrations = "./migrations")]
async fn an_interrupted_concurrent_index_is_rebuilt_valid(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a"}))]).await;
    let recipe = docs_recipe(
        r#"
[[targets]]
table = "prefs"
source_key_column = "doc_id"
[[targets.columns]]
name = "theme"
type = "text"
[[targets.indexes]]
columns = ["theme"]
unique = true
"#,
    );
    // A transaction holding an old snapshot: CREATE INDEX CONCURRENTLY
    // waits for it and times out at least once, leaving an invalid index.
    let mut reader = pool.begin().await.expect("reader");
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *reader)
        .await
        .expect("isolation");
    sqlx::query("SELECT count(*) FROM public.docs")
        .execute(&mut *reader)
        .await
        .expect("snapshot");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        reader.rollback().await
    });
    let e = engine(&pool, recipe);
    run(&e, Phase::Expand).await;
    release.await.expect("join").expect("release");
    let valid: Option<bool> = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('public.prefs_theme_idx')",
    )
    .fetch_optional(&pool)
    .await
    .expect("index");
    assert_eq!(
        valid,
        Some(true),
        "phase 1 done means the unique index is there and valid"
    );
}

// 14: a recipe value holding the dollar-quote tag or a backslash-quote
// cannot break out, even with check_function_bodies and
// standard_conforming_strings off.
#[sqlx::test(migrations = "./migrations")]
async fn hostile_recipe_values_stay_values(pool: PgPool) {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .expect("db");
    for setting in [
        "check_function_bodies = off",
        "standard_conforming_strings = off",
    ] {
        sqlx::query(&format!("ALTER DATABASE \"{db}\" SET {setting}"))
            .execute(&pool)
            .await
            .expect("setting");
    }
    // New sessions pick the settings up.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("pool");
    let scs: String = sqlx::query_scalar("SHOW standard_conforming_strings")
        .fetch_one(&pool)
        .await
        .expect("show");
    assert_eq!(scs, "off");
    let evil_dollar = "x$sy$; DROP TABLE public.docs; --";
    let evil_backslash = "y\\'; DROP TABLE public.docs; --";
    docs_table(
        &pool,
        &[
            (1, json!({"theme": evil_dollar})),
            (2, json!({"theme": evil_backslash})),
            (3, json!({"theme": "plain"})),
        ],
    )
    .await;
    let recipe = docs_recipe(&format!(
        r#"
[[targets]]
table = "prefs"
source_key_column = "doc_id"
[[targets.columns]]
name = "theme"
type = "text"
allowed = [{}, {}]
"#,
        toml::Value::String(evil_dollar.into()),
        toml::Value::String(evil_backslash.into())
    ));
    let e = engine(&pool, recipe);
    run_to(&e, Phase::SwitchReads).await;
    let themes: Vec<String> = sqlx::query_scalar("SELECT theme FROM public.prefs ORDER BY doc_id")
        .fetch_all(&pool)
        .await
        .expect("docs still there, values intact");
    assert_eq!(
        themes,
        vec![evil_dollar.to_string(), evil_backslash.to_string()]
    );
    let quarantined: Vec<String> =
        sqlx::query_scalar("SELECT source_key FROM switchyard.quarantine")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    assert_eq!(quarantined, vec!["3"], "'plain' is not an allowed value");
}

// 15: a runner that lost its lock notices before its next write, and its
// transactions are refused once another runner took over.
#[sqlx::test(migrations = "./migrations")]
async fn a_runner_that_lost_its_lock_is_fenced(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    let recipe = demo_recipe();
    let first = RunnerLock::acquire(&pool, &recipe, &*crate::journal(&pool))
        .await
        .expect("first");
    first.check().await.expect("held");
    // The lock's session dies (a restart, idle_session_timeout, an admin).
    sqlx::query(
        // Only this test's database: pg_locks is cluster-wide, and other
        // tests' runners hold the same lock in theirs.
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('user-preferences')::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .execute(&pool)
    .await
    .expect("terminate");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(first.check().await, Err(EngineError::LockLost(_))));
    let second = RunnerLock::acquire(&pool, &recipe, &*crate::journal(&pool))
        .await
        .expect("second runner");
    let mut tx = pool.begin().await.expect("tx");
    let refused = first
        .fence()
        .assert(&mut tx)
        .await
        .expect_err("stale epoch");
    assert!(
        switchyard::engine::state::fenced(&refused).is_some(),
        "{refused}"
    );
    drop(tx);
    let mut tx = pool.begin().await.expect("tx");
    second.fence().assert(&mut tx).await.expect("current epoch");
    drop(tx);
    second.release().await;
}

// 16: the recipe is pinned at phase 1; a changed file is reported, not used.
#[sqlx::test(migrations = "./migrations")]
async fn later_phases_use_the_recipe_pinned_at_phase_1(pool: PgPool) {
    docs_table(&pool, &[(1, json!({}))]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run(&e, Phase::Expand).await;
    let edited = Recipe::parse(
        &docs_recipe(PREFS)
            .text
            .replace("default = \"en\"", "default = \"fr\""),
    )
    .expect("edited");
    let e2 = engine(&pool, edited);
    let status = e2.status().await.expect("status");
    assert!(status.recipe_changed);
    assert_eq!(status.pinned_recipe_hash, Some(docs_recipe(PREFS).hash()));
    run(&e2, Phase::Backfill).await;
    let language: String = sqlx::query_scalar("SELECT language FROM public.prefs WHERE doc_id = 1")
        .fetch_one(&pool)
        .await
        .expect("language");
    assert_eq!(
        language, "en",
        "the pinned recipe's default, not the edited file's"
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.events WHERE kind = 'recipe_changed'")
            .fetch_one(&pool)
            .await
            .expect("events");
    assert!(events >= 1);
}

// Review finding: a re-map used to delete and re-insert target rows, so an
// application UPDATE waiting on such a row updated nothing. Rows are now
// upserted in place: the waiting UPDATE lands, on both sides.
#[sqlx::test(migrations = "./migrations")]
async fn a_target_update_waiting_on_a_remap_is_not_lost(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a", "language": "de"}))]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;
    let mut doc_writer = pool.begin().await.expect("doc writer");
    sqlx::query("UPDATE public.docs SET doc = jsonb_set(doc, '{theme}', '\"b\"') WHERE id = 1")
        .execute(&mut *doc_writer)
        .await
        .expect("document write (re-maps key 1, locks its target row)");
    let target_pool = pool.clone();
    let target_writer = tokio::spawn(async move {
        sqlx::query("UPDATE public.prefs SET language = 'fr' WHERE doc_id = 1")
            .execute(&target_pool)
            .await
            .map(|r| r.rows_affected())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    doc_writer.commit().await.expect("commit");
    let updated = target_writer.await.expect("join").expect("target write");
    assert_eq!(updated, 1, "the waiting UPDATE found its row");
    let (theme, language): (String, String) =
        sqlx::query_as("SELECT theme, language FROM public.prefs WHERE doc_id = 1")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!((theme.as_str(), language.as_str()), ("b", "fr"));
    assert_eq!(doc(&pool, 1).await, json!({"theme": "b", "language": "fr"}));
    zero_differences(&e).await;
}

// Review finding: phase 1 used to adopt an existing table of the target's
// name (and rolling back phase 1 dropped it). The engine itself refuses.
#[sqlx::test(migrations = "./migrations")]
async fn phase_1_refuses_to_adopt_an_existing_table(pool: PgPool) {
    docs_table(&pool, &[(1, json!({}))]).await;
    sqlx::query("CREATE TABLE public.prefs (precious text)")
        .execute(&pool)
        .await
        .expect("someone's table");
    let e = engine(&pool, docs_recipe(PREFS));
    let err = e
        .apply(Phase::Expand, &accept_all())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    let still: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'prefs' AND column_name = 'precious')",
    )
    .fetch_one(&pool)
    .await
    .expect("check");
    assert!(still);
}

// 9: every transaction of phase 5 and of the rollbacks takes the locks of at
// most one of the application's tables, so a reader waits at most one
// lock_timeout (tested on the SQL as text).
#[sqlx::test(migrations = "./migrations")]
async fn contract_and_rollbacks_lock_one_table_per_transaction(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a"}))]).await;
    let recipe = docs_recipe(PREFS);
    let e = engine(&pool, recipe.clone());
    let tables: Vec<String> =
        std::iter::once(format!("{}.{}", recipe.source.schema, recipe.source.table))
            .chain(
                recipe
                    .targets
                    .iter()
                    .map(|t| format!("{}.{}", recipe.source.schema, t.table)),
            )
            .collect();
    let check = |what: &str, steps: Vec<switchyard::engine::Step>| {
        for step in steps {
            if step.mode() != switchyard::engine::StepMode::Transaction {
                continue;
            }
            let ddl: Vec<&str> = step
                .statements()
                .into_iter()
                .filter(|s| !s.starts_with("CREATE OR REPLACE FUNCTION"))
                .collect();
            let touched: Vec<&String> = tables
                .iter()
                .filter(|t| ddl.iter().any(|s| s.contains(t.as_str())))
                .collect();
            assert!(
                touched.len() <= 1,
                "{what}: step {:?} locks {touched:?}",
                step.label
            );
        }
    };
    check("phase 5", e.plan(Phase::Contract));
    run_to(&e, Phase::Contract).await;
    for phase in Phase::ALL[..5].iter().copied().rev() {
        check(
            &format!("rollback {phase}"),
            e.rollback_plan(phase).await.expect("rollback plan"),
        );
        e.rollback(phase).await.expect("rollback");
    }
}

// 17: the dry run is the run. An event trigger records the text of every
// DDL statement the server receives while phases 1-5 run and roll back;
// each must be, verbatim, a statement of the plan shown for that phase.
#[sqlx::test(migrations = "./migrations")]
async fn every_ddl_statement_run_is_one_the_dry_run_showed(pool: PgPool) {
    docs_table(
        &pool,
        &[(1, json!({"theme": "a", "notifications": {"email": {}}}))],
    )
    .await;
    for stmt in [
        "CREATE TABLE public.ddl_seen (id bigserial, q text)",
        "CREATE FUNCTION public.record_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.ddl_seen (q) VALUES (current_query()); END $$",
        "CREATE EVENT TRIGGER record_ddl ON ddl_command_end EXECUTE FUNCTION public.record_ddl()",
    ] {
        sqlx::query(stmt).execute(&pool).await.expect(stmt);
    }
    let e = engine(&pool, docs_recipe(PREFS));
    let mut shown = std::collections::HashSet::new();
    for phase in Phase::ALL[..5].iter().copied() {
        shown.extend(statements(&e.plan(phase)));
        run(&e, phase).await;
    }
    for phase in Phase::ALL[..5].iter().copied().rev() {
        shown.extend(
            e.rollback_plan(phase)
                .await
                .map(|steps| statements(&steps))
                .expect("rollback plan"),
        );
        e.rollback(phase).await.expect("rollback");
    }
    let seen: Vec<String> = sqlx::query_scalar("SELECT q FROM public.ddl_seen ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("recorded DDL");
    assert!(
        seen.len() > 20,
        "the recorder saw the engine's DDL: {}",
        seen.len()
    );
    for q in &seen {
        assert!(shown.contains(q), "ran but not shown in the dry run:\n{q}");
    }
}

// 6, the hand-off's edge: target writes queued because the document was
// locked (here by a lock_timeout; a deadlock queues the same way), for a
// row then deleted, reach the document even after its source key moves.
#[sqlx::test(migrations = "./migrations")]
async fn queued_target_writes_follow_a_key_update_after_their_row_is_gone(pool: PgPool) {
    docs_table(
        &pool,
        &[(
            1,
            json!({"theme": "a", "notifications": {"email": {"enabled": true}, "sms": {"enabled": false}}}),
        )],
    )
    .await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;
    // Someone holds the source row: the reverse sync cannot write the document.
    for write in [
        "UPDATE public.channels SET enabled = false WHERE doc_id = 1 AND channel = 'email'",
        "DELETE FROM public.channels WHERE doc_id = 1 AND channel = 'email'",
    ] {
        queued_target_write(&pool, 1, write).await;
    }
    assert!(
        queued(&pool).await > 0,
        "the target writes were handed off, not synced"
    );
    // The application moves the row to a new key before anything re-syncs it.
    sqlx::query("UPDATE public.docs SET id = 2 WHERE id = 1")
        .execute(&pool)
        .await
        .expect("key update");
    assert_eq!(
        doc(&pool, 2).await,
        json!({"theme": "a", "notifications": {"sms": {"enabled": false}}}),
        "the deleted entry stays deleted in the moved document"
    );
    let channels: Vec<(i64, String)> =
        sqlx::query_as("SELECT doc_id, channel FROM public.channels ORDER BY channel")
            .fetch_all(&pool)
            .await
            .expect("channels");
    assert_eq!(channels, vec![(2, "sms".to_string())]);
    assert_eq!(
        queued(&pool).await,
        0,
        "the key update's own re-map did the queued work"
    );
    zero_differences(&e).await;
}

/// Runs `write` on a target table while someone else holds source row
/// `id`: the reverse sync gives way (lock_timeout) and queues its work.
async fn queued_target_write(pool: &PgPool, id: i64, write: &str) {
    let mut holder = pool.begin().await.expect("holder");
    sqlx::query("SELECT 1 FROM public.docs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .execute(&mut *holder)
        .await
        .expect("lock the source row");
    let mut tx = pool.begin().await.expect("target writer");
    sqlx::query("SET LOCAL lock_timeout = '200ms'")
        .execute(&mut *tx)
        .await
        .expect("lock_timeout");
    sqlx::query(write)
        .execute(&mut *tx)
        .await
        .expect("the target write is accepted (its sync is queued)");
    tx.commit().await.expect("target writer commits");
    holder.rollback().await.expect("holder lets go");
}

async fn queued(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM switchyard.sync_queue")
        .fetch_one(pool)
        .await
        .expect("queue")
}

// 6, review: a queued target write is replayed by the next writer of its
// key. It used to write the whole target row back, so a document write made
// after it (which the targets did not hold yet) was undone.
#[sqlx::test(migrations = "./migrations")]
async fn a_queued_target_write_never_undoes_a_later_document_write(pool: PgPool) {
    docs_table(
        &pool,
        &[(
            1,
            json!({"theme": "a", "language": "de", "notifications": {"email": {"enabled": true}, "sms": {"enabled": true}}}),
        )],
    )
    .await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;

    // Writes on both sides that touch different fields: both are kept.
    queued_target_write(
        &pool,
        1,
        "UPDATE public.prefs SET theme = 'dark' WHERE doc_id = 1",
    )
    .await;
    queued_target_write(
        &pool,
        1,
        "DELETE FROM public.channels WHERE doc_id = 1 AND channel = 'sms'",
    )
    .await;
    assert!(queued(&pool).await > 0, "the target writes were queued");
    sqlx::query("UPDATE public.docs SET doc = doc || '{\"language\": \"fr\"}' WHERE id = 1")
        .execute(&pool)
        .await
        .expect("document write");
    assert_eq!(
        doc(&pool, 1).await,
        json!({"theme": "dark", "language": "fr", "notifications": {"email": {"enabled": true}}})
    );
    assert_eq!(
        queued(&pool).await,
        0,
        "the document writer replayed the queue"
    );
    zero_differences(&e).await;

    // The same field written on both sides, the document last: it wins.
    queued_target_write(
        &pool,
        1,
        "UPDATE public.prefs SET theme = 'light' WHERE doc_id = 1",
    )
    .await;
    queued_target_write(
        &pool,
        1,
        "DELETE FROM public.channels WHERE doc_id = 1 AND channel = 'email'",
    )
    .await;
    sqlx::query(
        "UPDATE public.docs SET doc = jsonb_set(jsonb_set(doc, '{theme}', '\"from-doc\"'), '{notifications,email,enabled}', 'false') WHERE id = 1",
    )
    .execute(&pool)
    .await
    .expect("document write");
    assert_eq!(
        doc(&pool, 1).await,
        json!({"theme": "from-doc", "language": "fr", "notifications": {"email": {"enabled": false}}})
    );
    let theme: String = sqlx::query_scalar("SELECT theme FROM public.prefs WHERE doc_id = 1")
        .fetch_one(&pool)
        .await
        .expect("theme");
    assert_eq!(theme, "from-doc");
    let email: bool = sqlx::query_scalar(
        "SELECT enabled FROM public.channels WHERE doc_id = 1 AND channel = 'email'",
    )
    .fetch_one(&pool)
    .await
    .expect("the entry the document kept writing has its row back");
    assert!(!email);
    zero_differences(&e).await;
}

// 3, review: the runner dies after phase 5's drop committed but before the
// phase was recorded as done. Running phase 5 again used to be refused as
// "a rollback has not finished"; it must just record what happened.
#[sqlx::test(migrations = "./migrations")]
async fn phase_5_resumes_after_a_crash_right_after_the_drop(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a"}))]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Contract).await;
    // What a crash between the drop's commit and the state write leaves.
    sqlx::query("UPDATE switchyard.phase_states SET state = 'running', finished_at = NULL WHERE position = 5")
        .execute(&pool)
        .await
        .expect("crashed state");
    run(&e, Phase::Contract).await;
    let phases = e.phase_records().await.expect("phases");
    assert_eq!(phases[4].state, switchyard::model::PhaseState::Done);
    // A rollback of phase 5 that stopped half way still blocks phase 5.
    sqlx::query("UPDATE switchyard.contract_columns SET rolling_back = true")
        .execute(&pool)
        .await
        .expect("rollback under way");
    sqlx::query("UPDATE switchyard.phase_states SET state = 'failed' WHERE position = 5")
        .execute(&pool)
        .await
        .expect("failed rollback");
    let refused = e.apply(Phase::Contract, &RunControl::default()).await;
    assert!(
        matches!(refused, Err(EngineError::Refused(_))),
        "{refused:?}"
    );
    e.rollback(Phase::Contract)
        .await
        .expect("the rollback finishes");
    assert_eq!(doc(&pool, 1).await, json!({"theme": "a"}));
}

// 11, review: a time or date DEFAULT in the new tables means what the
// mapping means by it, whatever the runner's session TimeZone and DateStyle.
#[sqlx::test(migrations = "./migrations")]
async fn target_defaults_do_not_depend_on_the_runners_session(pool: PgPool) {
    docs_table(&pool, &[(1, json!({})), (2, json!({}))]).await;
    let recipe = docs_recipe(
        r#"
[[targets]]
table = "times"
source_key_column = "doc_id"
[[targets.columns]]
name = "at"
type = "timestamptz"
default = "2024-01-01 10:00"
[[targets.columns]]
name = "day"
type = "date"
default = "01/02/2024"
"#,
    );
    // (Startup parameters would not do: sqlx sets its own DateStyle.)
    let runner_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(
                    conn,
                    "SET TimeZone = 'America/New_York'; SET DateStyle = 'ISO, DMY'",
                )
                .await
                .map(|_| ())
            })
        })
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .expect("a runner in another time zone");
    let e = engine(&runner_pool, recipe);
    run_to(&e, Phase::DualWrite).await;
    // Row 1 has the mapping's defaults; row 2 takes the table's DEFAULTs.
    sqlx::query("UPDATE public.times SET at = DEFAULT, day = DEFAULT WHERE doc_id = 2")
        .execute(&pool)
        .await
        .expect("defaults");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), day::text FROM public.times ORDER BY doc_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    let expected = ("2024-01-01 10:00".to_string(), "2024-01-02".to_string());
    assert_eq!(rows, vec![expected.clone(), expected]);
}

// 8, review: a target with a unique index. One statement moves a value along
// a chain (1 takes 2's value, 2 takes a new one): key 1 is refused until
// key 2 is written. It used to be quarantined (its row deleted) although
// every document is valid.
#[sqlx::test(migrations = "./migrations")]
async fn a_unique_value_moved_along_a_chain_is_not_quarantined(pool: PgPool) {
    docs_table(
        &pool,
        &[(1, json!({"handle": "a"})), (2, json!({"handle": "b"}))],
    )
    .await;
    let e = engine(
        &pool,
        docs_recipe(
            r#"
[[targets]]
table = "handles"
source_key_column = "doc_id"
[[targets.columns]]
name = "handle"
type = "text"
required = true
[[targets.indexes]]
name = "handles_handle"
columns = ["handle"]
unique = true
"#,
        ),
    );
    run_to(&e, Phase::DualWrite).await;
    sqlx::query(
        "UPDATE public.docs SET doc = CASE id WHEN 1 THEN '{\"handle\": \"b\"}'::jsonb ELSE '{\"handle\": \"c\"}'::jsonb END",
    )
    .execute(&pool)
    .await
    .expect("the application's write");
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.quarantine")
        .fetch_one(&pool)
        .await
        .expect("quarantine");
    assert_eq!(quarantined, 0);
    let handles: Vec<(i64, String)> =
        sqlx::query_as("SELECT doc_id, handle FROM public.handles ORDER BY doc_id")
            .fetch_all(&pool)
            .await
            .expect("handles");
    assert_eq!(handles, vec![(1, "b".to_string()), (2, "c".to_string())]);
    zero_differences(&e).await;
}

// 3, second review: in phase 5 and its rollback, a target write is either
// synced into its document or remembered for the rollback, never both (a
// replay of a write already synced could undo a later document write).
// Walks every step's SQL, tracking which triggers each target has.
#[sqlx::test(migrations = "./migrations")]
async fn target_writes_are_synced_or_remembered_never_both(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a"}))]).await;
    let recipe = docs_recipe(PREFS);
    let e = engine(&pool, recipe.clone());
    run_to(&e, Phase::SwitchReads).await;
    let tables: Vec<String> = recipe
        .targets
        .iter()
        .map(|t| format!("{}.{}", recipe.source.schema, t.table))
        .collect();
    // (reverse sync on, remembered) per target, as phase 4 leaves them.
    let mut state: Vec<(bool, bool)> = vec![(true, false); tables.len()];
    let mut seen = 0;
    let mut walk = |what: &str, steps: Vec<switchyard::engine::Step>| {
        for step in steps {
            for sql in step.statements() {
                for (i, table) in tables.iter().enumerate() {
                    if !sql.ends_with(&format!("ON {table}"))
                        && !sql.contains(&format!("ON {table} "))
                    {
                        continue;
                    }
                    let create = sql.starts_with("CREATE OR REPLACE TRIGGER");
                    let drop = sql.starts_with("DROP TRIGGER");
                    if sql.contains("_rev\"") && (create || drop) {
                        state[i].0 = create;
                        seen += 1;
                    }
                    if sql.contains("_ctr\"") && (create || drop) {
                        state[i].1 = create;
                        seen += 1;
                    }
                }
            }
            for (i, (synced, remembered)) in state.iter().enumerate() {
                assert!(
                    !(*synced && *remembered),
                    "{what}: after step {:?}, writes to {} are both synced and remembered",
                    step.label,
                    tables[i]
                );
            }
        }
    };
    walk("phase 5", e.plan(Phase::Contract));
    run(&e, Phase::Contract).await;
    walk(
        "rollback 5",
        e.rollback_plan(Phase::Contract)
            .await
            .expect("rollback plan 5"),
    );
    e.rollback(Phase::Contract).await.expect("rollback 5");
    assert_eq!(doc(&pool, 1).await, json!({"theme": "a"}));
    // Every target's triggers were seen going off and on again.
    assert_eq!(seen, 4 * tables.len());
}

// 8 and 6, second review: a key whose document the database refused (its
// target rows dropped) still has a queued target write; once the document
// is fixed, that write must not remove fields nobody deleted.
#[sqlx::test(migrations = "./migrations")]
async fn a_refused_document_keeps_fields_a_queued_write_did_not_delete(pool: PgPool) {
    docs_table(
        &pool,
        &[
            (1, json!({"theme": "a", "language": "de"})),
            (2, json!({"theme": "b", "language": "fr"})),
        ],
    )
    .await;
    let e = engine(
        &pool,
        docs_recipe(
            r#"
[[targets]]
table = "prefs"
source_key_column = "doc_id"
[[targets.columns]]
name = "theme"
type = "text"
[[targets.columns]]
name = "language"
type = "text"
[[targets.indexes]]
name = "prefs_language"
columns = ["language"]
unique = true
"#,
        ),
    );
    run_to(&e, Phase::SwitchReads).await;
    queued_target_write(
        &pool,
        1,
        "UPDATE public.prefs SET theme = 'dark' WHERE doc_id = 1",
    )
    .await;
    // The document now collides with document 2: quarantined, rows dropped.
    sqlx::query("UPDATE public.docs SET doc = doc || '{\"language\": \"fr\"}' WHERE id = 1")
        .execute(&pool)
        .await
        .expect("the write is accepted");
    // Fixed again, without touching the theme.
    sqlx::query("UPDATE public.docs SET doc = doc || '{\"language\": \"it\"}' WHERE id = 1")
        .execute(&pool)
        .await
        .expect("the fix is accepted");
    let d = doc(&pool, 1).await;
    assert_eq!(d["language"], json!("it"));
    assert!(d.get("theme").is_some(), "the theme is still there: {d}");
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.quarantine")
        .fetch_one(&pool)
        .await
        .expect("quarantine");
    assert_eq!(quarantined, 0);
    zero_differences(&e).await;
}

// 2, second review: an entry inserted while its document was locked (the
// insert queued), then updated directly on another column, keeps every
// value the insert wrote.
#[sqlx::test(migrations = "./migrations")]
async fn a_queued_entry_insert_survives_a_later_direct_update(pool: PgPool) {
    docs_table(
        &pool,
        &[(
            1,
            json!({"notifications": {"email": {"enabled": true, "since": 1}}}),
        )],
    )
    .await;
    let e = engine(
        &pool,
        docs_recipe(
            r#"
[[targets]]
table = "channels"
kind = "per_entry"
entries = "notifications"
source_key_column = "doc_id"
entry_key_column = "channel"
[[targets.columns]]
name = "enabled"
type = "boolean"
default = true
[[targets.columns]]
name = "since"
type = "integer"
"#,
        ),
    );
    run_to(&e, Phase::SwitchReads).await;
    queued_target_write(
        &pool,
        1,
        "INSERT INTO public.channels (doc_id, channel, enabled, since) VALUES (1, 'push', false, 5)",
    )
    .await;
    sqlx::query("UPDATE public.channels SET since = 6 WHERE doc_id = 1 AND channel = 'push'")
        .execute(&pool)
        .await
        .expect("a direct update");
    assert_eq!(
        doc(&pool, 1).await["notifications"]["push"],
        json!({"enabled": false, "since": 6})
    );
    zero_differences(&e).await;
}

// 5, second review: updating a source key and its document in one statement.
// The cascaded target rows' sync used to write their older image over the
// document's new value.
#[sqlx::test(migrations = "./migrations")]
async fn a_key_and_document_changed_together_keep_the_document(pool: PgPool) {
    docs_table(
        &pool,
        &[(
            1,
            json!({"theme": "a", "notifications": {"email": {"enabled": true}}}),
        )],
    )
    .await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;
    sqlx::query(
        "UPDATE public.docs SET id = 10, doc = jsonb_set(jsonb_set(doc, '{theme}', '\"z\"'), '{notifications,email,enabled}', 'false') WHERE id = 1",
    )
    .execute(&pool)
    .await
    .expect("key and document");
    assert_eq!(
        doc(&pool, 10).await,
        json!({"theme": "z", "notifications": {"email": {"enabled": false}}})
    );
    zero_differences(&e).await;
}

// 5, second review: during the contract, a source row deleted and inserted
// again with the same key starts afresh: nothing remembered for the old row
// reaches the new one when phase 5 is rolled back.
#[sqlx::test(migrations = "./migrations")]
async fn a_row_deleted_and_reinserted_during_the_contract_starts_afresh(pool: PgPool) {
    docs_table(&pool, &[(1, json!({"theme": "a"}))]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Contract).await;
    for write in [
        "UPDATE public.prefs SET theme = 'b' WHERE doc_id = 1",
        "DELETE FROM public.docs WHERE id = 1",
        "INSERT INTO public.docs (id) VALUES (1)",
        "INSERT INTO public.prefs (doc_id, theme) VALUES (1, 'new')",
        "INSERT INTO public.channels (doc_id, channel, enabled) VALUES (1, 'sms', false)",
    ] {
        sqlx::query(write).execute(&pool).await.expect(write);
    }
    e.rollback(Phase::Contract).await.expect("rollback 5");
    assert_eq!(
        doc(&pool, 1).await,
        json!({"theme": "new", "notifications": {"sms": {"enabled": false}}})
    );
}

// Found by the workload proof: a source key updated after the contract
// cascades to the target rows, whose remembering trigger fires only after
// the source's own triggers have moved the key's remembered writes. It used
// to remember the cascade as "delete at the old key, insert at the new":
// a later delete (or update) of the moved row was then replayed as if the
// document had never had it, and the deleted entry came back.
#[sqlx::test(migrations = "./migrations")]
async fn a_row_moved_by_a_key_update_after_the_contract_keeps_later_writes(pool: PgPool) {
    let both = json!({"theme": "a", "notifications": {"email": {"enabled": true}, "push": {"enabled": true}}});
    docs_table(&pool, &[(1, both.clone()), (3, both)]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::Contract).await;
    for write in [
        "UPDATE public.docs SET id = 2 WHERE id = 1",
        "DELETE FROM public.channels WHERE doc_id = 2 AND channel = 'push'",
        "UPDATE public.docs SET id = 4 WHERE id = 3",
        "UPDATE public.channels SET enabled = false WHERE doc_id = 4 AND channel = 'push'",
        "UPDATE public.prefs SET theme = 'b' WHERE doc_id = 4",
    ] {
        sqlx::query(write).execute(&pool).await.expect(write);
    }
    e.rollback(Phase::Contract).await.expect("rollback 5");
    assert_eq!(
        doc(&pool, 2).await,
        json!({"theme": "a", "notifications": {"email": {"enabled": true}}})
    );
    assert_eq!(
        doc(&pool, 4).await,
        json!({"theme": "b", "notifications": {"email": {"enabled": true}, "push": {"enabled": false}}})
    );
    zero_differences(&e).await;
}

// Found by review: one statement that shifts keys onto keys it frees
// (2 to 3, then 1 to 2) cascades a target row into a place whose old
// source key exists again. It is still a cascade: the documents moved with
// their rows. It used to be written back (phase 4: the entry removed from
// the document now at 2) or remembered as a move (after the contract: a
// later delete at 3 came back on rollback).
#[sqlx::test(migrations = "./migrations")]
async fn keys_shifted_in_one_statement_move_their_documents_intact(pool: PgPool) {
    let doc_of = |n: i64| json!({"theme": format!("t{n}"), "notifications": {"email": {"enabled": true}, "push": {"enabled": n == 1}}});
    // Physical order 2 then 1, so the shift below never meets its own key.
    docs_table(&pool, &[(2, doc_of(2)), (1, doc_of(1))]).await;
    let e = engine(&pool, docs_recipe(PREFS));
    run_to(&e, Phase::SwitchReads).await;
    let shift = "UPDATE public.docs SET id = id + 1";
    sqlx::query(shift).execute(&pool).await.expect(shift);
    assert_eq!(
        doc(&pool, 2).await,
        doc_of(1),
        "phase 4: the document now at 2"
    );
    assert_eq!(
        doc(&pool, 3).await,
        doc_of(2),
        "phase 4: the document now at 3"
    );
    zero_differences(&e).await;

    run(&e, Phase::Contract).await;
    sqlx::query(shift).execute(&pool).await.expect(shift);
    let delete = "DELETE FROM public.channels WHERE doc_id = 4 AND channel = 'push'";
    sqlx::query(delete).execute(&pool).await.expect(delete);
    e.rollback(Phase::Contract).await.expect("rollback 5");
    assert_eq!(doc(&pool, 3).await, doc_of(1));
    assert_eq!(
        doc(&pool, 4).await,
        json!({"theme": "t2", "notifications": {"email": {"enabled": true}}}),
        "the delete after the contract is kept"
    );
    zero_differences(&e).await;
}

/// Every statement of `steps`, owned.
fn statements(steps: &[switchyard::engine::Step]) -> Vec<String> {
    steps
        .iter()
        .flat_map(|s| s.statements())
        .map(str::to_string)
        .collect()
}

// Issue 10: the dual-write compares documents by jsonb equality alone where
// no column reads a number, and exactly (as text) where one does: a number
// whose digits change for the same value (1.5 to 1.50) must still reach a
// numeric column, whether written while captured (phase 2) or during the
// dual-write, and in one statement with other documents whose numbers did
// not change.
#[sqlx::test(migrations = "./migrations")]
async fn a_number_respelled_for_the_same_value_reaches_its_column(pool: PgPool) {
    docs_table(
        &pool,
        &[
            (1, json!({"theme": "a", "amount": 1.5})),
            (2, json!({"theme": "b", "amount": 2})),
            (3, json!({"theme": "c", "amount": 7.25})),
        ],
    )
    .await;
    let e = engine(
        &pool,
        docs_recipe(
            r#"
[[targets]]
table = "prefs"
source_key_column = "doc_id"
[[targets.columns]]
name = "theme"
type = "text"
[[targets]]
table = "amounts"
source_key_column = "doc_id"
[[targets.columns]]
name = "amount"
type = "numeric"
"#,
        ),
    );
    let amounts = || async {
        sqlx::query_as::<_, (i64, String)>(
            "SELECT doc_id, amount::text FROM public.amounts ORDER BY doc_id",
        )
        .fetch_all(&pool)
        .await
        .expect("amounts")
    };
    run_to(&e, Phase::Backfill).await;
    sqlx::query("UPDATE public.docs SET doc = jsonb_set(doc, '{amount}', '2.0') WHERE id = 2")
        .execute(&pool)
        .await
        .expect("respell during phase 2");
    run(&e, Phase::DualWrite).await;
    assert_eq!(
        amounts().await,
        vec![(1, "1.5".into()), (2, "2.0".into()), (3, "7.25".into())]
    );
    // One statement: 1 respelled, 3 rewritten with the same spelling.
    sqlx::query(
        "UPDATE public.docs SET doc = jsonb_set(doc, '{amount}', CASE id WHEN 1 THEN '1.50'::jsonb ELSE doc -> 'amount' END)
         WHERE id IN (1, 3)",
    )
    .execute(&pool)
    .await
    .expect("respell during dual-write");
    assert_eq!(
        amounts().await,
        vec![(1, "1.50".into()), (2, "2.0".into()), (3, "7.25".into())]
    );
    zero_differences(&e).await;
}

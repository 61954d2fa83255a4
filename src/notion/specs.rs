//! Specs from Notion: fetch a page with all its nested blocks, make it a
//! new migration, and refresh it later (what changed is shown before it is
//! replaced; the previous version stays in the history).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{NotionClient, NotionError};
use crate::domain::notion_id::NotionId;
use crate::domain::spec::{diff_blocks, SpecDiff};
use crate::model::notion::Block;
use crate::store::specs::{self as stored, ImportedSpec, Refresh};

/// A spec operation's failure (Notion's or the store's).
pub use super::error::MirrorError as SpecError;

/// A page as fetched: its title and every block, nested children inline.
#[derive(Debug, Clone)]
pub struct FetchedSpec {
    pub page_id: NotionId,
    pub title: String,
    pub url: String,
    pub blocks: Vec<Block>,
}

pub async fn fetch(client: &NotionClient, page: &NotionId) -> Result<FetchedSpec, NotionError> {
    let meta = client.retrieve_page(page).await?;
    let blocks = client.block_tree(page).await?;
    Ok(FetchedSpec {
        page_id: meta.id.clone(),
        title: meta.title(),
        url: meta.url,
        blocks,
    })
}

/// A new migration from the Notion page `page`; returns its name.
pub async fn import(
    pool: &PgPool,
    client: &NotionClient,
    page: &NotionId,
    actor: &str,
) -> Result<String, SpecError> {
    let spec = fetch(client, page).await?;
    let name = stored::create_from_notion(
        pool,
        ImportedSpec {
            page_id: spec.page_id.as_str(),
            title: &spec.title,
            blocks: &spec.blocks,
        },
        actor,
    )
    .await?;
    Ok(name)
}

/// What a refresh would change.
#[derive(Debug, Clone)]
pub struct Preview {
    pub diff: SpecDiff,
    pub title: String,
    pub base: DateTime<Utc>,
    /// The fetched page's `fingerprint`: applying is refused if Notion's
    /// page is no longer what was shown.
    pub fingerprint: String,
}

/// SHA-256 (hex) of a fetched page's title and blocks: two fetches of an
/// unchanged page agree, any edit of its text or structure changes it.
pub fn fingerprint(spec: &FetchedSpec) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(spec.title.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(&spec.blocks).unwrap_or_default());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn linked_page(pool: &PgPool, name: &str) -> Result<(NotionId, DateTime<Utc>), SpecError> {
    let source = stored::source(pool, name).await?;
    let page = source
        .notion_page_id
        .as_deref()
        .and_then(|p| NotionId::parse(p).ok())
        .ok_or_else(|| crate::store::StoreError::Invalid {
            field: "spec".into(),
            message:
                "this spec is local (not linked to a Notion page); there is nothing to refresh"
                    .into(),
        })?;
    Ok((page, source.fetched_at))
}

/// Fetches the spec's page again and compares it with the stored spec.
pub async fn preview_refresh(
    pool: &PgPool,
    client: &NotionClient,
    name: &str,
) -> Result<Preview, SpecError> {
    let (page, base) = linked_page(pool, name).await?;
    let fresh = fetch(client, &page).await?;
    let stored_spec = crate::store::migrations::spec(pool, name).await?;
    Ok(Preview {
        diff: diff_blocks(&stored_spec.blocks, &fresh.blocks),
        fingerprint: fingerprint(&fresh),
        title: fresh.title,
        base,
    })
}

/// Fetches the page again and replaces the stored spec with it, if the
/// stored spec is still the fetch `base` the person looked at and Notion's
/// page is still what the preview showed (`previewed`, its fingerprint):
/// what is stored is exactly what was reviewed. Returns what changed.
pub async fn apply_refresh(
    pool: &PgPool,
    client: &NotionClient,
    name: &str,
    base: DateTime<Utc>,
    previewed: &str,
    actor: &str,
) -> Result<SpecDiff, SpecError> {
    let (page, _) = linked_page(pool, name).await?;
    let fresh = fetch(client, &page).await?;
    if fingerprint(&fresh) != previewed {
        return Err(SpecError::Store(crate::store::StoreError::Conflict(
            "the page changed in Notion after the preview: preview again to see every change \
             before replacing the spec"
                .into(),
        )));
    }
    let stored_spec = crate::store::migrations::spec(pool, name).await?;
    let diff = diff_blocks(&stored_spec.blocks, &fresh.blocks);
    stored::replace(
        pool,
        name,
        Refresh {
            title: &fresh.title,
            blocks: &fresh.blocks,
            base_fetched_at: base,
            added: diff.added.len() as i64,
            removed: diff.removed.len() as i64,
            changed: diff.changed.len() as i64,
        },
        actor,
    )
    .await?;
    Ok(diff)
}

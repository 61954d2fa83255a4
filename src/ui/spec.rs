//! The Spec section: Notion blocks rendered to HTML, plus the requirements
//! extracted from them. The renderer is the one the Notion mirror uses.

use leptos::prelude::*;

use super::common::{use_migration_name, ErrorNote, Loading};
use crate::api::migrations::get_spec;
use crate::domain::spec::{extract_requirements, Requirements};
use crate::model::notion::{Block, BlockKind, RichText};

/// The Notion page the spec being rendered comes from (for links to blocks
/// shown as placeholders).
#[derive(Clone, Debug)]
pub struct SpecPage(pub Option<String>);

#[component]
pub fn SpecSection() -> impl IntoView {
    let name = use_migration_name();
    let spec = Resource::new(move || name.get(), get_spec);
    view! {
        <Suspense fallback=|| view! { <Loading what="spec"/> }>
            {move || Suspend::new(async move {
                match spec.await {
                    Ok(spec) => {
                        let requirements = extract_requirements(&spec.blocks);
                        provide_context(SpecPage(spec.notion_page_id.clone()));
                        let source = match &spec.notion_page_id {
                            Some(id) => format!("Mirrored from Notion page {id}"),
                            None => "Local spec (not linked to Notion)".to_string(),
                        };
                        view! {
                            <section class="spec" aria-label="Spec">
                                <p class="source">
                                    {source} ", fetched "
                                    {spec.fetched_at.format("%Y-%m-%d %H:%M UTC").to_string()}
                                </p>
                                <RequirementsCard requirements/>
                                <div class="notion-doc">{render_blocks(&spec.blocks)}</div>
                            </section>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RequirementsCard(requirements: Requirements) -> impl IntoView {
    if requirements.is_empty() {
        return ().into_any();
    }
    let row = |label: &'static str, items: Vec<String>| {
        (!items.is_empty()).then(|| {
            view! {
                <dt>{label}</dt>
                {items.into_iter().map(|i| view! { <dd>{i}</dd> }).collect_view()}
            }
        })
    };
    view! {
        <aside class="requirements" aria-label="Requirements">
            <h2>"Requirements"</h2>
            <dl>
                {row("Current", requirements.current)}
                {row("Target", requirements.target)}
                {row("Must maintain", requirements.must_maintain)}
                {row("Performance", requirements.performance)}
            </dl>
        </aside>
    }
    .into_any()
}

/// Renders a block list; consecutive list items are grouped into one list.
pub fn render_blocks(blocks: &[Block]) -> Vec<AnyView> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        match &blocks[i].kind {
            BlockKind::BulletedListItem { .. } | BlockKind::NumberedListItem { .. } => {
                let numbered = matches!(blocks[i].kind, BlockKind::NumberedListItem { .. });
                let start = i;
                while i < blocks.len()
                    && std::mem::discriminant(&blocks[i].kind)
                        == std::mem::discriminant(&blocks[start].kind)
                {
                    i += 1;
                }
                let items = blocks[start..i]
                    .iter()
                    .map(|b| {
                        view! {
                            <li>
                                {rich_text(b.rich_text().unwrap_or_default())}
                                {children(b)}
                            </li>
                        }
                    })
                    .collect_view();
                out.push(if numbered {
                    view! { <ol>{items}</ol> }.into_any()
                } else {
                    view! { <ul>{items}</ul> }.into_any()
                });
            }
            _ => {
                out.push(render_block(&blocks[i]));
                i += 1;
            }
        }
    }
    out
}

fn children(block: &Block) -> Option<AnyView> {
    (!block.children.is_empty())
        .then(|| view! { <div class="children">{render_blocks(&block.children)}</div> }.into_any())
}

fn color_class(base: &str, color: &str) -> String {
    if color == "default" || color.is_empty() {
        base.to_string()
    } else {
        format!("{base} color-{}", sanitize_class(color))
    }
}

/// Notion colours are a fixed set of words; anything else is dropped rather
/// than pasted into a class attribute.
fn sanitize_class(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn render_block(block: &Block) -> AnyView {
    match &block.kind {
        BlockKind::Paragraph { paragraph: t } => view! {
            <p class=color_class("n-p", &t.color)>{rich_text(&t.rich_text)}</p>
            {children(block)}
        }
        .into_any(),
        BlockKind::Heading1 { heading_1: t } => {
            view! { <h2 class="n-h1">{rich_text(&t.rich_text)}</h2> }.into_any()
        }
        BlockKind::Heading2 { heading_2: t } => {
            view! { <h3 class="n-h2">{rich_text(&t.rich_text)}</h3> }.into_any()
        }
        BlockKind::Heading3 { heading_3: t } => {
            view! { <h4 class="n-h3">{rich_text(&t.rich_text)}</h4> }.into_any()
        }
        BlockKind::ToDo { to_do } => {
            let checked = to_do.checked;
            view! {
                <div class="n-todo" data-checked=checked.to_string()>
                    <label>
                        <input type="checkbox" checked=checked disabled=true/>
                        <span class:done=checked>{rich_text(&to_do.rich_text)}</span>
                    </label>
                    {children(block)}
                </div>
            }
            .into_any()
        }
        BlockKind::Toggle { toggle } => view! {
            <details class="n-toggle">
                <summary>{rich_text(&toggle.rich_text)}</summary>
                {children(block)}
            </details>
        }
        .into_any(),
        BlockKind::Quote { quote } => view! {
            <blockquote class="n-quote">{rich_text(&quote.rich_text)} {children(block)}</blockquote>
        }
        .into_any(),
        BlockKind::Callout { callout } => {
            let icon = match &callout.icon {
                Some(crate::model::notion::Icon::Emoji { emoji }) => emoji.clone(),
                _ => String::new(),
            };
            view! {
                <div class=color_class("n-callout", &callout.color) role="note">
                    <span class="icon" aria-hidden="true">{icon}</span>
                    <div>{rich_text(&callout.rich_text)} {children(block)}</div>
                </div>
            }
            .into_any()
        }
        BlockKind::Code { code } => {
            let source = crate::model::notion::plain_text(&code.rich_text);
            let language = code.language.clone();
            view! {
                <figure class="n-code">
                    <figcaption class="language">{language.clone()}</figcaption>
                    <pre><code data-language=language>{source}</code></pre>
                    {(!code.caption.is_empty())
                        .then(|| view! { <figcaption>{rich_text(&code.caption)}</figcaption> })}
                </figure>
            }
            .into_any()
        }
        BlockKind::Divider { .. } => view! { <hr class="n-divider"/> }.into_any(),
        BlockKind::Table { table } => {
            render_table(block, table.has_column_header, table.has_row_header)
        }
        BlockKind::TableRow { table_row } => {
            // A row outside a table: render its cells as a line.
            view! {
                <p>
                    {table_row.cells.iter().map(|c| view! { <span class="cell">{rich_text(c)}</span> }).collect_view()}
                </p>
            }
            .into_any()
        }
        BlockKind::BulletedListItem { .. } | BlockKind::NumberedListItem { .. } => {
            render_blocks(std::slice::from_ref(block))
                .into_iter()
                .collect_view()
                .into_any()
        }
        BlockKind::Unsupported => {
            let kind = block
                .unsupported_type
                .clone()
                .unwrap_or_else(|| "unknown".into());
            let link = use_context::<SpecPage>().and_then(|p| p.0).map(|page| {
                let anchor = block.id.replace('-', "");
                let href = format!("https://www.notion.so/{}#{anchor}", page.replace('-', ""));
                view! { " " <a href=href>"Open it in Notion"</a> }
            });
            view! {
                <div class="n-unsupported" data-type=kind.clone()>
                    {format!("A Notion block Switchyard does not show here ({kind}).")}
                    {link}
                </div>
            }
            .into_any()
        }
    }
}

fn render_table(block: &Block, column_header: bool, row_header: bool) -> AnyView {
    let rows: Vec<&Vec<Vec<RichText>>> = block
        .children
        .iter()
        .filter_map(|b| match &b.kind {
            BlockKind::TableRow { table_row } => Some(&table_row.cells),
            _ => None,
        })
        .collect();
    let (head, body) = match rows.split_first() {
        Some((first, rest)) if column_header => (Some(*first), rest.to_vec()),
        _ => (None, rows),
    };
    view! {
        <div class="n-table-wrap">
            <table class="n-table">
                {head.map(|cells| view! {
                    <thead><tr>
                        {cells.iter().map(|c| view! { <th scope="col">{rich_text(c)}</th> }).collect_view()}
                    </tr></thead>
                })}
                <tbody>
                    {body.into_iter().map(|cells| view! {
                        <tr>
                            {cells.iter().enumerate().map(|(i, c)| {
                                if row_header && i == 0 {
                                    view! { <th scope="row">{rich_text(c)}</th> }.into_any()
                                } else {
                                    view! { <td>{rich_text(c)}</td> }.into_any()
                                }
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Rich text with its annotations as semantic elements and safe links only.
pub fn rich_text(items: &[RichText]) -> Vec<AnyView> {
    items.iter().map(rich_item).collect()
}

fn rich_item(item: &RichText) -> AnyView {
    let a = &item.annotations;
    let mut v: AnyView = item.plain_text.clone().into_any();
    if a.code {
        v = view! { <code class="n-inline-code">{v}</code> }.into_any();
    }
    if a.bold {
        v = view! { <strong>{v}</strong> }.into_any();
    }
    if a.italic {
        v = view! { <em>{v}</em> }.into_any();
    }
    if a.strikethrough {
        v = view! { <s>{v}</s> }.into_any();
    }
    if a.underline {
        v = view! { <u>{v}</u> }.into_any();
    }
    if a.color != "default" {
        v = view! { <span class=color_class("", &a.color)>{v}</span> }.into_any();
    }
    match item.href.as_deref().filter(|h| is_safe_href(h)) {
        Some(href) => view! {
            <a href=href.to_string() rel="noopener noreferrer nofollow" target="_blank">{v}</a>
        }
        .into_any(),
        None => v,
    }
}

/// Only web, mail and same-site links; never `javascript:` and friends.
pub fn is_safe_href(href: &str) -> bool {
    let lower = href.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//"))
}

#[cfg(test)]
mod tests {
    use super::is_safe_href;

    #[test]
    fn only_safe_links_are_rendered() {
        assert!(is_safe_href("https://www.notion.so/page"));
        assert!(is_safe_href("/m/user-preferences"));
        assert!(!is_safe_href("javascript:alert(1)"));
        assert!(!is_safe_href(" JavaScript:alert(1)"));
        assert!(!is_safe_href("//evil.example.com"));
        assert!(!is_safe_href("data:text/html,hi"));
    }
}

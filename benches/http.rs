//! `make bench` (scripts/bench-http.sh): the pages as browsers get them.
//! Starts the release server binary (`target/release/switchyard serve`, or
//! SWITCHYARD_BIN) on a database of its own beside DATABASE_URL's, then
//!
//! - fetches what each page loads to hydrate (the bundle every page names,
//!   and the lazy islands it shows, by the wasm-split manifest) as a browser
//!   would, plain, gzip and brotli, and prints the bytes on the wire per
//!   page against the target (≤ 400 KB gzipped, for every page);
//! - drives each page with N concurrent keep-alive HTTP/1.1 connections for
//!   a few seconds (after a warm-up) and prints requests/s against the
//!   target (≥ 2000/s), with p50/p99 latency.
//!
//! The load generator is this process, on the same machine as the server
//! (2 cores here: it takes part of the CPU the server could use).
//! Settings: SWITCHYARD_BENCH_SECONDS (10), SWITCHYARD_BENCH_CONNECTIONS (32),
//! SWITCHYARD_BENCH_ENCODING (what Chromium sends: "gzip, deflate, br, zstd"),
//! SWITCHYARD_BENCH_PAGES (comma-separated paths; by default `/`, the
//! phases page and a share link's page).

use sqlx::postgres::PgPoolOptions;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

const TARGET_RPS: f64 = 2000.0;
/// Bytes (KB = 1000 bytes).
const TARGET_BUNDLE_GZIP: usize = 400_000;
const PAGES: [&str; 2] = ["/", "/m/user-preferences/phases"];

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server process; killed when dropped (also on an early return).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run() -> Result<(), Error> {
    let base = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let bin =
        std::env::var("SWITCHYARD_BIN").unwrap_or_else(|_| "target/release/switchyard".into());
    let seconds: u64 = env_or("SWITCHYARD_BENCH_SECONDS", 10);
    let connections: usize = env_or("SWITCHYARD_BENCH_CONNECTIONS", 32);
    let encoding = std::env::var("SWITCHYARD_BENCH_ENCODING")
        .unwrap_or_else(|_| "gzip, deflate, br, zstd".into());

    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await?;
    sqlx::query("DROP DATABASE IF EXISTS switchyard_http_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE switchyard_http_bench")
        .execute(&admin)
        .await?;
    admin.close().await;
    let (server_url, _) = base
        .rsplit_once('/')
        .ok_or("DATABASE_URL without a database")?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create("target/bench-http-server.log")?;
    let _server = Server(
        Command::new(&bin)
            .arg("serve")
            .env(
                "DATABASE_URL",
                format!("{server_url}/switchyard_http_bench"),
            )
            .env("LEPTOS_SITE_ADDR", &addr)
            .env("SWITCHYARD_DEMO_USERS", "1000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!("cannot start {bin} (run `cargo leptos build --release` first): {e}")
            })?,
    );
    let started = Instant::now();
    loop {
        // /login: public (every other page needs an account).
        if let Ok(mut conn) = Conn::open(&addr).await {
            if conn
                .get("/login", None)
                .await
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(90) {
            return Err("the server did not come up (see target/bench-http-server.log)".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    sign_in(&bin, &format!("{server_url}/switchyard_http_bench"), &addr).await?;
    let share = share_link(&bin, &format!("{server_url}/switchyard_http_bench")).await?;
    let mut hydrated: Vec<String> = [
        "/",
        "/m/user-preferences",
        "/m/user-preferences/plan",
        "/m/user-preferences/tasks",
        "/m/user-preferences/phases",
        "/m/user-preferences/share",
    ]
    .map(String::from)
    .to_vec();
    hydrated.push(share.clone());
    bundle(&addr, &hydrated).await?;
    println!();
    println!(
        "pages: {connections} keep-alive connections, {seconds} s each after 2 s warm-up, \
         Accept-Encoding: {encoding}"
    );
    let pages = std::env::var("SWITCHYARD_BENCH_PAGES")
        .map(|p| p.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| {
            let mut pages = PAGES.map(String::from).to_vec();
            pages.push(share);
            pages
        });
    for page in &pages {
        load(&addr, page, connections, seconds, &encoding).await?;
    }
    Ok(())
}

/// The session every request of the bench sends (`Conn::get`).
static COOKIE: OnceLock<String> = OnceLock::new();

/// Pages need an account: adds a viewer with the app's CLI and signs it in
/// (`POST /login`); its session cookie goes with every request after.
async fn sign_in(bin: &str, database_url: &str, addr: &str) -> Result<(), Error> {
    use std::io::Write;
    const EMAIL: &str = "bench@example.com";
    const PASSWORD: &str = "bench password";
    let mut add = Command::new(bin)
        .args(["user", "add", EMAIL, "--role", "viewer"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    add.stdin
        .take()
        .ok_or("no stdin for `switchyard user add`")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    if !add.wait()?.success() {
        return Err("`switchyard user add` failed".into());
    }
    let mut conn = Conn::open(addr).await?;
    let r = conn
        .post_form(
            "/login",
            &format!("email={EMAIL}&password=bench+password&next=%2F"),
        )
        .await?;
    let cookie = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("switchyard_session="))
        })
        .ok_or_else(|| format!("signing in failed: status {}", r.status))?;
    COOKIE
        .set(cookie.to_string())
        .map_err(|_| "signed in twice")?;
    Ok(())
}

/// A share link to the demo migration, made with the app's CLI: its path
/// (`/s/{token}`), the page a reader of a chat message opens.
async fn share_link(bin: &str, database_url: &str) -> Result<String, Error> {
    let made = Command::new(bin)
        .args(["share", "create", "user-preferences", "--label", "bench"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .output()?;
    let path = String::from_utf8(made.stdout)?.trim().to_string();
    if !made.status.success() || !path.starts_with("/s/") {
        return Err(format!("`switchyard share create` failed: {path:?}").into());
    }
    Ok(path)
}

/// A file's bytes on the wire: plain, gzip, Brotli.
type Sizes = [usize; 3];

/// What a browser downloads to hydrate each page: the bundle every page
/// loads (the wasm and JS the page names, and the wasm-split loader with
/// its manifest), plus the lazy islands the page shows (each island's wasm
/// and the chunks it needs, as the split manifest lists them). Prints each
/// page's total against the target, which applies to every page.
async fn bundle(addr: &str, pages: &[String]) -> Result<(), Error> {
    let mut conn = Conn::open(addr).await?;
    let mut known: std::collections::HashMap<String, Sizes> = Default::default();
    let home = conn.get("/", None).await?;
    let html = String::from_utf8_lossy(&home.body).into_owned();
    let main_wasm = named(&html, "/pkg/", ".wasm").ok_or("the home page names no .wasm file")?;
    let main_js = named(&html, "/pkg/", ".js").ok_or("the home page names no .js file")?;
    let js = String::from_utf8_lossy(&conn.get(&main_js, None).await?.body).into_owned();
    let mut core = vec![main_wasm, main_js];
    // The split loader (absent when the build is not split), and the list
    // of files each lazy island needs: the loader has it compiled in; the
    // bench reads cargo-leptos's manifest of it beside the served files.
    let mut manifest = serde_json::Map::new();
    if let Some(loader) = named(&js, "__wasm_split.", ".js") {
        core.push(format!("/pkg/{loader}"));
        let pkg = std::path::Path::new(
            &std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()),
        )
        .join("pkg");
        let list = std::fs::read_dir(&pkg)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.starts_with("__wasm_split_manifest.") && n.ends_with(".json")
                })
            })
            .ok_or("a split build without its manifest in the site's pkg directory")?;
        manifest = serde_json::from_slice(&std::fs::read(list)?)?;
    }
    println!(
        "hydrate bundle (bytes on the wire; target: what any page loads <= {} KB gzipped)",
        TARGET_BUNDLE_GZIP / 1000
    );
    let mut every_page = [0; 3];
    for path in &core {
        let sizes = sizes_of(&mut conn, &mut known, path).await?;
        every_page = add(every_page, sizes);
        println!(
            "  {path}: {:.1} KB plain, {:.1} KB gzip, {:.1} KB brotli",
            kb(sizes[0]),
            kb(sizes[1]),
            kb(sizes[2])
        );
    }
    println!(
        "  loaded by every page: {:.1} KB gzip, {:.1} KB brotli",
        kb(every_page[1]),
        kb(every_page[2])
    );
    let mut worst = every_page;
    for page in pages {
        let r = conn.get(page, None).await?;
        if r.status != 200 {
            return Err(format!("{page}: status {} (not the page itself)", r.status).into());
        }
        let html = String::from_utf8_lossy(&r.body).into_owned();
        let mut files: Vec<String> = Vec::new();
        let mut islands: Vec<String> = Vec::new();
        for (i, _) in html.match_indices("data-component=\"") {
            let rest = &html[i + "data-component=\"".len()..];
            let Some(id) = rest.split('"').next() else {
                continue;
            };
            // `Console_1234…` hydrates through `console_loader_5678…`.
            let name = id.rsplit_once('_').map_or(id, |(name, _)| name);
            let prefix = format!("{}_loader_", snake_case(name));
            for (_, needs) in manifest.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                if !islands.iter().any(|i| i == name) {
                    islands.push(name.to_string());
                }
                for file in needs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_str())
                {
                    let file = format!("/pkg/{file}.wasm");
                    if !files.contains(&file) {
                        files.push(file);
                    }
                }
            }
        }
        let mut total = every_page;
        for file in &files {
            total = add(total, sizes_of(&mut conn, &mut known, file).await?);
        }
        if total[1] > worst[1] {
            worst = total;
        }
        let shown = if page.starts_with("/s/") {
            "/s/{token}"
        } else {
            page
        };
        println!(
            "  {shown}: {:.1} KB gzip (target <= {} KB: {}), {:.1} KB brotli; lazy islands: {}",
            kb(total[1]),
            TARGET_BUNDLE_GZIP / 1000,
            verdict(total[1] <= TARGET_BUNDLE_GZIP),
            kb(total[2]),
            if islands.is_empty() {
                "none".to_string()
            } else {
                islands.join(", ")
            },
        );
    }
    println!(
        "  the most any page loads: {:.1} KB gzip (target <= {} KB: {}), {:.1} KB brotli",
        kb(worst[1]),
        TARGET_BUNDLE_GZIP / 1000,
        verdict(worst[1] <= TARGET_BUNDLE_GZIP),
        kb(worst[2])
    );
    Ok(())
}

/// The first `{prefix}…{suffix}` in `text` that reads as a file name.
fn named(text: &str, prefix: &str, suffix: &str) -> Option<String> {
    text.match_indices(prefix).find_map(|(i, _)| {
        let rest = &text[i..];
        let end = rest.find(['"', '\'', '`', ')', ' '])?;
        let found = &rest[..end];
        found.ends_with(suffix).then(|| found.to_string())
    })
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn add(a: Sizes, b: Sizes) -> Sizes {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `path`'s bytes in each encoding (each asked once), checking that the
/// server sends what was asked for and lets browsers keep it.
async fn sizes_of(
    conn: &mut Conn,
    known: &mut std::collections::HashMap<String, Sizes>,
    path: &str,
) -> Result<Sizes, Error> {
    if let Some(sizes) = known.get(path) {
        return Ok(*sizes);
    }
    let mut sizes = [0; 3];
    for (slot, enc) in [None, Some("gzip"), Some("br")].into_iter().enumerate() {
        let r = conn.get(path, enc).await?;
        if r.status != 200 {
            return Err(format!("{path}: status {}", r.status).into());
        }
        let got = r.header("content-encoding").unwrap_or("identity");
        if got != enc.unwrap_or("identity") {
            return Err(format!("{path}: asked for {enc:?}, got {got}").into());
        }
        sizes[slot] = r.body.len();
    }
    known.insert(path.to_string(), sizes);
    Ok(sizes)
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// `connections` clients requesting `page` back to back on keep-alive
/// connections; prints requests/s and latency percentiles.
async fn load(
    addr: &str,
    page: &str,
    connections: usize,
    seconds: u64,
    encoding: &str,
) -> Result<(), Error> {
    let mut probe = Conn::open(addr).await?;
    let first = probe.get(page, Some(encoding)).await?;
    if first.status != 200 {
        return Err(format!("{page}: status {}", first.status).into());
    }
    let warm_up = Duration::from_secs(2);
    let start = Instant::now() + warm_up;
    let end = start + Duration::from_secs(seconds);
    let encoding: Arc<str> = encoding.into();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, page, encoding) = (addr.to_string(), page.to_string(), encoding.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0usize;
            let mut errors = 0usize;
            let mut conn = Conn::open(&addr).await?;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                match conn.get(&page, Some(&encoding)).await {
                    Ok(r) if r.status == 200 => {
                        if t >= start {
                            latencies.push(t.elapsed());
                            bytes += r.body.len();
                        }
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(&addr).await?;
                    }
                }
            }
            Ok::<_, Error>((latencies, bytes, errors))
        }));
    }
    let mut latencies = Vec::new();
    let (mut bytes, mut errors) = (0, 0);
    for task in tasks {
        let (l, b, e) = task.await??;
        latencies.extend(l);
        bytes += b;
        errors += e;
    }
    latencies.sort();
    let n = latencies.len();
    let rps = n as f64 / seconds as f64;
    let pct = |p: f64| {
        latencies
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    // A share link's token is a credential: printed as its route.
    let shown = if page.starts_with("/s/") {
        "/s/{token}"
    } else {
        page
    };
    println!(
        "  {shown}: {rps:.0} requests/s (target >= {TARGET_RPS:.0}: {}), p50 {:.1} ms, p99 {:.1} ms, \
         {:.1} KB per response ({}), {errors} errors",
        verdict(rps >= TARGET_RPS),
        pct(0.50),
        pct(0.99),
        kb(bytes / n.max(1)),
        first.header("content-encoding").unwrap_or("identity"),
    );
    Ok(())
}

/// A minimal HTTP/1.1 client on one keep-alive connection: enough for GETs
/// of our server (Content-Length or chunked bodies).
struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::with_capacity(64 * 1024, stream),
            host: addr.to_string(),
        })
    }

    async fn get(&mut self, path: &str, encoding: Option<&str>) -> Result<Response, Error> {
        let accept = encoding
            .map(|e| format!("Accept-Encoding: {e}\r\n"))
            .unwrap_or_default();
        // A share link is opened by people without an account: no cookie.
        let cookie = COOKIE
            .get()
            .filter(|_| !path.starts_with("/s/"))
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/html,*/*\r\n{accept}{cookie}\r\n",
            self.host
        );
        self.send(&request).await
    }

    /// A URL-encoded form POST.
    async fn post_form(&mut self, path: &str, form: &str) -> Result<Response, Error> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{form}",
            self.host,
            form.len()
        );
        self.send(&request).await
    }

    async fn send(&mut self, request: &str) -> Result<Response, Error> {
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.read_line(&mut line).await?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            self.read_line(&mut line).await?;
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = response.header("content-length") {
            let len: usize = len.parse()?;
            response.body.resize(len, 0);
            self.stream.read_exact(&mut response.body).await?;
        } else if response
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                self.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        self.read_line(&mut line).await?;
                        if line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let at = response.body.len();
                response.body.resize(at + size, 0);
                self.stream.read_exact(&mut response.body[at..]).await?;
                self.read_line(&mut line).await?;
            }
        }
        Ok(response)
    }

    /// One line without its CRLF; an error at end of stream.
    async fn read_line(&mut self, line: &mut String) -> Result<(), Error> {
        line.clear();
        if self.stream.read_line(line).await? == 0 {
            return Err("connection closed".into());
        }
        let trimmed = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(trimmed);
        Ok(())
    }
}

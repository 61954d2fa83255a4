//! `make bench` (scripts/bench-http.sh): the pages as browsers get them.
//! Starts the release server binary (`target/release/switchyard serve`, or
//! SWITCHYARD_BIN) on a database of its own beside DATABASE_URL's, then
//!
//! - fetches the hydrate bundle the home page names (wasm and JS) as a
//!   browser would, plain, gzip and brotli, and prints the bytes on the wire
//!   against the target (≤ 400 KB gzipped);
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
    bundle(&addr).await?;
    println!();
    println!(
        "pages: {connections} keep-alive connections, {seconds} s each after 2 s warm-up, \
         Accept-Encoding: {encoding}"
    );
    let share = share_link(&bin, &format!("{server_url}/switchyard_http_bench")).await?;
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

/// The wasm and JS the home page loads, in each encoding.
async fn bundle(addr: &str) -> Result<(), Error> {
    let mut conn = Conn::open(addr).await?;
    let home = conn.get("/", None).await?;
    let html = String::from_utf8_lossy(&home.body);
    let asset = |ext: &str| -> Result<String, Error> {
        html.match_indices("/pkg/")
            .filter_map(|(i, _)| {
                let rest = &html[i..];
                rest.find(['"', '\'']).map(|end| rest[..end].to_string())
            })
            .find(|p| p.ends_with(ext))
            .ok_or_else(|| format!("the home page names no {ext} file").into())
    };
    println!(
        "hydrate bundle (bytes on the wire; target: wasm + JS <= {} KB gzipped)",
        TARGET_BUNDLE_GZIP / 1000
    );
    let mut gzip_total = 0;
    let mut br_total = 0;
    for path in [asset(".wasm")?, asset(".js")?] {
        let mut sizes = Vec::new();
        let mut cache = String::new();
        for enc in [None, Some("gzip"), Some("br")] {
            let r = conn.get(&path, enc).await?;
            if r.status != 200 {
                return Err(format!("{path}: status {}", r.status).into());
            }
            let got = r
                .header("content-encoding")
                .unwrap_or("identity")
                .to_string();
            if got != enc.unwrap_or("identity") {
                return Err(format!("{path}: asked for {enc:?}, got {got}").into());
            }
            cache = r.header("cache-control").unwrap_or("(none)").to_string();
            sizes.push(r.body.len());
        }
        gzip_total += sizes[1];
        br_total += sizes[2];
        println!(
            "  {path}: {:.1} KB plain, {:.1} KB gzip, {:.1} KB brotli; Cache-Control: {cache}",
            kb(sizes[0]),
            kb(sizes[1]),
            kb(sizes[2])
        );
    }
    println!(
        "  total: {:.1} KB gzip (target <= {} KB: {}), {:.1} KB brotli",
        kb(gzip_total),
        TARGET_BUNDLE_GZIP / 1000,
        verdict(gzip_total <= TARGET_BUNDLE_GZIP),
        kb(br_total)
    );
    Ok(())
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

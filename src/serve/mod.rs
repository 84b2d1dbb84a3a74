//! `gridsweep serve`: a read-only live view of a database in the browser.
//!
//! Why it is built this way:
//! - **It never hurts a run.** The database is opened read-only (a SQLite file with
//!   SQLite's read-only flag, PostgreSQL in READ ONLY transactions), every read is one
//!   short query of `sweep::live` (the same use cases `list`, `status` and `rank` call),
//!   and no read transaction is held between requests, so writers and WAL checkpoints
//!   never wait on a page (optuna-dashboard#545's "database is locked").
//! - **Live but light.** A page polls `/api/sweeps/NAME/updates?after=CURSOR`, which
//!   returns only the folds finished since the cursor (optuna-dashboard's `?after=`);
//!   the leaderboard is read again only when new folds arrived.
//! - **Safe by default.** It binds to loopback; any other address needs a token (made
//!   up and printed when `--token` is not given), checked on every request. Every text
//!   from a spec, the data or the database goes through [`esc`] on the server, and
//!   through `textContent` in the page's script. There is no file serving (no path to
//!   traverse), and the database is named without its password.
//! - **Offline.** The page and its script are in the binary; no CDN, no npm.

use crate::store::Store;
use crate::sweep;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a request handler shares: the read-only store, the token, if any, and the
/// last analysis of each sweep (reused until a fold finishes: `analyze`'s forests are
/// the one heavy computation here).
pub struct App {
    store: Store,
    token: Option<String>,
    analyses: tokio::sync::Mutex<HashMap<String, Arc<sweep::live::AnalysisView>>>,
}

impl App {
    pub fn new(store: Store, token: Option<String>) -> App {
        App {
            store,
            token,
            analyses: Default::default(),
        }
    }
}

/// The server's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/sweep/{name}", get(sweep_page))
        .route("/sweep/{name}/config/{id}", get(config_page))
        .route(
            "/sweep/{name}/hpo_combined.csv",
            get(|a, p| download(a, p, sweep::live::CsvFormat::HpoCombined)),
        )
        .route(
            "/sweep/{name}/cv_results.csv",
            get(|a, p| download(a, p, sweep::live::CsvFormat::CvResults)),
        )
        .route("/sweep/{name}/report.html", get(report_download))
        .route("/sweep/{name}/analysis", get(analysis_part))
        .route("/sweep/{name}/plots/{plot}", get(plot))
        .route("/api/sweeps", get(api_sweeps))
        .route("/api/sweeps/{name}", get(api_board))
        .route("/api/sweeps/{name}/updates", get(api_updates))
        .route("/api/sweeps/{name}/configs/{id}", get(api_config))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page").into_response() })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            check_token,
        ))
        .with_state(app)
}

/// Whether `addr` may be served without a token: loopback only.
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// A token for a server bound beyond loopback: 128 random bits, hex.
pub fn make_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How long requests in flight may take to finish after Ctrl-C (or SIGTERM): a page
/// left open holds a connection (its live updates) that would otherwise keep the
/// server up.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ctrl-C and SIGTERM, listened for from the moment this is called (not from the
/// first poll), so that a signal sent once the address is printed is never missed.
pub struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    pub fn listen() -> std::io::Result<Stop> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Stop {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Stop {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves `app` on `listener` until `stop` (Ctrl-C, SIGTERM): no new connection is
/// taken, and those open get [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    stop: Stop,
) -> std::io::Result<()> {
    let (stopped_tx, mut stopped_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        stop.wait().await;
        let _ = stopped_tx.send(true);
    });
    let deadline = async move {
        let _ = stopped_rx.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r,
        _ = deadline => Ok(()),
    }
}

async fn check_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let from_query = req.uri().query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(String::from)
        });
        let from_header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        if !from_query
            .iter()
            .chain(from_header.iter())
            .any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
        {
            return (
                StatusCode::UNAUTHORIZED,
                "this server needs its token: add ?token=… as printed by `gridsweep serve`",
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use crate::text::esc;

/// A path segment for a link: percent-encoded.
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn error(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("gridsweep serve: {e}"),
    )
        .into_response()
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}\
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}th{cursor:pointer;background:#f4f4f4}\
.tie{color:#1f6f3f;font-weight:bold}.muted{color:#777}.bar{background:#eee;width:320px;height:10px;display:inline-block}\
.bar>span{background:#1f77b4;height:10px;display:block}";

fn page(title: &str, db: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} — gridsweep</title><style>{STYLE}</style></head>\
         <body><p class=\"muted\"><a href=\"/\" data-keep-token>gridsweep</a> · read-only view of {db}</p>{body}</body></html>",
        t = esc(title),
        db = esc(db)
    ))
}

fn bar(done: i64, total: i64) -> String {
    let pct = if total > 0 {
        100.0 * done as f64 / total as f64
    } else {
        0.0
    };
    format!("<span class=\"bar\"><span style=\"width:{pct:.1}%\"></span></span>")
}

async fn index(State(app): State<Arc<App>>) -> Response {
    let cards = match sweep::live::cards(&app.store).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let mut b = String::from("<h1>Sweeps</h1>");
    if cards.is_empty() {
        b.push_str("<p>No sweeps in this database yet.</p>");
    } else {
        b.push_str("<table id=\"sweeps\"><tr><th>sweep</th><th>strategy</th><th>configurations</th><th>folds done</th><th></th><th>failed</th><th>best score</th></tr>");
        for c in &cards {
            let _ = write!(
                b,
                "<tr><td><a href=\"/sweep/{link}\" data-keep-token>{name}</a>{desc}</td><td>{strategy}{source}</td><td>{configs}</td><td>{done} of {total}</td><td>{bar}</td><td>{failed}</td><td>{best}</td></tr>",
                link = seg(&c.name),
                name = esc(&c.name),
                desc = c.description.as_deref().map(|d| format!("<br><span class=\"muted\">{}</span>", esc(d))).unwrap_or_default(),
                strategy = esc(&c.strategy),
                source = c.source.as_deref().map(|s| format!(" <span class=\"muted\">({})</span>", esc(s))).unwrap_or_default(),
                configs = c.configurations,
                done = c.counts.done,
                total = c.counts.total(),
                bar = bar(c.counts.done, c.counts.total()),
                failed = c.counts.failed,
                best = c.best.as_ref().map(|(id, s)| format!("{s:.4} ({})", esc(id))).unwrap_or_else(|| "–".into()),
            );
        }
        b.push_str("</table>");
    }
    b.push_str(KEEP_TOKEN);
    page("sweeps", app.store.name(), &b).into_response()
}

/// Carries `?token=` from the page's own address onto its links and pictures.
const KEEP_TOKEN: &str = "<script>(function(){var t=new URLSearchParams(location.search).get('token');if(!t)return;\
function add(u){return u+(u.indexOf('?')<0?'?':'&')+'token='+encodeURIComponent(t);}\
document.querySelectorAll('a[data-keep-token]').forEach(function(a){a.href=add(a.href);});\
document.querySelectorAll('img[data-keep-token]').forEach(function(i){i.src=add(i.getAttribute('src'));});})();</script>";

/// `?since=T` (Unix seconds) lists the folds finished since T, not only those from the
/// page's opening on.
async fn sweep_page(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let since = q
        .get("since")
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .unwrap_or_else(crate::store::now);
    let board = match sweep::live::board(&app.store, &name).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, format!("no sweep named {name}")).into_response()
        }
        Err(e) => return error(e),
    };
    let s = &board.status;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{name}</h1><p>{desc}</p><p>strategy: {strategy}; {rule}</p>\
         <p id=\"progress\"><span id=\"done\">{done}</span> of <span id=\"total\">{total}</span> folds done, \
         <span id=\"failed\">{failed}</span> failed {bar}{rate}</p>",
        name = esc(&board.sweep.name),
        desc = esc(board.description.as_deref().unwrap_or("")),
        strategy = esc(&board.strategy),
        rule = esc(&s.rule.describe()),
        done = s.counts.done,
        total = s.counts.total(),
        failed = s.counts.failed,
        bar = bar(s.counts.done, s.counts.total()),
        rate = if s.counts.pending + s.counts.running == 0 && s.counts.done > 0 {
            // Finished (or copied here whole): no rate to speak of, as `status` says.
            "; finished: no fold left to run".to_string()
        } else if s.rate_per_min > 0.0 {
            format!(
                "; {:.1} folds/min{}",
                s.rate_per_min,
                s.eta.map(|e| format!(", about {:.0} min left", e / 60.0)).unwrap_or_default()
            )
        } else {
            String::new()
        },
    );
    let _ = write!(
        b,
        "<p>Downloads: <a href=\"/sweep/{n}/hpo_combined.csv\" data-keep-token>HPO_combined.csv</a> · \
         <a href=\"/sweep/{n}/cv_results.csv\" data-keep-token>cv_results.csv</a> (as `gridsweep export` writes them) · \
         <a href=\"/sweep/{n}/report.html\" data-keep-token>the report</a> (one HTML file, with the newest evaluation if there is one)</p>",
        n = seg(&board.sweep.name)
    );
    if !s.workers.is_empty() {
        b.push_str("<h2>Workers</h2><table id=\"workers\"><tr><th>worker</th><th>folds held</th><th>state</th></tr>");
        for w in &s.workers {
            let _ = write!(
                b,
                "<tr><td>{}:{}</td><td>{}</td><td>{}</td></tr>",
                esc(&w.host),
                w.pid,
                w.running,
                if w.gone {
                    "gone (the process no longer exists)"
                } else {
                    "live"
                }
            );
        }
        b.push_str("</table>");
    }
    if let Some(t) = &s.tie_set {
        let _ = write!(
            b,
            "<p class=\"tie\">tie set: {} the folds cannot tell from the leader; pick {}: {}</p>",
            crate::text::count(t.members.len(), "configuration", "configurations"),
            esc(&t.pick),
            esc(&t.why)
        );
    }
    let ties = s
        .tie_set
        .as_ref()
        .map(sweep::ranking::tie_columns)
        .unwrap_or_default();
    b.push_str("<h2>Leaderboard</h2><p><input id=\"filter\" placeholder=\"filter: a hyperparameter value or id\"></p><table id=\"board\"><thead><tr><th>rank</th><th>score</th><th>val acc</th><th>train acc</th><th>Δacc</th><th>id</th><th>tie</th>");
    for k in &board.varying {
        let _ = write!(b, "<th class=\"param\">{}</th>", esc(k));
    }
    b.push_str("<th>curve</th></tr></thead><tbody>");
    for r in &s.ranked {
        let tie = ties
            .get(&r.config_id)
            .map(|(m, p)| {
                if *m {
                    format!("<span class=\"tie\">{p:.2}</span>")
                } else {
                    format!("{p:.2}")
                }
            })
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr data-id=\"{id}\"><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td><a href=\"/sweep/{sweep}/config/{link}\" data-keep-token>{id}</a></td><td>{tie}</td>",
            r.rank,
            r.score,
            r.summary.mean_val_accuracy,
            r.summary.mean_train_accuracy,
            r.summary.delta_accuracy,
            id = esc(&r.config_id),
            sweep = seg(&board.sweep.name),
            link = seg(&r.config_id),
        );
        for k in &board.varying {
            let v = r
                .params
                .get(k)
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default();
            let _ = write!(b, "<td>{}</td>", esc(&v));
        }
        let _ = write!(
            b,
            "<td><input type=\"checkbox\" class=\"curve\"{}></td></tr>",
            if r.rank <= CURVES_SHOWN {
                " checked"
            } else {
                ""
            }
        );
    }
    b.push_str("</tbody></table>");
    if !board.partial.is_empty() {
        let _ = write!(
            b,
            "<h2>Stopped early</h2><p class=\"muted\">{} a staged search pruned, dropped from a race, or holds at a rung, with the score of what they ran.</p>\
             <table id=\"partial\"><tr><th>state</th><th>folds</th><th>epochs</th><th>score</th><th>val acc</th><th>id</th>",
            crate::text::count(board.partial.len(), "configuration", "configurations")
        );
        for k in &board.varying {
            let _ = write!(b, "<th>{}</th>", esc(k));
        }
        b.push_str("</tr>");
        for p in &board.partial {
            let r = &p.ranked;
            let state = match (p.pruned, s.race) {
                (true, true) => "dropped",
                (true, false) => "pruned",
                (false, _) => "waiting",
            };
            let _ = write!(
                b,
                "<tr class=\"{state}\"><td>{state}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td><a href=\"/sweep/{}/config/{}\" data-keep-token>{}</a></td>",
                p.folds,
                p.epochs,
                r.score,
                r.summary.mean_val_accuracy,
                seg(&board.sweep.name),
                seg(&r.config_id),
                esc(&r.config_id)
            );
            for k in &board.varying {
                let v = r
                    .params
                    .get(k)
                    .map(crate::export::display_value)
                    .unwrap_or_default();
                let _ = write!(b, "<td>{}</td>", esc(&v));
            }
            b.push_str("</tr>");
        }
        b.push_str("</table>");
    }
    if !board.varying.is_empty() && !s.ranked.is_empty() {
        b.push_str("<h2>Score against each hyperparameter</h2><p class=\"muted\">One dot per complete configuration; green: in the tie set.</p><div id=\"score-vs\">");
        for k in board.varying.iter().take(16) {
            b.push_str(&score_vs_svg(k, &s.ranked, &ties));
        }
        b.push_str("</div>");
    }
    let n = seg(&board.sweep.name);
    if !s.ranked.is_empty() {
        let ids: Vec<String> = s
            .ranked
            .iter()
            .take(CURVES_SHOWN)
            .map(|r| seg(&r.config_id))
            .collect();
        let _ = write!(
            b,
            "<h2>Learning curves</h2><p class=\"muted\">The configurations ticked in the leaderboard's last column (at most {}), \
             mean accuracy over their folds per epoch: dashed on the training folds, solid on the CV folds where the protocol scores them each epoch (the notebook's).</p>\
             <img id=\"curves\" alt=\"learning curves\" src=\"/sweep/{n}/plots/curves.svg?ids={}\" data-keep-token>",
            sweep::live::CURVES_AT_MOST,
            ids.join(",")
        );
    }
    if matches!(board.strategy.as_str(), "halving" | "hyperband" | "race") {
        let _ = write!(
            b,
            "<h2>{}</h2><p class=\"muted\">{}</p>\
             <img id=\"rungs\" alt=\"scores per rung\" loading=\"lazy\" src=\"/sweep/{n}/plots/rungs.svg\" data-keep-token>",
            if board.strategy == "race" { "Stages" } else { "Rungs" },
            if board.strategy == "race" {
                "Each configuration's score (of its mean accuracies) at each stage of the race, over the folds run by then: dark where it went on, squares where it was still in the race at its end, light where the race dropped it."
            } else {
                "Each configuration's score at each rung (per bracket) it was trained to: dark where it went on, squares where it finished, light where it stopped."
            }
        );
    }
    if !s.ranked.is_empty() {
        b.push_str("<h2>How sure is the choice?</h2><div id=\"analysis\"><p class=\"muted\">Analysing (the weights' bands, the Pareto front, the importance per sub-grid)…</p></div>");
    }
    b.push_str("<h2>Folds finished lately (live: they arrive without a reload)</h2><table id=\"recent\"><tr><th>configuration</th><th>fold</th><th>val acc</th><th>train acc</th><th>epochs</th><th>seconds</th><th>device</th><th>worker</th></tr></table>");
    // (JSON in a script element: `</` written as `<\/`, so no name can close it.)
    let _ = write!(
        b,
        "<script>var SWEEP={};var CURSOR={};</script>",
        json!(board.sweep.name).to_string().replace("</", "<\\/"),
        json!(since)
    );
    b.push_str(SWEEP_SCRIPT);
    b.push_str(KEEP_TOKEN);
    page(&board.sweep.name, app.store.name(), &b).into_response()
}

/// The sweep page's behaviour: sorting and filtering the leaderboard, and polling for
/// finished folds (all text set with textContent).
const SWEEP_SCRIPT: &str = r#"<script>
(function(){
  var token = new URLSearchParams(location.search).get('token');
  function api(path){ return path + (token ? (path.indexOf('?')<0?'?':'&') + 'token=' + encodeURIComponent(token) : ''); }
  var seen = {};
  var board = document.getElementById('board');
  document.querySelectorAll('#board th').forEach(function(th, i){
    th.addEventListener('click', function(){
      var rows = Array.prototype.slice.call(board.tBodies[0].rows);
      var asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
      rows.sort(function(a, b){
        var x = a.cells[i].textContent, y = b.cells[i].textContent, nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function(r){ board.tBodies[0].appendChild(r); });
    });
  });
  document.getElementById('filter').addEventListener('input', function(e){
    var q = e.target.value.toLowerCase();
    Array.prototype.forEach.call(board.tBodies[0].rows, function(r){
      r.style.display = r.textContent.toLowerCase().indexOf(q) < 0 ? 'none' : '';
    });
  });
  function cell(tr, text){ var td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
  function fmt(x){ return x === null || x === undefined ? '' : (typeof x === 'number' ? x.toFixed(4) : String(x)); }
  // The leaderboard is read again when folds arrived, at most every 10 s.
  var lastBoard = 0;
  function refreshBoard(){
    lastBoard = Date.now();
    fetch(api('/api/sweeps/' + encodeURIComponent(SWEEP))).then(function(r){ return r.json(); }).then(function(b){
      var keys = Array.prototype.map.call(board.tHead.querySelectorAll('th.param'), function(th){ return th.textContent; });
      var ticked = {};
      board.querySelectorAll('tbody tr').forEach(function(tr){ var c = tr.querySelector('input.curve'); if (c && c.checked) ticked[tr.dataset.id] = true; });
      var body = document.createElement('tbody');
      b.ranking.forEach(function(r){
        var tr = document.createElement('tr'); tr.dataset.id = r.config_id;
        cell(tr, r.rank); cell(tr, r.score.toFixed(4)); cell(tr, r.summary.mean_val_accuracy.toFixed(4));
        cell(tr, r.summary.mean_train_accuracy.toFixed(4)); cell(tr, r.summary.delta_accuracy.toFixed(4));
        var td = document.createElement('td'), a = document.createElement('a');
        a.href = api('/sweep/' + encodeURIComponent(SWEEP) + '/config/' + encodeURIComponent(r.config_id)); a.textContent = r.config_id;
        td.appendChild(a); tr.appendChild(td);
        cell(tr, r.p_not_worse === undefined ? '' : r.p_not_worse.toFixed(2));
        if (r.in_tie_set) tr.cells[6].className = 'tie';
        keys.forEach(function(k){ var v = r.params[k]; cell(tr, v === undefined ? '' : (typeof v === 'string' ? v : JSON.stringify(v))); });
        var box = document.createElement('input'); box.type = 'checkbox'; box.className = 'curve'; box.checked = !!ticked[r.config_id];
        var btd = document.createElement('td'); btd.appendChild(box); tr.appendChild(btd);
        body.appendChild(tr);
      });
      board.replaceChild(body, board.tBodies[0]);
      document.getElementById('filter').dispatchEvent(new Event('input'));
    }).catch(function(){});
  }
  function poll(){
    fetch(api('/api/sweeps/' + encodeURIComponent(SWEEP) + '/updates?after=' + CURSOR)).then(function(r){ return r.json(); }).then(function(u){
      CURSOR = u.cursor;
      document.getElementById('done').textContent = u.counts.done;
      document.getElementById('failed').textContent = u.counts.failed;
      document.getElementById('total').textContent = u.counts.pending + u.counts.running + u.counts.done + u.counts.failed;
      var recent = document.getElementById('recent');
      u.folds.forEach(function(f){
        if (seen[f.id]) return; seen[f.id] = true;
        var tr = document.createElement('tr'); tr.className = 'fold';
        cell(tr, f.config_id); cell(tr, f.fold); cell(tr, fmt(f.val_accuracy)); cell(tr, fmt(f.train_accuracy));
        cell(tr, fmt(f.epochs_run)); cell(tr, f.fit_seconds === null ? '' : f.fit_seconds.toFixed(1)); cell(tr, fmt(f.device)); cell(tr, fmt(f.worker));
        recent.insertBefore(tr, recent.rows[1] || null);
      });
      if (u.folds.length && Date.now() - lastBoard > 10000) refreshBoard();
    }).catch(function(){}).then(function(){ setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
  // The learning curves of the ticked configurations.
  board.addEventListener('change', function(e){
    if (!e.target.classList.contains('curve')) return;
    var ids = [];
    board.querySelectorAll('tbody tr').forEach(function(tr){ var c = tr.querySelector('input.curve'); if (c && c.checked) ids.push(encodeURIComponent(tr.dataset.id)); });
    var img = document.getElementById('curves');
    if (img) img.src = api('/sweep/' + encodeURIComponent(SWEEP) + '/plots/curves.svg?ids=' + ids.join(','));
  });
  // What `analyze` says: a part of the page the server renders (escaped as the page
  // itself is), fetched after the page so that opening it stays fast.
  var analysis = document.getElementById('analysis');
  if (analysis) fetch(api('/sweep/' + encodeURIComponent(SWEEP) + '/analysis')).then(function(r){ return r.ok ? r.text() : Promise.reject(r.status); })
    .then(function(html){ analysis.innerHTML = html; analysis.querySelectorAll('img').forEach(function(i){ i.src = api(i.getAttribute('src')); }); })
    .catch(function(){ analysis.textContent = 'The analysis could not be made.'; });
})();
</script>"#;

async fn api_sweeps(State(app): State<Arc<App>>) -> Response {
    match sweep::live::cards(&app.store).await {
        Ok(c) => Json(json!({ "sweeps": c })).into_response(),
        Err(e) => error(e),
    }
}

async fn api_board(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let board = match sweep::live::board(&app.store, &name).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no sweep named {name}")})),
            )
                .into_response()
        }
        Err(e) => return error(e),
    };
    let s = &board.status;
    let ties = s
        .tie_set
        .as_ref()
        .map(sweep::ranking::tie_columns)
        .unwrap_or_default();
    let ranking: Vec<Value> = s
        .ranked
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let Some((m, p)) = ties.get(&r.config_id) {
                v["in_tie_set"] = json!(m);
                v["p_not_worse"] = json!(p);
            }
            v
        })
        .collect();
    Json(json!({
        "name": board.sweep.name, "strategy": board.strategy, "description": board.description,
        "counts": s.counts, "rate_per_min": s.rate_per_min, "eta_seconds": s.eta,
        "workers": s.workers, "failures": s.failures, "varying": board.varying,
        "ranking": ranking, "tie_set": s.tie_set,
        "partial": board.partial,
    }))
    .into_response()
}

async fn api_updates(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let after = match q.get("after").map(|a| a.parse::<f64>()) {
        None => 0.0,
        Some(Ok(a)) if a.is_finite() => a,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "after: expected a number (the `cursor` of the last update)",
            )
                .into_response()
        }
    };
    match sweep::live::update(&app.store, &name, after).await {
        Ok(Some(u)) => Json(u).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no sweep named {name}")})),
        )
            .into_response(),
        Err(e) => error(e),
    }
}

async fn download(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    format: sweep::live::CsvFormat,
) -> Response {
    match sweep::live::export_csv(&app.store, &name, format).await {
        Ok(sweep::live::Csv::File(bytes)) => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response()
        }
        Ok(sweep::live::Csv::Nothing(why)) => (StatusCode::CONFLICT, why).into_response(),
        Ok(sweep::live::Csv::NoSweep) => {
            (StatusCode::NOT_FOUND, format!("no sweep named {name}")).into_response()
        }
        Err(e) => error(e),
    }
}

/// A fold's history: (epoch, train accuracy, val accuracy) of each epoch.
type Curve = Vec<(f64, f64, Option<f64>)>;

fn curve(history: Option<&str>) -> Curve {
    history
        .and_then(|h| serde_json::from_str::<Vec<crate::fold::EpochRecord>>(h).ok())
        .unwrap_or_default()
        .iter()
        .map(|e| (f64::from(e.epoch), e.accuracy, e.val_accuracy))
        .collect()
}

/// Learning curves overlaid, as an SVG element (also a document on its own): accuracy
/// on the training folds (dashed) and on the CV folds (solid), one colour per series,
/// each named in its lines' tooltip and in a legend.
fn curves_svg(series: &[(String, Curve)]) -> Option<String> {
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, c)| {
            c.iter()
                .flat_map(|(e, t, v)| [Some((*e, *t)), v.map(|v| (*e, v))])
                .flatten()
        })
        .collect();
    if pts.is_empty() {
        return None;
    }
    let (w, m, legend) = (640.0, 40.0, 14.0 * series.len() as f64);
    let h = 300.0 + legend;
    let bottom = 300.0 - m;
    let x1 = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let (mut y0, mut y1) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if y1 - y0 < 1e-6 {
        y0 -= 0.01;
        y1 += 0.01;
    }
    let sx = |x: f64| m + (x - 1.0) / (x1 - 1.0).max(1.0) * (w - 2.0 * m);
    let sy = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - m);
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    let mut o = format!(
        "<svg class=\"curves\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\" font-family=\"sans-serif\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\
         <line x1=\"{m}\" y1=\"{bottom}\" x2=\"{r}\" y2=\"{bottom}\" stroke=\"black\"/><line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{bottom}\" stroke=\"black\"/>\
         <text x=\"{m}\" y=\"{lb}\">epoch 1</text><text x=\"{r}\" y=\"{lb}\" text-anchor=\"end\">{x1}</text>\
         <text x=\"4\" y=\"{yt}\">{y1:.3}</text><text x=\"4\" y=\"{bottom}\">{y0:.3}</text>",
        r = w - m,
        lb = bottom + 14.0,
        yt = m + 4.0
    );
    for (i, (label, c)) in series.iter().enumerate() {
        let col = colours[i % colours.len()];
        let label = esc(label);
        let train: Vec<String> = c
            .iter()
            .map(|(e, t, _)| format!("{:.1},{:.1}", sx(*e), sy(*t)))
            .collect();
        let val: Vec<String> = c
            .iter()
            .filter_map(|(e, _, v)| v.map(|v| format!("{:.1},{:.1}", sx(*e), sy(v))))
            .collect();
        let _ = write!(o, "<polyline fill=\"none\" stroke=\"{col}\" stroke-dasharray=\"4 3\" points=\"{}\"><title>{label}, training accuracy</title></polyline>", train.join(" "));
        if !val.is_empty() {
            let _ = write!(o, "<polyline fill=\"none\" stroke=\"{col}\" points=\"{}\"><title>{label}, CV-fold accuracy</title></polyline>", val.join(" "));
        }
        let y = 300.0 + 14.0 * i as f64;
        let _ = write!(o, "<line x1=\"{m}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{col}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{y:.1}\">{label}</text>", y - 4.0, m + 20.0, y - 4.0, m + 26.0);
    }
    o.push_str("</svg>");
    Some(o)
}

async fn config_page(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let c = match sweep::live::config_page(&app.store, &name, &id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                format!("no configuration {id} in a sweep named {name}"),
            )
                .into_response()
        }
        Err(e) => return error(e),
    };
    let mut b = format!(
        "<h1>{} <span class=\"muted\">in <a href=\"/sweep/{}\" data-keep-token>{}</a></span></h1>",
        esc(&c.config_id),
        seg(&c.sweep),
        esc(&c.sweep)
    );
    if let Some(s) = &c.summary {
        let _ = write!(
            b,
            "<p>score {:.4}; val accuracy {:.4} ± {:.4}; train {:.4} ± {:.4}</p>",
            s.score,
            s.mean_val_accuracy,
            s.std_val_accuracy,
            s.mean_train_accuracy,
            s.std_train_accuracy
        );
    }
    if let Some(other) = &c.shares_training_of {
        let _ = write!(b, "<p class=\"muted\">It trains the same network as {} (settings its protocol does not use differ): the folds below are that training's.</p>", esc(other));
    }
    b.push_str("<h2>Hyperparameters</h2><table id=\"params\">");
    for (k, v) in &c.params {
        let _ = write!(
            b,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(k),
            esc(&crate::export::display_value(v))
        );
    }
    b.push_str("</table><h2>Folds</h2><table id=\"folds\"><tr><th>fold</th><th>state</th><th>val acc</th><th>train acc</th><th>epochs</th><th>seconds</th><th>device</th><th>worker</th><th>finished</th></tr>");
    let num = |x: Option<f64>, p: usize| x.map(|x| format!("{x:.p$}")).unwrap_or_default();
    for f in &c.folds {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.fold,
            esc(&f.state),
            num(f.val_accuracy, 4),
            num(f.train_accuracy, 4),
            f.epochs_run.map(|e| e.to_string()).unwrap_or_default(),
            num(f.fit_seconds, 1),
            esc(f.device.as_deref().unwrap_or("")),
            esc(f.worker.as_deref().unwrap_or("")),
            f.finished_at.map(crate::text::utc).unwrap_or_default(),
        );
    }
    b.push_str("</table><h2>Learning curves</h2>");
    let curves: Vec<(String, Curve)> = c
        .folds
        .iter()
        .map(|f| (format!("fold {}", f.fold), curve(f.history_json.as_deref())))
        .collect();
    match curves_svg(&curves) {
        Some(svg) => {
            b.push_str(&svg);
            b.push_str("<p class=\"muted\">Accuracy per epoch: dashed on the training fold, solid on the CV fold; one colour per fold.</p>");
        }
        None => b.push_str("<p class=\"muted\">No per-epoch history recorded.</p>"),
    }
    if let Some(e) = &c.evaluation {
        let pretty = serde_json::from_str::<Value>(e)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| e.clone());
        let _ = write!(
            b,
            "<h2>Evaluation</h2><pre id=\"evaluation\">{}</pre>",
            esc(&pretty)
        );
    }
    b.push_str(KEEP_TOKEN);
    page(&c.config_id, app.store.name(), &b).into_response()
}

async fn api_config(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    match sweep::live::config_page(&app.store, &name, &id).await {
        Ok(Some(c)) => Json(json!({
            "sweep": c.sweep, "config_id": c.config_id, "params": c.params, "summary": c.summary,
            "shares_training_of": c.shares_training_of,
            "folds": c.folds.iter().map(|f| json!({
                "fold": f.fold, "state": f.state, "device": f.device, "worker": f.worker, "started_at": f.started_at,
                "finished_at": f.finished_at, "train_accuracy": f.train_accuracy, "val_accuracy": f.val_accuracy,
                "epochs_run": f.epochs_run, "fit_seconds": f.fit_seconds, "error": f.error,
                "history": f.history_json.as_deref().and_then(|h| serde_json::from_str::<Value>(h).ok()),
            })).collect::<Vec<_>>(),
            "evaluation": c.evaluation.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()),
        }))
        .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no configuration {id} in a sweep named {name}")}))).into_response(),
        Err(e) => error(e),
    }
}

/// The configurations' learning curves shown at first: the best few.
const CURVES_SHOWN: usize = 3;

/// An SVG picture, sent so that it can never run a script of its own, even when opened
/// as a page.
fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        svg,
    )
        .into_response()
}

fn no_sweep(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no sweep named {name}")).into_response()
}

/// The sweep's analysis, computed once per done-fold count.
async fn analysis_of(
    app: &Arc<App>,
    name: &str,
) -> Result<Option<Arc<sweep::live::AnalysisView>>, sweep::SweepError> {
    let Some(done) = sweep::live::done_folds(&app.store, name).await? else {
        return Ok(None);
    };
    let mut cache = app.analyses.lock().await;
    if let Some(a) = cache.get(name).filter(|a| a.done == done) {
        return Ok(Some(a.clone()));
    }
    // `analyze`'s forests take a while on thousands of configurations: off the thread
    // that answers the polling pages.
    let (worker, key) = (app.clone(), name.to_string());
    let handle = tokio::runtime::Handle::current();
    let made = tokio::task::spawn_blocking(move || {
        handle.block_on(sweep::live::analysis(&worker.store, &key))
    })
    .await
    .map_err(|e| sweep::SweepError::Conflict(format!("the analysis stopped: {e}")))??;
    let Some(made) = made else { return Ok(None) };
    let made = Arc::new(made);
    cache.insert(name.to_string(), made.clone());
    Ok(Some(made))
}

/// `/sweep/NAME/plots/{rungs,weights,pareto,curves}.svg` (curves: `?ids=A,B,…`).
async fn plot(
    State(app): State<Arc<App>>,
    Path((name, plot)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let drawn: Result<Option<String>, String> = match plot.as_str() {
        "curves.svg" => {
            let ids: Vec<String> = q
                .get("ids")
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            match sweep::live::curves(&app.store, &name, &ids).await {
                Ok(None) => return no_sweep(&name),
                Ok(Some(cs)) => {
                    let series: Vec<(String, Curve)> = cs
                        .iter()
                        .map(|c| {
                            (
                                c.config_id.clone(),
                                c.epochs
                                    .iter()
                                    .map(|&(e, t, v, _)| (f64::from(e), t, v))
                                    .collect(),
                            )
                        })
                        .collect();
                    Ok(Some(curves_svg(&series).unwrap_or_else(|| {
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"40\" font-family=\"sans-serif\" font-size=\"12\"><text x=\"4\" y=\"24\">No configuration ticked, or none with a recorded history.</text></svg>".into()
                    })))
                }
                Err(e) => return error(e),
            }
        }
        "rungs.svg" => match sweep::live::rungs(&app.store, &name).await {
            Ok(None) => return no_sweep(&name),
            Ok(Some(points)) if points.is_empty() => Ok(None),
            Ok(Some(points)) => crate::plots::rungs_svg(&points, None)
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(e) => return error(e),
        },
        "weights.svg" | "pareto.svg" => match analysis_of(&app, &name).await {
            Ok(None) => return no_sweep(&name),
            Ok(Some(a)) => {
                let an = &a.analyzed.analysis;
                let short = |id: &str| crate::domain::short_id(id).to_string();
                if plot == "weights.svg" {
                    match &an.sensitivity {
                        None => Ok(None),
                        Some(sv) => {
                            let bands: Vec<crate::plots::WeightBand> = sv
                                .intervals
                                .iter()
                                .map(|i| {
                                    (
                                        i.from,
                                        i.to,
                                        format!("{} (#{})", short(&i.config_id), i.rank),
                                    )
                                })
                                .collect();
                            crate::plots::weight_bands_svg(&bands, sv.w)
                                .map(Some)
                                .map_err(|e| e.to_string())
                        }
                    }
                } else {
                    let on_front: std::collections::HashSet<&str> =
                        an.pareto.iter().map(|p| p.config_id.as_str()).collect();
                    let leader = a.ranked.first().map(|r| r.config_id.as_str());
                    let points: Vec<crate::plots::FrontPoint> = a
                        .ranked
                        .iter()
                        .map(|r| crate::plots::FrontPoint {
                            abs_delta: r.summary.delta_accuracy.abs(),
                            val_accuracy: r.summary.mean_val_accuracy,
                            on_front: on_front.contains(r.config_id.as_str()),
                            chosen: Some(r.config_id.as_str()) == leader,
                        })
                        .collect();
                    crate::plots::pareto_svg(&points)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
            }
            Err(e) => return error(e),
        },
        _ => {
            return (
                StatusCode::NOT_FOUND,
                "no such plot: rungs.svg, weights.svg, pareto.svg or curves.svg",
            )
                .into_response()
        }
    };
    match drawn {
        Ok(Some(svg)) => svg_response(svg),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("sweep {name} has nothing for {plot}"),
        )
            .into_response(),
        Err(e) => error(e),
    }
}

/// The sweep page's "How sure is the choice?": `analyze`'s weight bands, Pareto front
/// and importance per sub-grid, as a part of a page.
async fn analysis_part(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let a = match analysis_of(&app, &name).await {
        Ok(Some(a)) => a,
        Ok(None) => return no_sweep(&name),
        Err(e) => return error(e),
    };
    let an = &a.analyzed.analysis;
    let n = seg(&name);
    let mut b = String::new();
    let short = |id: &str| crate::domain::short_id(id).to_string();
    if let Some(sv) = &an.sensitivity {
        let cur = &sv.intervals[sv.current];
        let _ = write!(
            b,
            "<p id=\"weights-text\">The score ranks like w·(1 − |Δacc|) + (1 − w)·val with w = w1 / (w1 + w2) = {:.3}. \
             <strong>{}</strong> (rank {}) wins for w from {:.3} to {:.3}; {} win somewhere in [0, 1].</p>\
             <img id=\"weights\" alt=\"the winner for every weighting\" src=\"/sweep/{n}/plots/weights.svg\">\
             <img id=\"pareto\" alt=\"the Pareto front\" src=\"/sweep/{n}/plots/pareto.svg\">\
             <p class=\"muted\">Red line: this sweep's weights. Blue: the configurations no other beats on both val accuracy and |Δacc|; every weighting picks its winner from them; red: the leader.</p>",
            sv.w,
            esc(&short(&cur.config_id)),
            cur.rank,
            cur.from,
            cur.to,
            crate::text::count(sv.intervals.len(), "configuration", "configurations"),
        );
    }
    b.push_str("<h3>What mattered (fANOVA importance; share of the variance)</h3><table id=\"importance\"><tr><th>configurations</th><th>n</th><th>best</th><th>of the score</th><th>of val accuracy</th><th>of Δacc</th></tr>");
    for g in &an.groups {
        let name = if g.name == "all" {
            "the whole sweep".to_string()
        } else {
            format!("sub-grid {}", g.name)
        };
        let top = |target: &str| {
            g.importance
                .iter()
                .find(|t| t.target == target)
                .map(|t| {
                    t.importances
                        .iter()
                        .take(4)
                        .map(|i| format!("{} {:.2}", i.param, i.importance))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "—".into())
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            g.configurations,
            esc(&g.best.as_deref().map(short).unwrap_or_default()),
            esc(&top("score")),
            esc(&top("val_accuracy")),
            esc(&top("delta_accuracy"))
        );
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<p class=\"muted\">Marginals per value with intervals and the tests against the runners-up: <code>gridsweep analyze {}</code> (docs/confidence.md).</p>",
        esc(&crate::text::shell_word(&name))
    );
    Html(b).into_response()
}

/// `/sweep/NAME/report.html[?config=ID]`: the report as one file, with the stored
/// evaluation (nothing is trained here).
async fn report_download(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match sweep::live::report(&app.store, &name, q.get("config").map(String::as_str)).await {
        Ok(Some(html)) => {
            let file: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}-report.html\""),
                    ),
                ],
                html,
            )
                .into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!("no sweep named {name}, or no such configuration in it"),
        )
            .into_response(),
        Err(sweep::SweepError::Conflict(why)) => (StatusCode::CONFLICT, why).into_response(),
        Err(e) => error(e),
    }
}

/// Score against one hyperparameter: a dot per complete configuration over the key's
/// values (tie-set members green), as an inline SVG.
fn score_vs_svg(
    key: &str,
    ranked: &[crate::rank::Ranked],
    ties: &HashMap<String, (bool, f64)>,
) -> String {
    let value = |r: &crate::rank::Ranked| {
        r.params
            .get(key)
            .map(crate::export::display_value)
            .unwrap_or_default()
    };
    let of: Vec<String> = ranked.iter().map(value).collect();
    let mut values: Vec<String> = of.clone();
    values.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    values.dedup();
    let slot: HashMap<&str, usize> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    let (w, h, m) = (280.0, 170.0, 34.0);
    let (y0, y1) = ranked
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| {
            (a.min(r.score), b.max(r.score))
        });
    let (y0, y1) = if y1 - y0 < 1e-9 {
        (y0 - 0.001, y1 + 0.001)
    } else {
        (y0, y1)
    };
    let step = (w - 2.0 * m) / values.len().max(1) as f64;
    let sy = |y: f64| h - m - (y - y0) / (y1 - y0) * (h - 2.0 * m);
    let mut o = format!(
        "<svg class=\"score-vs\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"10\">\
         <text x=\"{m}\" y=\"12\" font-weight=\"bold\">score by {k}</text>\
         <line x1=\"{m}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/><line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{b}\" stroke=\"black\"/>\
         <text x=\"2\" y=\"{yt}\">{y1:.3}</text><text x=\"2\" y=\"{b}\">{y0:.3}</text>",
        k = esc(key),
        b = h - m,
        r = w - m,
        yt = m + 4.0
    );
    for (i, v) in values.iter().enumerate() {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            m + step * (i as f64 + 0.5),
            h - m + 13.0,
            esc(v)
        );
    }
    for (j, r) in ranked.iter().enumerate() {
        let i = slot.get(of[j].as_str()).copied().unwrap_or(0);
        // A fixed spread within the value's band, so that equal scores stay visible.
        let jitter = ((j * 37) % 21) as f64 / 20.0 - 0.5;
        let x = m + step * (i as f64 + 0.5 + 0.6 * jitter);
        let tie = ties.get(&r.config_id).is_some_and(|t| t.0);
        let _ = write!(
            o,
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\" fill-opacity=\"0.7\"><title>{} {:.4}</title></circle>",
            sy(r.score),
            if tie { "#1f6f3f" } else { "#1f77b4" },
            esc(&r.config_id),
            r.score
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn only_loopback_goes_without_a_token() {
        assert!(!needs_token(&"127.0.0.1:8080".parse().unwrap()));
        assert!(!needs_token(&"[::1]:8080".parse().unwrap()));
        assert!(needs_token(&"0.0.0.0:8080".parse().unwrap()));
        assert!(needs_token(&"192.168.1.5:80".parse().unwrap()));
        assert_eq!(make_token().len(), 32);
        assert_ne!(make_token(), make_token());
    }

    #[test]
    fn link_segments_are_percent_encoded() {
        assert_eq!(seg("a b/../c"), "a%20b%2F..%2Fc");
    }
}

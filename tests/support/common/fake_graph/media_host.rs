//! The fake's media host (as `lookaside.fbsbx.com`), a raw TCP server:
//! one request per connection, answered as the node's file, a refusal, or
//! a hostile answer.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::media::{Hostile, Node, URL_LIFETIME};
use super::{query_param, State};

/// What the media host sends for one request.
enum Answer {
    Refuse(u16, String),
    File(Node),
    /// The request read, no answer ever.
    Mute,
}

pub(super) async fn serve(state: Arc<Mutex<State>>, mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split(' ').nth(1).unwrap_or("").to_owned();
    let bearer = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().strip_prefix("Bearer ").map(str::to_owned))
            .flatten()
    });
    let answer = decide(&state, &target, bearer);
    let _ = match answer {
        Answer::Refuse(status, why) => {
            state
                .lock()
                .unwrap()
                .media
                .refusals
                .push((status, why.clone()));
            let page = format!("<html><body>{why}</body></html>");
            let reason = match status {
                401 => "Unauthorized",
                503 => "Service Unavailable",
                _ => "Not Found",
            };
            let res = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            stream.write_all(res.as_bytes()).await
        }
        Answer::File(node) => send_file(&mut stream, &node).await,
        Answer::Mute => std::future::pending().await,
    };
    let _ = stream.shutdown().await;
}

fn decide(state: &Arc<Mutex<State>>, target: &str, bearer: Option<String>) -> Answer {
    let mut state = state.lock().unwrap();
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let nonce = query_param(query, "ext").unwrap_or("").to_owned();
    let Some(token) = bearer else {
        return Answer::Refuse(401, "no access token".into());
    };
    let live = state
        .tokens
        .get(&token)
        .is_some_and(|t| !t.expired() && t.revoked.is_none());
    if !live {
        return Answer::Refuse(401, "access token not valid".into());
    }
    let Some((id, issued)) = state.media.urls.get(&nonce).cloned() else {
        return Answer::Refuse(404, "no such URL".into());
    };
    if Instant::now() >= issued + URL_LIFETIME {
        return Answer::Refuse(404, "URL expired".into());
    }
    let Some(node) = state.media.nodes.get(&id).cloned() else {
        return Answer::Refuse(404, "media deleted".into());
    };
    if let Some(owner) = state.tenancy.owners.get(&node.owner) {
        if state.tokens.get(&token).and_then(|t| t.owner.as_ref()) != Some(owner) {
            return Answer::Refuse(401, "token of another business".into());
        }
    }
    match node.hostile {
        Some(Hostile::Refuse) => return Answer::Refuse(401, "refused".into()),
        Some(Hostile::Unavailable) => return Answer::Refuse(503, "unavailable".into()),
        Some(Hostile::Mute) => return Answer::Mute,
        _ => {}
    }
    state.media.fetches.push((id, token));
    Answer::File(node)
}

async fn send_file(stream: &mut TcpStream, node: &Node) -> std::io::Result<()> {
    let len = node.content.len();
    let head = |length: Option<u64>, mime: &str| {
        let length = length
            .map(|l| format!("Content-Length: {l}\r\n"))
            .unwrap_or_default();
        format!("HTTP/1.1 200 OK\r\nContent-Type: {mime}\r\n{length}Connection: close\r\n\r\n")
    };
    match node.hostile {
        None
        | Some(Hostile::WrongBytes)
        | Some(Hostile::Refuse)
        | Some(Hostile::Unavailable)
        | Some(Hostile::Mute) => {
            stream
                .write_all(head(Some(len), &node.mime).as_bytes())
                .await?;
            for chunk in node.content.chunks() {
                if node.hostile == Some(Hostile::WrongBytes) {
                    let flipped: Vec<u8> = chunk.iter().map(|b| b ^ 1).collect();
                    stream.write_all(&flipped).await?;
                } else {
                    stream.write_all(&chunk).await?;
                }
            }
            Ok(())
        }
        Some(Hostile::Html) => {
            let page = "<!DOCTYPE html><html><body>Sorry, this content isn't available right now</body></html>";
            stream
                .write_all(head(Some(page.len() as u64), "text/html; charset=\"utf-8\"").as_bytes())
                .await?;
            stream.write_all(page.as_bytes()).await
        }
        Some(Hostile::Short) => {
            stream
                .write_all(head(Some(len), &node.mime).as_bytes())
                .await?;
            let mut left = len / 2;
            for chunk in node.content.chunks() {
                let n = (chunk.len() as u64).min(left) as usize;
                stream.write_all(&chunk[..n]).await?;
                left -= n as u64;
                if left == 0 {
                    break;
                }
            }
            Ok(())
        }
        Some(Hostile::Long) => {
            stream
                .write_all(head(Some(len.saturating_sub(100)), &node.mime).as_bytes())
                .await?;
            for chunk in node.content.chunks() {
                stream.write_all(&chunk).await?;
            }
            Ok(())
        }
        Some(Hostile::Endless) => {
            stream.write_all(head(None, &node.mime).as_bytes()).await?;
            // Bounded all the same: a client that never stops reading
            // gets a few times the file, then the connection ends.
            for _ in 0..4 {
                for chunk in node.content.chunks() {
                    stream.write_all(&chunk).await?;
                }
            }
            std::future::pending::<()>().await;
            Ok(())
        }
        Some(Hostile::Stall) => {
            stream
                .write_all(head(Some(len), &node.mime).as_bytes())
                .await?;
            let first = node.content.chunks().next().unwrap_or_default();
            stream.write_all(&first[..first.len().min(16)]).await?;
            std::future::pending::<()>().await;
            Ok(())
        }
    }
}

//! Reading a `multipart/form-data` body (RFC 7578), as the fake's upload
//! endpoint checks it: each part's name and bytes.

use std::collections::HashMap;

use bytes::Bytes;

/// A form's parts by name: (file name, bytes).
pub(super) type Form = HashMap<String, (Option<String>, Bytes)>;

pub(super) fn parse(parts: &http::request::Parts, body: &Bytes) -> Result<Form, String> {
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| {
            rest.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
        })
        .ok_or_else(|| format!("not multipart/form-data: {content_type:?}"))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let text = body.as_ref();
    let mut form = Form::new();
    let mut at = find(text, delimiter.as_bytes(), 0).ok_or("no first boundary")?;
    loop {
        at += delimiter.len();
        if text[at..].starts_with(b"--") {
            return Ok(form);
        }
        at += 2; // CRLF
        let head_end = find(text, b"\r\n\r\n", at).ok_or("a part without a head")?;
        let head = String::from_utf8_lossy(&text[at..head_end]).into_owned();
        let start = head_end + 4;
        let next = find(text, format!("\r\n{delimiter}").as_bytes(), start)
            .ok_or("a part without an end")?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("a part without Content-Disposition")?;
        let param = |name: &str| {
            disposition.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{name}="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
        };
        let name = param("name").ok_or("a part without a name")?;
        form.insert(name, (param("filename"), body.slice(start..next)));
        at = next + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

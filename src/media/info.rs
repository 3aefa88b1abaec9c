//! What Graph answers about media: `GET /{media-id}`, an upload, a delete.

use serde::Deserialize;

use super::MediaError;

/// A media node, as `GET /{media-id}` answers it (Meta's "Retrieve media
/// URL" reference):
/// `{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/…","mime_type":"image/jpeg","sha256":"…","file_size":"303833","id":"…"}`.
/// Graph has sent `file_size` as a string (the current reference) and as
/// a number (the older one): both are read.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaInfo {
    /// The media id.
    pub id: String,
    /// Where the file is downloaded from, with the bearer (valid about 5
    /// minutes). Its query is a signed credential: it is not shown in
    /// `Debug`.
    pub url: String,
    /// The file's MIME type.
    pub mime_type: String,
    /// The file's SHA-256, as Graph gave it (hex).
    pub sha256: String,
    /// The file's size in bytes.
    pub file_size: u64,
}

impl std::fmt::Debug for MediaInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split('?').next().unwrap_or("");
        f.debug_struct("MediaInfo")
            .field("id", &self.id)
            .field("url", &format_args!("{url}?…"))
            .field("mime_type", &self.mime_type)
            .field("sha256", &self.sha256)
            .field("file_size", &self.file_size)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct Wire {
    id: String,
    url: String,
    mime_type: String,
    sha256: String,
    file_size: Size,
}

impl MediaInfo {
    pub(crate) fn parse(bytes: &[u8]) -> Result<MediaInfo, MediaError> {
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| MediaError::Malformed(format!("GET /{{media-id}}: {e}")))?;
        let file_size = match wire.file_size {
            Size::Number(n) => n,
            Size::Text(t) => t.trim().parse().map_err(|_| {
                MediaError::Malformed(format!("file_size {t:?} is not a number of bytes"))
            })?,
        };
        if !wire.url.starts_with("https://") && !wire.url.starts_with("http://") {
            return Err(MediaError::Malformed("url is not an http(s) URL".into()));
        }
        Ok(MediaInfo {
            id: wire.id,
            url: wire.url,
            mime_type: wire.mime_type,
            sha256: wire.sha256,
            file_size,
        })
    }
}

/// `{"success": true}`, as Meta documents a delete's answer.
pub(crate) fn deleted(bytes: &[u8]) -> Result<(), MediaError> {
    #[derive(Deserialize)]
    struct Deleted {
        success: bool,
    }
    match serde_json::from_slice::<Deleted>(bytes) {
        Ok(Deleted { success: true }) => Ok(()),
        Ok(_) => Err(MediaError::Malformed(
            "the delete answered success: false".into(),
        )),
        Err(e) => Err(MediaError::Malformed(format!("DELETE /{{media-id}}: {e}"))),
    }
}

/// `{"id": "<MEDIA_ID>"}`, an upload's answer.
pub(crate) fn uploaded(bytes: &[u8]) -> Result<String, MediaError> {
    #[derive(Deserialize)]
    struct Uploaded {
        id: String,
    }
    serde_json::from_slice::<Uploaded>(bytes)
        .map(|u| u.id)
        .map_err(|e| MediaError::Malformed(format!("POST /{{phone-number-id}}/media: {e}")))
}

/// `value` as a query parameter: only unreserved characters pass as they
/// are (a phone number id is digits; anything else is escaped).
pub(crate) fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two shapes Meta's references show (string and number sizes).
    #[test]
    fn file_size_as_a_string_or_a_number() {
        // Meta's current "Retrieve media URL" example (file_size a string).
        let current = br#"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=2621233374848975&ext=1&hash=x","mime_type":"image/jpeg","sha256":"<HASH>","file_size":"303833","id":"2621233374848975"}"#;
        // The older reference page, as quoted in chatwoot/chatwoot#9809.
        let older = br#"{"url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=123456789&ext=123456789&hash=xxx","mime_type":"application/msword","sha256":"6a95165c","file_size":49664,"id":"123456789","messaging_product":"whatsapp"}"#;
        assert_eq!(MediaInfo::parse(current).unwrap().file_size, 303_833);
        assert_eq!(MediaInfo::parse(older).unwrap().file_size, 49_664);
        let debug = format!("{:?}", MediaInfo::parse(current).unwrap());
        assert!(!debug.contains("hash=x"), "{debug}");
        for bad in [
            &br#"{"id":"1","url":"https://x","mime_type":"a","sha256":"b","file_size":"many"}"#[..],
            br#"{"id":"1","url":"file:///etc/passwd","mime_type":"a","sha256":"b","file_size":1}"#,
            br#"<html>"#,
            br#"{"id":"1"}"#,
        ] {
            assert!(matches!(
                MediaInfo::parse(bad),
                Err(MediaError::Malformed(_))
            ));
        }
        assert!(deleted(br#"{"success":true}"#).is_ok());
        assert!(deleted(br#"{"success":false}"#).is_err());
        assert_eq!(
            uploaded(br#"{"id":"1166846181421424"}"#).unwrap(),
            "1166846181421424"
        );
        assert_eq!(query_value("106540352242922"), "106540352242922");
        assert_eq!(query_value("1&x=2"), "1%26x%3D2");
    }
}

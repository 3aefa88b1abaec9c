//! The media types WhatsApp takes and their size limits, as Meta's
//! "Supported media types" table lists them (Cloud API, media reference):
//! audio 16 MB, documents 100 MB, images 5 MB, stickers 100 KB static and
//! 500 KB animated, video 16 MB. A MB here is 1024 × 1024 bytes: the
//! lenient reading, so that no file Meta takes is refused here.

/// What kind of media a MIME type is, as WhatsApp groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// `audio/aac`, `audio/amr`, `audio/mpeg`, `audio/mp4`, `audio/ogg`
    /// (OPUS only).
    Audio,
    /// Plain text, PDF and the Microsoft Office formats.
    Document,
    /// `image/jpeg`, `image/png`.
    Image,
    /// `image/webp`.
    Sticker,
    /// `video/mp4`, `video/3gpp`.
    Video,
}

const MB: u64 = 1024 * 1024;
const KB: u64 = 1024;

/// The largest file Meta takes of any type (a document): the default cap
/// of a download.
pub const MAX_MEDIA_SIZE: u64 = 100 * MB;

impl MediaKind {
    /// The kind of `mime` (parameters such as `; codecs=opus` ignored,
    /// case ignored), if WhatsApp takes it.
    ///
    /// ```
    /// use tower_whatsapp_auth::media::MediaKind;
    /// assert_eq!(MediaKind::of("audio/ogg; codecs=opus"), Some(MediaKind::Audio));
    /// assert_eq!(MediaKind::of("IMAGE/PNG"), Some(MediaKind::Image));
    /// assert_eq!(MediaKind::of("image/gif"), None);
    /// ```
    pub fn of(mime: &str) -> Option<MediaKind> {
        Some(match essence(mime).as_str() {
            "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => {
                MediaKind::Audio
            }
            "text/plain"
            | "application/pdf"
            | "application/msword"
            | "application/vnd.ms-excel"
            | "application/vnd.ms-powerpoint"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                MediaKind::Document
            }
            "image/jpeg" | "image/png" => MediaKind::Image,
            "image/webp" => MediaKind::Sticker,
            // Meta's table writes 3GPP as `video/3gp`; the registered type
            // is `video/3gpp`. Both are taken.
            "video/mp4" | "video/3gpp" | "video/3gp" => MediaKind::Video,
            _ => return None,
        })
    }

    /// The largest file of this kind Meta takes (a sticker: the animated
    /// limit, since whether a WebP is animated is not read here).
    pub fn max_size(self) -> u64 {
        match self {
            MediaKind::Audio | MediaKind::Video => 16 * MB,
            MediaKind::Document => 100 * MB,
            MediaKind::Image => 5 * MB,
            MediaKind::Sticker => 500 * KB,
        }
    }

    /// The lower-case name WhatsApp gives the kind in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Image => "image",
            MediaKind::Sticker => "sticker",
            MediaKind::Video => "video",
        }
    }
}

/// Whether an upload of `size` bytes of `mime` is one Meta takes.
/// A MIME type's essence: lower-cased, without parameters (`Audio/OGG;
/// codecs=opus` is `audio/ogg`), as Meta's tables list them.
pub(crate) fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn check_upload(mime: &str, size: u64) -> Result<MediaKind, String> {
    let kind = MediaKind::of(mime).ok_or_else(|| {
        format!("WhatsApp does not take {mime:?} (audio: aac, amr, mpeg, mp4, ogg; documents: text, pdf, office; images: jpeg, png; stickers: webp; video: mp4, 3gpp)")
    })?;
    if size > kind.max_size() {
        return Err(format!(
            "{size} bytes of {mime} is over WhatsApp's {}-byte limit for {}",
            kind.max_size(),
            kind.as_str()
        ));
    }
    if size == 0 {
        return Err("the file is empty".into());
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_against_its_limit() {
        let table = [
            ("image/jpeg", 5 * MB, true),
            ("image/jpeg", 5 * MB + 1, false),
            ("image/webp", 500 * KB, true),
            ("image/webp", 500 * KB + 1, false),
            ("audio/ogg; codecs=opus", 16 * MB, true),
            ("video/mp4", 16 * MB + 1, false),
            ("application/pdf", 100 * MB, true),
            ("application/pdf", 100 * MB + 1, false),
            ("image/gif", 10, false),
            ("text/html", 10, false),
            ("text/plain", 0, false),
        ];
        for (mime, size, ok) in table {
            assert_eq!(check_upload(mime, size).is_ok(), ok, "{mime} {size}");
        }
        assert_eq!(MAX_MEDIA_SIZE, MediaKind::Document.max_size());
    }
}

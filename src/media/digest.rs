//! SHA-256 as Graph writes it: 64 hex digits (`GET /{media-id}`) or base64
//! of the 32 bytes (webhooks: `"sha256": "SfInY0gG…GUI="` in Meta's image
//! message example).

use super::MediaError;

/// A digest given by Graph, to compare the bytes' own with.
#[derive(Clone, Debug)]
pub(crate) struct Expected {
    given: String,
    bytes: [u8; 32],
}

impl Expected {
    /// `given` as hex or base64 (standard or URL-safe alphabet, padded or
    /// not); anything else cannot be checked.
    pub(crate) fn parse(given: &str) -> Result<Expected, MediaError> {
        let trimmed = given.trim();
        let bytes = hex32(trimmed)
            .or_else(|| base64_32(trimmed))
            .ok_or_else(|| MediaError::BadDigest(given.to_owned()))?;
        Ok(Expected {
            given: given.to_owned(),
            bytes,
        })
    }

    /// Checks `actual`: a mismatch is an error naming both digests.
    pub(crate) fn check(&self, actual: &[u8; 32]) -> Result<(), MediaError> {
        if &self.bytes == actual {
            return Ok(());
        }
        Err(MediaError::Checksum {
            expected: self.given.clone(),
            actual: hex(actual),
        })
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

fn base64_32(text: &str) -> Option<[u8; 32]> {
    let text = text.trim_end_matches('=');
    // 32 bytes are 43 base64 digits (the last carrying 4 bits).
    if text.len() != 43 {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut bits: u64 = 0;
    let mut held = 0;
    let mut out = Vec::with_capacity(33);
    for &c in text.as_bytes() {
        bits = (bits << 6) | u64::from(value(c)?);
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    // The 2 bits left over must be zero in a canonical encoding.
    if bits != 0 {
        return None;
    }
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The digest of "hello", written each way Graph writes digests.
    #[test]
    fn hex_and_base64_name_the_same_digest() {
        let actual: [u8; 32] = Sha256::digest(b"hello").into();
        let table = [
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
            "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ",
        ];
        for given in table {
            Expected::parse(given).unwrap().check(&actual).unwrap();
        }
        let other: [u8; 32] = Sha256::digest(b"hellO").into();
        let err = Expected::parse(table[2])
            .unwrap()
            .check(&other)
            .unwrap_err();
        assert!(matches!(err, MediaError::Checksum { .. }), "{err}");
    }

    /// What cannot be a SHA-256 is refused, never taken as matching.
    #[test]
    fn a_digest_of_another_shape_cannot_be_checked() {
        for given in [
            "",
            "4654+8g=",
            "PHOTO_HASH",
            "a1b2c3d4e5f6...",
            &"g".repeat(64),
        ] {
            assert!(
                matches!(Expected::parse(given), Err(MediaError::BadDigest(_))),
                "{given}"
            );
        }
        // The webhook fixtures' real digest (Meta's image example) parses.
        Expected::parse("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=").unwrap();
    }
}

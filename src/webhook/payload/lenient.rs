//! How every payload field is read: leniently. Graph writes ids and
//! timestamps as strings or numbers, adds fields and kinds over time, and
//! SDKs and proxies re-serialise deliveries, so a field of an unexpected
//! shape is read as absent (or kept as text), never a reason to refuse the
//! whole delivery.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

/// A string, or a number (any scalar) written as one; missing or null is
/// empty.
pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_text(d)?.unwrap_or_default())
}

/// [`text`], with null as `None`.
pub(super) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Null => None,
        Json::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// An integer, or one written as a string; anything else is 0.
pub(super) fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(opt_integer(d)?.unwrap_or(0))
}

/// An integer, or one written as a string.
pub(super) fn opt_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A number, or one written as a string.
pub(super) fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `true` / `false`, also written as a string or as 1 / 0.
pub(super) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Bool(b) => Some(b),
        Json::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Json::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        Json::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    })
}

/// A nested object; one of another shape reads as absent.
pub(super) fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(Option::<Json>::deserialize(d)?.and_then(|v| T::deserialize(v).ok()))
}

/// A nested object; one of another shape (or none) reads as the default.
pub(super) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(object(d)?.unwrap_or_default())
}

/// A list of objects; items of another shape are left out, and anything
/// but a list reads as empty.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Json::deserialize(d)? {
        Json::Array(items) => items
            .into_iter()
            .filter_map(|v| T::deserialize(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// JSON that Graph sends as a string holding JSON (a Flow's
/// `response_json`), parsed; a string that is not JSON is kept as a string,
/// and JSON sent as JSON is taken as it is.
pub(super) fn json_in_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Null => None,
        Json::String(s) => Some(serde_json::from_str(&s).unwrap_or(Json::String(s))),
        other => Some(other),
    })
}

/// `Some` of a non-blank value.
pub(super) fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// `T` read from the fields of a change's value this crate does not type.
pub(super) fn typed<T: DeserializeOwned>(fields: &serde_json::Map<String, Json>) -> Option<T> {
    T::deserialize(Json::Object(fields.clone())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        #[serde(default, deserialize_with = "text")]
        text: String,
        #[serde(default, deserialize_with = "opt_integer")]
        int: Option<i64>,
        #[serde(default, deserialize_with = "opt_float")]
        float: Option<f64>,
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "json_in_text")]
        json: Option<Json>,
    }

    /// Each shape Graph (or a proxy) writes a field in, and what it reads as.
    #[test]
    fn every_shape_of_a_field_reads_as_its_value_or_absent() {
        let row = |json: &str| serde_json::from_str::<Row>(json).unwrap();
        let cases = [
            (
                r#"{"text":"a","int":7,"float":1.5,"flag":true}"#,
                ("a", Some(7), Some(1.5), Some(true)),
            ),
            (
                r#"{"text":12,"int":"7","float":"-122.2","flag":"TRUE"}"#,
                ("12", Some(7), Some(-122.2), Some(true)),
            ),
            (
                r#"{"text":null,"int":null,"float":null,"flag":null}"#,
                ("", None, None, None),
            ),
            (
                r#"{"int":"x","float":[],"flag":"maybe"}"#,
                ("", None, None, None),
            ),
            (
                r#"{"text":true,"int":1.5,"flag":0}"#,
                ("true", None, None, Some(false)),
            ),
            (r#"{"flag":" false "}"#, ("", None, None, Some(false))),
        ];
        for (json, (text, int, float, flag)) in cases {
            let got = row(json);
            assert_eq!(
                (got.text.as_str(), got.int, got.float, got.flag),
                (text, int, float, flag),
                "{json}"
            );
        }
        assert_eq!(
            row(r#"{"json":"{\"a\":1}"}"#).json,
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            row(r#"{"json":"not json"}"#).json,
            Some(Json::String("not json".into()))
        );
        assert_eq!(
            row(r#"{"json":{"a":1}}"#).json,
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(row(r#"{"json":null}"#).json, None);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        #[serde(default, deserialize_with = "object")]
        one: Option<Inner>,
        #[serde(default, deserialize_with = "list")]
        many: Vec<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        #[serde(default, deserialize_with = "text")]
        id: String,
    }

    #[test]
    fn nested_objects_of_another_shape_read_as_absent() {
        let outer = |json: &str| serde_json::from_str::<Outer>(json).unwrap();
        let cases = [
            (
                r#"{"one":{"id":1},"many":[{"id":"a"},"junk",{"id":2}]}"#,
                Some("1"),
                vec!["a", "2"],
            ),
            (r#"{"one":"junk","many":{"id":"a"}}"#, None, vec![]),
            (r#"{"one":null,"many":null}"#, None, vec![]),
            (r#"{}"#, None, vec![]),
        ];
        for (json, one, many) in cases {
            let got = outer(json);
            assert_eq!(got.one.as_ref().map(|i| i.id.as_str()), one, "{json}");
            assert_eq!(
                got.many.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
                many,
                "{json}"
            );
        }
        assert_eq!(present(Some("  ")), None);
        assert_eq!(present(Some("x")), Some("x"));
        assert_eq!(present(None), None);
    }
}

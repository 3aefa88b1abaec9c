//! [`Usage`]: Graph's usage headers, `X-Business-Use-Case-Usage` and
//! `X-App-Usage`, read leniently.
//!
//! Meta documents them as JSON: `X-App-Usage: {"call_count":N,
//! "total_time":N,"total_cputime":N}` (percentages of the app's hourly
//! allowance) and `X-Business-Use-Case-Usage: {"<business-id>":[{"type",
//! "call_count","total_cputime","total_time",
//! "estimated_time_to_regain_access"}]}`, where the regain time is in
//! minutes ("Time, in minutes, until calls will not longer be throttled",
//! Meta's rate-limiting page). Meta's own sample carries `//` comments, so
//! comments are stripped before parsing. Nothing here consumes the headers:
//! they stay on the response.

use std::time::Duration;

use http::HeaderMap;

/// `X-Business-Use-Case-Usage`.
pub const BUSINESS_USE_CASE_USAGE: &str = "x-business-use-case-usage";
/// `X-App-Usage`.
pub const APP_USAGE: &str = "x-app-usage";

/// What Graph reported of the caller's usage, as a response extension.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Usage {
    /// From `X-App-Usage`.
    pub app: Option<Counts>,
    /// From `X-Business-Use-Case-Usage`, one entry per business and type.
    pub business: Vec<BusinessUsage>,
}

/// Percentages of an hourly allowance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Counts {
    /// Share of the calls allowed, in percent.
    pub call_count: f64,
    /// Share of the CPU time allowed, in percent.
    pub total_cputime: f64,
    /// Share of the total time allowed, in percent.
    pub total_time: f64,
}

impl Counts {
    /// The highest of the three.
    pub fn max_percent(&self) -> f64 {
        self.call_count.max(self.total_cputime).max(self.total_time)
    }
}

/// One business use case's usage.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct BusinessUsage {
    /// The business object id it counts against.
    pub business_id: String,
    /// The use case (`whatsapp`, `messenger`, `pages`, …).
    pub kind: String,
    /// Its counts.
    pub counts: Counts,
    /// How long until calls are no longer throttled, when Graph says.
    pub regain_access_in: Option<Duration>,
}

impl Usage {
    /// Reads the usage headers; `None` when neither is there or readable.
    pub fn from_headers(headers: &HeaderMap) -> Option<Usage> {
        let read = |name: &str| json(headers.get(name)?.to_str().ok()?);
        let app = read(APP_USAGE).map(|v| counts(&v));
        let mut business = Vec::new();
        if let Some(serde_json::Value::Object(ids)) = read(BUSINESS_USE_CASE_USAGE) {
            for (id, entries) in ids {
                for entry in entries.as_array().into_iter().flatten() {
                    let minutes = number(entry.get("estimated_time_to_regain_access"));
                    business.push(BusinessUsage {
                        business_id: id.clone(),
                        kind: entry["type"].as_str().unwrap_or("").to_owned(),
                        counts: counts(entry),
                        regain_access_in: (minutes > 0.0)
                            .then(|| Duration::from_secs_f64(minutes.min(1e7) * 60.0)),
                    });
                }
            }
        }
        (app.is_some() || !business.is_empty()).then_some(Usage { app, business })
    }

    /// The highest percentage reported anywhere.
    pub fn max_percent(&self) -> f64 {
        let business = self.business.iter().map(|b| b.counts.max_percent());
        self.app
            .iter()
            .map(Counts::max_percent)
            .chain(business)
            .fold(0.0, f64::max)
    }

    /// The longest time Graph says calls stay throttled, if any.
    pub fn regain_access_in(&self) -> Option<Duration> {
        self.business
            .iter()
            .filter_map(|b| b.regain_access_in)
            .max()
    }
}

/// The JSON in a usage header's text, comments and all.
fn json(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&without_comments(text)).ok()
}

fn number(v: Option<&serde_json::Value>) -> f64 {
    v.and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
        .filter(|n| n.is_finite() && *n >= 0.0)
        .unwrap_or(0.0)
}

fn counts(v: &serde_json::Value) -> Counts {
    Counts {
        call_count: number(v.get("call_count")),
        total_cputime: number(v.get("total_cputime")),
        total_time: number(v.get("total_time")),
    }
}

/// `text` without `// …` comments outside strings.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            '/' if !in_string && chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_a_captured_business_header_and_the_app_header() {
        // Captured value quoted in the research notes (an ads business,
        // several types under one id).
        let map = headers(&[
            (
                BUSINESS_USE_CASE_USAGE,
                r#"{"750530335844724":[{"type":"ads_management","call_count":19,"total_cputime":5,"total_time":4,"estimated_time_to_regain_access":10},{"type":"ads_insights","call_count":1,"total_cputime":3,"total_time":3,"estimated_time_to_regain_access":0}]}"#,
            ),
            (
                APP_USAGE,
                r#"{"call_count":28,"total_time":25,"total_cputime":25}"#,
            ),
        ]);
        let usage = Usage::from_headers(&map).unwrap();
        assert_eq!(usage.business.len(), 2);
        assert_eq!(usage.business[0].kind, "ads_management");
        assert_eq!(usage.regain_access_in(), Some(Duration::from_secs(600)));
        assert_eq!(usage.app.unwrap().call_count, 28.0);
        assert_eq!(usage.max_percent(), 28.0);
    }

    #[test]
    fn meta_s_commented_sample_and_garbage_are_handled() {
        // Meta's documented sample carries comments (and spans lines).
        let sample = json(
            r#"{"1": [{"type": "whatsapp", "call_count": 95, //Percentage of calls made
              "total_cputime": "20", "estimated_time_to_regain_access": 19 //Time in minutes to regain access
            }]}"#,
        )
        .unwrap();
        assert_eq!(sample["1"][0]["estimated_time_to_regain_access"], 19);
        let map = headers(&[(
            BUSINESS_USE_CASE_USAGE,
            r#"{"1":[{"type":"whatsapp","call_count":95,"total_cputime":"20","estimated_time_to_regain_access":19}]}"#,
        )]);
        let usage = Usage::from_headers(&map).unwrap();
        assert_eq!(usage.max_percent(), 95.0);
        assert_eq!(usage.regain_access_in(), Some(Duration::from_secs(19 * 60)));
        for bad in [
            "",
            "nope",
            "[1,2]",
            r#"{"a":"b"}"#,
            r#"{"1":[{"call_count":-5}]}"#,
        ] {
            let usage = Usage::from_headers(&headers(&[(BUSINESS_USE_CASE_USAGE, bad)]));
            assert!(usage.is_none_or(|u| u.max_percent() == 0.0), "{bad}");
        }
        assert!(Usage::from_headers(&HeaderMap::new()).is_none());
    }
}

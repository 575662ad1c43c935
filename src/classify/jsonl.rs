//! JSON lines in, JSON lines out: the record format of `bouncestat classify` and of the
//! labelled set.
//!
//! A record is a JSON object with any of `reply_code` (number or string), `enhanced_code`,
//! `dsn`, `text`, `stage` (`rcpt`, `RCPT TO`, `end of DATA`...), `remote_host`,
//! `recipient_domain` (or `recipient`, whose domain is used), and `outcome` (`bounced`,
//! `deferred`, `delivered`, `expired`). Other fields are ignored here and passed through by
//! [`classify_line`], which appends the verdict to the original bytes of the object so key
//! order, number formatting and unknown fields survive untouched. Only when the object already
//! has one of the output keys is it re-serialised (with those keys overwritten).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};

use super::{Classification, Classifier, ClassifyInput};
use crate::event::{EnhancedCode, Outcome, Stage, domain_of};

/// The keys [`classify_line`] adds, in output order.
pub const OUTPUT_KEYS: [&str; 6] = [
    "category",
    "permanence",
    "fault",
    "action",
    "provider",
    "rule_id",
];

/// The fields of a record the classifier reads, borrowed from the line where possible.
#[derive(Debug, Default, Deserialize)]
pub struct Record<'a> {
    #[serde(default, deserialize_with = "reply_code_field")]
    pub reply_code: Option<u16>,
    #[serde(default, borrow)]
    pub enhanced_code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub dsn: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub stage: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub remote_host: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub recipient_domain: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub recipient: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub outcome: Option<Cow<'a, str>>,
    #[serde(default)]
    category: Option<IgnoredAny>,
    #[serde(default)]
    permanence: Option<IgnoredAny>,
    #[serde(default)]
    fault: Option<IgnoredAny>,
    #[serde(default)]
    action: Option<IgnoredAny>,
    #[serde(default)]
    provider: Option<IgnoredAny>,
    #[serde(default)]
    rule_id: Option<IgnoredAny>,
}

impl<'a> Record<'a> {
    /// Parses one line. The line must hold exactly one JSON object.
    ///
    /// # Errors
    /// Not JSON, not an object, or a known field of the wrong type.
    pub fn parse(line: &'a [u8]) -> Result<Record<'a>, serde_json::Error> {
        if line.trim_ascii_start().first() != Some(&b'{') {
            return Err(de::Error::custom("expected a JSON object"));
        }
        serde_json::from_slice(line)
    }

    /// The classifier's view of the record.
    pub fn input(&self) -> ClassifyInput<'_> {
        let domain = self
            .recipient_domain
            .as_deref()
            .map(str::as_bytes)
            .or_else(|| {
                self.recipient
                    .as_deref()
                    .map(|r| domain_of(r.as_bytes()))
                    .filter(|d| !d.is_empty())
            });
        ClassifyInput {
            outcome: self.outcome.as_deref().and_then(parse_outcome),
            reply_code: self.reply_code,
            enhanced_code: self.enhanced_code.as_deref().and_then(parse_code),
            dsn: self.dsn.as_deref().and_then(parse_code),
            text: self.text.as_deref().unwrap_or("").as_bytes(),
            stage: self.stage.as_deref().and_then(parse_stage),
            remote_host: self
                .remote_host
                .as_deref()
                .map(str::as_bytes)
                .filter(|h| !h.is_empty()),
            recipient_domain: domain.filter(|d| !d.is_empty()),
        }
    }

    fn has_output_keys(&self) -> bool {
        self.category.is_some()
            || self.permanence.is_some()
            || self.fault.is_some()
            || self.action.is_some()
            || self.provider.is_some()
            || self.rule_id.is_some()
    }
}

/// The common spellings without allocating, then [`Stage::parse`] for the rest.
fn parse_stage(text: &str) -> Option<Stage> {
    match text {
        "rcpt" | "RCPT TO" => Some(Stage::RcptTo),
        "end_of_data" | "end of DATA" => Some(Stage::EndOfData),
        "mail" | "MAIL FROM" => Some(Stage::MailFrom),
        "data" | "DATA" => Some(Stage::Data),
        "connect" => Some(Stage::Connect),
        "greeting" => Some(Stage::Greeting),
        "ehlo" | "EHLO" => Some(Stage::Ehlo),
        _ => Stage::parse(text),
    }
}

/// Reads `deferred`, `bounced`/`bounce`, `delivered`/`sent`, `expired`, any case.
pub fn parse_outcome(text: &str) -> Option<Outcome> {
    let t = text.trim();
    let eq = |s: &str| t.eq_ignore_ascii_case(s);
    if eq("delivered") || eq("sent") || eq("delivery") {
        Some(Outcome::Delivered)
    } else if eq("deferred") || eq("deferral") || eq("delayed") {
        Some(Outcome::Deferred)
    } else if eq("bounced") || eq("bounce") || eq("failed") {
        Some(Outcome::Bounced)
    } else if eq("expired") {
        Some(Outcome::Expired)
    } else {
        None
    }
}

/// An enhanced code written alone (`5.1.1`) or inside a short text (`smtp; 5.1.1`).
pub fn parse_code(text: &str) -> Option<EnhancedCode> {
    let t = text.trim().as_bytes();
    EnhancedCode::parse(t).or_else(|| EnhancedCode::find(t))
}

fn reply_code_field<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    struct CodeVisitor;
    impl Visitor<'_> for CodeVisitor {
        type Value = Option<u16>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a reply code as a number or a string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(u16::try_from(v).ok().filter(|c| (200..=599).contains(c)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u16::try_from(v).ok().filter(|c| (200..=599).contains(c)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok((v.fract() == 0.0 && (200.0..=599.0).contains(&v)).then_some(v as u16))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let digits = v.trim().get(..3).unwrap_or("");
            Ok(digits
                .parse::<u16>()
                .ok()
                .filter(|c| (200..=599).contains(c)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(CodeVisitor)
}

/// Classifies one JSON line and appends it, with the verdict added, to `out` (with a
/// newline). Blank lines produce nothing and return `Ok(None)`.
///
/// # Errors
/// The line is not a JSON object or a known field has the wrong type; nothing is written.
pub fn classify_line(
    classifier: &Classifier,
    line: &[u8],
    out: &mut Vec<u8>,
) -> Result<Option<Classification>, serde_json::Error> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    let record = Record::parse(line)?;
    let class = classifier.classify(&record.input());
    if record.has_output_keys() {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line)?;
        for (key, value) in OUTPUT_KEYS.iter().zip(values(&class)) {
            object.insert((*key).to_owned(), value.into());
        }
        serde_json::to_writer(&mut *out, &object)?;
    } else {
        // `line` ends with the object's closing brace (trimmed, and it parsed as an object).
        let body = &line[..line.len() - 1];
        out.extend_from_slice(body);
        if body.trim_ascii_end().last() != Some(&b'{') {
            out.push(b',');
        }
        for (i, (key, value)) in OUTPUT_KEYS.iter().zip(values(&class)).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys and values are plain ASCII names (rule ids are validated): no escaping.
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":\"");
            out.extend_from_slice(value.as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b'\n');
    Ok(Some(class))
}

fn values(class: &Classification) -> [&'static str; 6] {
    [
        class.category.as_str(),
        class.permanence.as_str(),
        class.fault.as_str(),
        class.action.as_str(),
        class.provider.as_str(),
        class.rule_id,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> String {
        let classifier = Classifier::new();
        let mut out = Vec::new();
        classify_line(&classifier, line.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn appends_fields_and_keeps_the_rest() {
        let out =
            run(r#"{"z":1.50,"reply_code":"550","text":"5.1.1 user unknown","stage":"RCPT TO"}"#);
        assert!(out.starts_with(r#"{"z":1.50,"reply_code":"550","#), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["category"], "user_unknown");
        assert_eq!(v["action"], "remove_address");
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn empty_object_and_existing_keys() {
        let v: serde_json::Value = serde_json::from_str(&run("{ }")).unwrap();
        assert_eq!(v["category"], "unclassified");
        let v: serde_json::Value =
            serde_json::from_str(&run(r#"{"category":"old","reply_code":552}"#)).unwrap();
        assert_eq!(v["category"], "mailbox_full");
    }

    #[test]
    fn rejects_non_objects() {
        let classifier = Classifier::new();
        let mut out = Vec::new();
        assert!(classify_line(&classifier, b"[1,2]", &mut out).is_err());
        assert!(classify_line(&classifier, b"{\"text\":", &mut out).is_err());
        assert!(classify_line(&classifier, b"{} x", &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(classify_line(&classifier, b"  \r", &mut out).unwrap(), None);
    }
}

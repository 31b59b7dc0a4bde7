//! HTML building blocks: escaping, the page layout, banners, tables, time and phone formatting.
//! Every dynamic value goes through [`esc`] at the place it is interpolated.
use std::fmt::Write;

/// Escape text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query parameter value (cursors are URL-safe already; this is defence).
pub(crate) fn url_param(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Which of the three apps a page belongs to (highlighted in the top navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Account,
    Console,
    Scanner,
}

/// A message shown at the top of a page after an action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Banner {
    #[default]
    None,
    /// The action worked.
    Ok(String),
    /// The input or the action was refused; the text says why.
    Err(String),
}

impl Banner {
    pub(crate) fn html(&self) -> String {
        match self {
            Banner::None => String::new(),
            Banner::Ok(t) => format!(
                r#"<div class="banner ok" role="status" id="banner">{}</div>"#,
                esc(t)
            ),
            Banner::Err(t) => format!(
                r#"<div class="banner err" role="alert" id="banner">{}</div>"#,
                esc(t)
            ),
        }
    }
}

/// The whole document around `body` (already HTML).
pub(crate) fn layout(title: &str, section: Section, body: &str) -> String {
    let link = |s: Section, href: &str, label: &str| {
        let cur = if s == section {
            r#" aria-current="page""#
        } else {
            ""
        };
        format!(r#"<a href="{href}"{cur}>{label}</a>"#)
    };
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · palmsig</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">palmsig</a>
<nav aria-label="Main">{a}{c}{s}</nav>
</header>
<main id="main" tabindex="-1">
<h1>{title}</h1>
{body}
</main>
<footer class="foot">Palm images are never stored. Templates are encrypted at rest.</footer>
</body>
</html>
"##,
        title = esc(title),
        a = link(Section::Account, "/account", "My palm"),
        c = link(Section::Console, "/console", "Console"),
        s = link(Section::Scanner, "/scanner", "Scanner"),
    )
}

/// A table with a caption; `rows` cells are HTML (escape them when building).
pub(crate) fn table(caption: &str, head: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!(r#"<p class="empty">{}</p>"#, esc(empty));
    }
    let mut out = format!(
        r#"<div class="scroll"><table><caption>{}</caption><thead><tr>"#,
        esc(caption)
    );
    for h in head {
        let _ = write!(out, r#"<th scope="col">{}</th>"#, esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// `2026-11-25 10:04 UTC`, or `—` for none.
pub(crate) fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// `+41 ••• ••• 67`: the country prefix and the last two digits of an E.164 number.
pub(crate) fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 6 {
        return "•••".into();
    }
    let cc = if digits[0] == '1' || digits[0] == '7' {
        1
    } else {
        2
    };
    let head: String = digits[..cc].iter().collect();
    let tail: String = digits[digits.len() - 2..].iter().collect();
    format!("+{head} ••• ••• {tail}")
}

/// `12.50 EUR` from minor units.
pub(crate) fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        (amount % 100).abs(),
        esc(currency)
    )
}

/// Parse `12.50` / `12,5` / `12` into minor units (positive, at most 1 000 000.00).
pub(crate) fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim().replace(',', ".");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || whole.len() > 7
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    let v = w * 100 + f;
    (v > 0 && v <= 100_000_000).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn masks_phones() {
        assert_eq!(mask_phone("+41791234567"), "+41 ••• ••• 67");
        assert_eq!(mask_phone("+14155550100"), "+1 ••• ••• 00");
        assert_eq!(mask_phone("+1"), "•••");
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("12.50"), Some(1250));
        assert_eq!(parse_amount("12,5"), Some(1250));
        assert_eq!(parse_amount("7"), Some(700));
        for bad in ["", "0", "-3", "1.234", "abc", "1e3", "99999999"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
        assert_eq!(money(1250, "EUR"), "12.50 EUR");
    }

    #[test]
    fn url_params_are_encoded() {
        assert_eq!(url_param("a b&c=d"), "a%20b%26c%3Dd");
    }
}

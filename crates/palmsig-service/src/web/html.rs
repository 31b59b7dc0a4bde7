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

/// A message shown at the top of a page after an action. Focus moves to it (or to the field it
/// names) when the page loads, and the page title starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Banner {
    #[default]
    None,
    /// The action worked.
    Ok(String),
    /// The input or the action was refused; the text says why.
    Err(String),
    /// One field is wrong (its element id): it is marked `aria-invalid` and described by the
    /// message.
    Field(&'static str, String),
}

impl Banner {
    pub(crate) fn html(&self) -> String {
        match self {
            Banner::None => String::new(),
            Banner::Ok(t) => format!(
                r#"<div class="banner ok" role="status" id="banner" tabindex="-1" data-title="{t}">{t}</div>"#,
                t = esc(t)
            ),
            Banner::Err(t) => format!(
                r#"<div class="banner err" role="alert" id="banner" tabindex="-1" data-title="Error">{}</div>"#,
                esc(t)
            ),
            Banner::Field(f, t) => format!(
                r#"<div class="banner err" role="alert" id="banner" tabindex="-1" data-title="Error" data-invalid="{f}">{}</div>"#,
                esc(t)
            ),
        }
    }
}

/// The page title: the first `data-title` of the body (a result or a banner) before the page's
/// own title, so a result or an error is the first thing a screen reader or a tab strip says.
fn full_title(title: &str, body: &str) -> String {
    let lead = body
        .split_once(r#"data-title=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(t, _)| t);
    match lead {
        Some(t) if !t.is_empty() => format!("{t} – {} · palmsig", esc(title)),
        _ => format!("{} · palmsig", esc(title)),
    }
}

/// Mark the field a `Banner::Field` names: `aria-invalid` and described by the banner.
fn mark_invalid(body: &str) -> String {
    let Some(field) = body
        .split_once(r#"data-invalid=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(f, _)| f.to_string())
    else {
        return body.to_string();
    };
    let id = format!(r#" id="{field}""#);
    let Some(at) = body.find(&id) else {
        return body.to_string();
    };
    let Some(end) = body[at..].find('>').map(|e| at + e) else {
        return body.to_string();
    };
    let tag = &body[at..end];
    let marked = match tag.find(r#"aria-describedby=""#) {
        Some(d) => {
            let d = d + r#"aria-describedby=""#.len();
            format!(r#"{}banner {} aria-invalid="true""#, &tag[..d], &tag[d..])
        }
        None => format!(r#"{tag} aria-invalid="true" aria-describedby="banner""#),
    };
    format!("{}{marked}{}", &body[..at], &body[end..])
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
<title>{full_title}</title>
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
        full_title = full_title(title, body),
        body = mark_invalid(body),
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
        // A column of buttons has no visible heading, but its header cell is not empty.
        let h = if h.is_empty() {
            r#"<span class="visually-hidden">Actions</span>"#.to_string()
        } else {
            esc(h)
        };
        let _ = write!(out, r#"<th scope="col">{h}</th>"#);
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            // On a phone each row becomes a card, each cell labelled with its column.
            match head.get(i).filter(|h| !h.is_empty()) {
                Some(h) => {
                    let _ = write!(out, r#"<td data-label="{}">{c}</td>"#, esc(h));
                }
                None => {
                    let _ = write!(out, "<td>{c}</td>");
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A long id shortened for narrow screens (`dev_3f9a…c21e`), the whole id in a tooltip.
pub(crate) fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 14 {
        return format!("<code>{}</code>", esc(id));
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!(
        r#"<code title="{}">{}…{}</code>"#,
        esc(id),
        esc(&head),
        esc(&tail)
    )
}

/// A confirmation step of a destructive action: what happens, a danger button that posts
/// `confirm=yes` with `fields`, and a way back.
pub(crate) fn confirm(
    heading: &str,
    text: &str,
    action: &str,
    fields: &[(&str, &str)],
    yes: &str,
    back: &str,
) -> String {
    let mut hidden = String::new();
    for (k, v) in fields {
        let _ = write!(
            hidden,
            r#"<input type="hidden" name="{}" value="{}">"#,
            esc(k),
            esc(v)
        );
    }
    format!(
        r#"<section class="panel danger" aria-labelledby="confirm-h"><h2 id="confirm-h" tabindex="-1" data-title="{h}">{h}</h2><p>{t}</p>
<form method="post" action="{a}" class="row">{hidden}
<button class="danger" type="submit" name="confirm" value="yes" id="confirm-yes">{y}</button>
<a class="button secondary" href="{b}" id="confirm-no">Cancel</a></form></section>"#,
        h = esc(heading),
        t = esc(text),
        a = esc(action),
        y = esc(yes),
        b = esc(back),
    )
}

/// A card expiry as typed: month 1–12, a four-digit year from this year up to 20 years on. The
/// error names the wrong field (`ids`: the month and year input ids) and says what to type.
pub(crate) fn expiry(
    month: &str,
    year: &str,
    this_year: i32,
    ids: (&'static str, &'static str),
) -> Result<(u32, i32), Banner> {
    let m = month
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| Banner::Field(ids.0, "The expiry month is a number from 1 to 12.".into()))?;
    let year = year.trim();
    let example = this_year + 3;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Banner::Field(
            ids.1,
            format!(
                "Write the expiry year with four digits, like {example} (not {}).",
                if year.is_empty() { "empty" } else { year }
            ),
        ));
    }
    let y: i32 = year.parse().unwrap_or(0);
    if y < this_year || y > this_year + 20 {
        return Err(Banner::Field(
            ids.1,
            format!("The expiry year must be between {this_year} and {}: the card has expired or the year is mistyped.", this_year + 20),
        ));
    }
    Ok((m, y))
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
    fn results_and_errors_change_the_title() {
        let ok = Banner::Ok("Card added.".into()).html();
        assert!(layout("My palm", Section::Account, &ok)
            .contains("<title>Card added. – My palm · palmsig</title>"));
        let err = Banner::Err("No.".into()).html();
        assert!(layout("My palm", Section::Account, &err)
            .contains("<title>Error – My palm · palmsig</title>"));
        assert!(layout("My palm", Section::Account, "<p>x</p>")
            .contains("<title>My palm · palmsig</title>"));
    }

    #[test]
    fn a_field_error_marks_and_describes_the_field() {
        let body = format!(
            r#"{}<input id="year" name="y"><input id="month" aria-describedby="month-hint">"#,
            Banner::Field("year", "Four digits.".into()).html()
        );
        let page = layout("x", Section::Home, &body);
        assert!(
            page.contains(
                r#"<input id="year" name="y" aria-invalid="true" aria-describedby="banner">"#
            ),
            "{page}"
        );
        assert!(page.contains(r#"<input id="month" aria-describedby="month-hint">"#));
        let body = format!(
            r#"{}<input id="month" aria-describedby="month-hint">"#,
            Banner::Field("month", "1 to 12.".into()).html()
        );
        assert!(layout("x", Section::Home, &body).contains(
            r#"<input id="month" aria-describedby="banner month-hint" aria-invalid="true">"#
        ));
    }

    #[test]
    fn expiry_years_need_four_digits_and_a_plausible_year() {
        let ids = ("m", "y");
        assert_eq!(expiry("12", "2031", 2026, ids), Ok((12, 2031)));
        for (m, y, field, says) in [
            ("12", "31", "y", "four digits, like 2029"),
            ("12", "", "y", "four digits"),
            ("12", "2020", "y", "between 2026 and 2046"),
            ("12", "2099", "y", "between 2026 and 2046"),
            ("13", "2031", "m", "1 to 12"),
            ("x", "2031", "m", "1 to 12"),
        ] {
            match expiry(m, y, 2026, ids) {
                Err(Banner::Field(f, msg)) => {
                    assert_eq!(f, field, "{m}/{y}");
                    assert!(msg.contains(says), "{m}/{y}: {msg}");
                }
                other => panic!("{m}/{y}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_ids_are_shortened() {
        assert_eq!(
            short_id("dev_0123456789abcdef"),
            r#"<code title="dev_0123456789abcdef">dev_0123…cdef</code>"#
        );
        assert_eq!(short_id("ten_1"), "<code>ten_1</code>");
    }

    #[test]
    fn url_params_are_encoded() {
        assert_eq!(url_param("a b&c=d"), "a%20b%26c%3Dd");
    }
}

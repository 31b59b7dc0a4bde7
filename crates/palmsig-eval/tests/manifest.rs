//! Manifest parser: good files, every bad case with its typed error and line number.

use std::path::{Path, PathBuf};

use palmsig_core::{CaptureKind, Hand};
use palmsig_eval::manifest::session_cmp;
use palmsig_eval::{escape_token, Manifest, ManifestError};

fn parse(s: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(s.as_bytes(), Path::new("/base"))
}

#[test]
fn good_manifest_with_comments_paths_and_classes() {
    let m = parse(
        "# dataset\ncapture,subject,hand,session,kind,visible,nir\n\
         c1,s1,left,1,hand,img/a.png,/abs/a_n.png\n\
         # mid comment\n\
         c2,s1,right,2,roi,,n/b.png\n\
         c3,s1,left,2,hand,v.png,\n",
    )
    .unwrap();
    assert_eq!(m.captures.len(), 3);
    assert_eq!(m.classes.len(), 2);
    let c1 = &m.captures[0];
    assert_eq!(c1.visible.as_deref(), Some(Path::new("/base/img/a.png")));
    assert_eq!(c1.nir.as_deref(), Some(Path::new("/abs/a_n.png")));
    assert_eq!(c1.kind, CaptureKind::Hand);
    assert_eq!(c1.line, 3);
    let c2 = &m.captures[1];
    assert_eq!(c2.visible, None);
    assert_eq!(c2.kind, CaptureKind::Roi);
    assert_eq!(c2.hand, Hand::Right);
    assert_eq!(c2.line, 5, "comment lines are counted");
    assert_eq!(m.captures[2].class, c1.class);
    assert_ne!(c2.class, c1.class);
}

#[test]
fn optional_columns_may_be_absent_and_unknown_ones_are_ignored() {
    let m = parse("extra,kind,hand,subject,capture,nir\nzz,roi,unknown,s 9,x,n.png\n").unwrap();
    let c = &m.captures[0];
    assert_eq!(c.session, "");
    assert_eq!(c.visible, None);
    assert_eq!(c.nir.as_deref(), Some(Path::new("/base/n.png")));
    assert_eq!(m.classes[0].name(), "s%209/unknown");
}

#[test]
fn bom_whitespace_and_case_are_tolerated() {
    let m = parse("\u{feff}Capture, Subject ,hand,kind,visible\n c1 , s1 , Left , ROI , a.png \n")
        .unwrap();
    assert_eq!(m.captures[0].id, "c1");
    assert_eq!(m.captures[0].hand, Hand::Left);
    assert_eq!(
        m.captures[0].visible.as_deref(),
        Some(Path::new("/base/a.png"))
    );
}

#[test]
fn from_path_resolves_against_the_manifest_folder() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.csv");
    std::fs::write(
        &p,
        "capture,subject,hand,kind,visible\nc,s,left,roi,x/y.png\n",
    )
    .unwrap();
    let m = Manifest::from_path(&p).unwrap();
    assert_eq!(m.captures[0].visible, Some(dir.path().join("x/y.png")));
    let e = Manifest::from_path(&dir.path().join("missing.csv")).unwrap_err();
    assert!(matches!(e, ManifestError::Io { .. }), "{e}");
}

#[test]
fn missing_required_column() {
    for (col, text) in [
        ("capture", "subject,hand,kind,nir\n"),
        ("subject", "capture,hand,kind,nir\n"),
        ("hand", "capture,subject,kind,nir\n"),
        ("kind", "# c\ncapture,subject,hand,nir\n"),
    ] {
        match parse(text) {
            Err(ManifestError::MissingColumn { column, line }) => {
                assert_eq!(column, col);
                assert_eq!(line, if col == "kind" { 2 } else { 1 });
            }
            other => panic!("{col}: {other:?}"),
        }
    }
}

#[test]
fn duplicate_column() {
    let e = parse("capture,subject,hand,kind,nir,NIR\n").unwrap_err();
    assert!(
        matches!(e, ManifestError::DuplicateColumn { ref column, line: 1 } if column == "nir"),
        "{e}"
    );
}

#[test]
fn duplicate_capture_id() {
    let e = parse("capture,subject,hand,kind,nir\na,s,left,roi,1.png\nb,s,left,roi,2.png\na,s,left,roi,3.png\n")
        .unwrap_err();
    match e {
        ManifestError::DuplicateCapture {
            line,
            capture,
            first_line,
        } => {
            assert_eq!((line, first_line, capture.as_str()), (4, 2, "a"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_hand_and_kind_values() {
    let e = parse("capture,subject,hand,kind,nir\na,s,L,roi,1.png\n").unwrap_err();
    assert!(
        matches!(e, ManifestError::BadValue { column: "hand", line: 2, ref value, .. } if value == "L"),
        "{e}"
    );
    let e = parse("capture,subject,hand,kind,nir\na,s,left,palm,1.png\n").unwrap_err();
    assert!(
        matches!(
            e,
            ManifestError::BadValue {
                column: "kind",
                line: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn row_without_any_image() {
    let e = parse("capture,subject,hand,kind,visible,nir\na,s,left,roi,,\n").unwrap_err();
    assert!(matches!(e, ManifestError::NoImage { line: 2, .. }), "{e}");
    let e = parse("capture,subject,hand,kind\na,s,left,roi\n").unwrap_err();
    assert!(matches!(e, ManifestError::NoImage { line: 2, .. }), "{e}");
}

#[test]
fn empty_required_fields() {
    let e = parse("capture,subject,hand,kind,nir\na,,left,roi,1.png\n").unwrap_err();
    assert!(
        matches!(
            e,
            ManifestError::EmptyField {
                column: "subject",
                line: 2
            }
        ),
        "{e}"
    );
    let e = parse("capture,subject,hand,kind,nir\n ,s,left,roi,1.png\n").unwrap_err();
    assert!(
        matches!(
            e,
            ManifestError::EmptyField {
                column: "capture",
                line: 2
            }
        ),
        "{e}"
    );
    let e = parse("capture,subject,hand,kind,nir\na,s,,roi,1.png\n").unwrap_err();
    assert!(
        matches!(
            e,
            ManifestError::EmptyField {
                column: "hand",
                line: 2
            }
        ),
        "{e}"
    );
}

#[test]
fn mixed_unknown_and_known_hands_of_one_subject() {
    let e = parse("capture,subject,hand,kind,nir\na,s,left,roi,1.png\nb,s,unknown,roi,2.png\n")
        .unwrap_err();
    assert!(
        matches!(
            e,
            ManifestError::MixedHands {
                line: 3,
                first_line: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn malformed_csv_wrong_field_count() {
    let e = parse("capture,subject,hand,kind,nir\na,s,left,roi,1.png\nb,s,left\n").unwrap_err();
    assert!(matches!(e, ManifestError::Csv { line: 3, .. }), "{e}");
}

#[test]
fn not_utf8() {
    let e = Manifest::parse(
        b"capture,subject,hand,kind,nir\na,s\xff,left,roi,1.png\n",
        Path::new(""),
    )
    .unwrap_err();
    assert!(matches!(e, ManifestError::Csv { line: 2, .. }), "{e}");
}

#[test]
fn empty_and_header_only() {
    assert!(matches!(parse(""), Err(ManifestError::NoHeader)));
    assert!(matches!(
        parse("# only a comment\n"),
        Err(ManifestError::NoHeader)
    ));
    assert!(matches!(
        parse("capture,subject,hand,kind,nir\n"),
        Err(ManifestError::NoRows)
    ));
}

#[test]
fn escape_token_makes_single_tokens() {
    assert_eq!(escape_token("s001"), "s001");
    assert_eq!(escape_token("a b/c%d\te"), "a%20b%2Fc%25d%09e");
    assert_eq!(escape_token("é"), "%C3%A9");
}

#[test]
fn session_order_is_numeric_aware() {
    use std::cmp::Ordering::*;
    assert_eq!(session_cmp("2", "10"), Less);
    assert_eq!(session_cmp("s2", "s10"), Less);
    assert_eq!(session_cmp("s10", "s9"), Greater);
    assert_eq!(session_cmp("", "1"), Less);
    assert_eq!(session_cmp("a", "b"), Less);
    assert_eq!(session_cmp("01", "1"), Less, "total order on numeric ties");
    assert_eq!(session_cmp("1", "1"), Equal);
    assert_eq!(session_cmp("2024-01-9", "2024-01-10"), Less);
    let mut v = vec!["10", "9", "1", "100", "2"];
    v.sort_by(|a, b| session_cmp(a, b));
    assert_eq!(v, ["1", "2", "9", "10", "100"]);
    let _ = PathBuf::new();
}

#[test]
fn quoted_fields_with_commas_and_line_breaks_keep_line_numbers() {
    let m = parse(
        "capture,subject,hand,kind,visible\r\n\"c,1\",\"multi\nline\",left,roi,\"a,b.png\"\r\n\r\n# c\r\nc2,s,left,roi,x.png\r\n",
    )
    .unwrap();
    assert_eq!(m.captures[0].id, "c,1");
    assert_eq!(m.captures[0].subject, "multi\nline");
    assert_eq!(
        m.captures[0].visible.as_deref(),
        Some(Path::new("/base/a,b.png"))
    );
    assert_eq!(m.captures[1].line, 6);
    assert_eq!(m.classes[0].name(), "multi%0Aline/left");
}
